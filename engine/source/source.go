// Package source fetches specs from Git (go-git only inside this package):
// clone and fetch over https, ssh and file paths, follow a branch or pin a
// tag or commit, verify commit signatures, and serve a revision's tree as an
// fs.FS. Start at Source.Fetch.
package source

import (
	"fmt"
	"io/fs"
	"time"
)

// Spec says where specs come from and how to trust them.
type Spec struct {
	// URL is https://..., ssh://user@host:port/path, user@host:path, a
	// file:// URL or a plain directory path of a repository.
	URL string
	// Ref is a branch (followed), a tag, or a full or abbreviated commit
	// hash (pinned). Default: the remote's HEAD branch.
	Ref string
	// Path is the sub-directory of the repository that is the spec root.
	Path string
	// CacheDir keeps the local clone, so restarts fetch instead of clone.
	CacheDir string
	Auth     Auth
	// RequireSigned refuses a revision whose head commit is not signed by
	// one of the trusted keys.
	RequireSigned bool
	// TrustedPGPKeys are armored OpenPGP public keys.
	TrustedPGPKeys []string
	// TrustedSSHKeys are SSH public keys (authorized_keys format) trusted
	// for SSH-signed commits.
	TrustedSSHKeys []string
}

// Auth holds credentials. They never appear in logs or errors.
type Auth struct {
	Token    string // https: sent as a bearer/basic token
	Username string // https basic auth, or the ssh user
	Password string
	// SSHKeyFile is a private key for ssh URLs; UseAgent uses $SSH_AUTH_SOCK.
	SSHKeyFile string
	UseAgent   bool
	// KnownHosts is the known_hosts file ssh host keys are checked against.
	KnownHosts string
}

// Revision is one commit the source resolved.
type Revision struct {
	Ref     string // the ref followed or pinned, e.g. "main", "v1.2.0"
	Hash    string // full hex commit hash
	Author  string // "Name <email>"
	Date    time.Time
	Message string
	// Signed is true when the commit carries a signature; SignedBy names
	// the trusted key that verified it ("" when none did).
	Signed   bool
	SignedBy string
}

// String prints the revision as main@sha1:<hex>.
func (r Revision) String() string { return r.Ref + "@sha1:" + r.Hash }

// Snapshot is the spec tree of one revision.
type Snapshot struct {
	Revision Revision
	// FS is rooted at Spec.Path inside the revision's tree.
	FS fs.FS
}

// SignatureError says why a revision is not trusted. The agent waits for a
// new commit rather than retrying.
type SignatureError struct {
	Revision Revision
	Reason   string // "unsigned", "signed by an unknown key", ...
}

func (e *SignatureError) Error() string {
	return fmt.Sprintf("revision %s is not trusted: %s", e.Revision, e.Reason)
}
