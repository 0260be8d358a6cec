package source

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/go-git/go-git/v5/storage/memory"
	"go.uber.org/zap"
)

// remoteName is the remote the cache fetches from.
const remoteName = "origin"

// hexRef matches what may be an abbreviated or full commit hash.
var hexRef = regexp.MustCompile(`^[0-9a-fA-F]{4,40}$`)

// scpURL matches the scp-like ssh form user@host:path.
var scpURL = regexp.MustCompile(`^(?:([^@/]+)@)?([^:/]+):(.*)$`)

// Source is one Git repository that specs come from. It is safe for
// concurrent use; fetches are serialised.
type Source struct {
	spec Spec
	url  string // the URL go-git is given (plain paths made absolute)
	kind string // "file", "http" or "ssh"
	log  *zap.Logger

	mu     sync.Mutex
	repo   *git.Repository
	head   Revision
	hasRev bool
	// clones counts how often Fetch made the cache from nothing (tests).
	clones int
}

// New checks spec and returns a Source for it. Nothing is contacted yet.
func New(spec Spec, log *zap.Logger) (*Source, error) {
	if log == nil {
		log = zap.NewNop()
	}
	s := &Source{spec: spec, log: log}
	u := strings.TrimSpace(spec.URL)
	if u == "" {
		return nil, errors.New("source: no repository URL")
	}
	switch {
	case strings.HasPrefix(u, "file://"):
		s.kind, s.url = "file", u
	case strings.HasPrefix(u, "https://"), strings.HasPrefix(u, "http://"):
		pu, err := url.Parse(u)
		if err != nil || pu.Host == "" {
			return nil, s.errorf("source: bad URL "+u, err)
		}
		s.kind, s.url = "http", u
	case strings.HasPrefix(u, "ssh://"):
		pu, err := url.Parse(u)
		if err != nil || pu.Host == "" || pu.Path == "" {
			return nil, s.errorf("source: bad URL "+u, err)
		}
		s.kind, s.url = "ssh", u
	case strings.Contains(u, "://"):
		return nil, s.errorf(fmt.Sprintf("source: unsupported URL scheme in %s (use https, ssh, file or a path)", u), nil)
	case scpURL.MatchString(u) && !strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "."):
		s.kind, s.url = "ssh", u
	default:
		abs, err := filepath.Abs(u)
		if err != nil {
			return nil, fmt.Errorf("source: repository path %s: %w", u, err)
		}
		s.kind, s.url = "file", abs
	}
	if p := spec.Path; p != "" && p != "." {
		clean := path.Clean(strings.Trim(p, "/"))
		if !fsValid(clean) {
			return nil, fmt.Errorf("source: path %q is not a relative path inside the repository", p)
		}
	}
	if spec.RequireSigned && len(spec.TrustedPGPKeys)+len(spec.TrustedSSHKeys) == 0 {
		return nil, errors.New("source: signed commits are required but no key is trusted")
	}
	if _, err := s.sshKeys(); err != nil {
		return nil, err
	}
	return s, nil
}

// fsValid reports whether p is a valid relative fs path, ".." not allowed.
func fsValid(p string) bool {
	return p != "" && !strings.HasPrefix(p, "..") && !path.IsAbs(p)
}

// Head returns the revision of the last successful Fetch.
func (s *Source) Head() (Revision, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.head, s.hasRev
}

// Fetch brings the cache up to date with the remote, resolves Spec.Ref,
// verifies the signature when required, and returns the spec tree. A remote
// that cannot be reached gives an error wrapping ErrUnreachable; Head and
// At keep working from the cache.
func (s *Source) Fetch(ctx context.Context) (*Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.open(); err != nil {
		return nil, err
	}
	// A pinned commit already in the cache needs no network.
	if hexRef.MatchString(s.spec.Ref) {
		if c, err := s.commitByHash(s.spec.Ref); err == nil {
			return s.snapshot(c, s.spec.Ref, true)
		}
	}
	refName, err := s.update(ctx)
	if err != nil {
		return nil, err
	}
	c, label, err := s.resolve(refName)
	if err != nil {
		return nil, err
	}
	return s.snapshot(c, label, true)
}

// At returns the spec tree of a past revision (full or abbreviated hash),
// from the cache, fetching once when it is not there.
func (s *Source) At(ctx context.Context, hash string) (*Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !hexRef.MatchString(hash) {
		return nil, fmt.Errorf("source: %q is not a commit hash", hash)
	}
	if err := s.open(); err != nil {
		return nil, err
	}
	c, err := s.commitByHash(hash)
	if err != nil {
		if _, ferr := s.update(ctx); ferr != nil {
			return nil, s.errorf("source: commit "+hash+" is not in the cache, and fetching failed", ferr, unwrapKinds(ferr)...)
		}
		if c, err = s.commitByHash(hash); err != nil {
			return nil, s.errorf("source: commit "+hash+" of "+s.url, err)
		}
	}
	label := hash
	if s.hasRev {
		label = s.head.Ref
	}
	return s.snapshot(c, label, false)
}

func unwrapKinds(err error) []error {
	var out []error
	for _, k := range []error{ErrUnreachable, ErrAuth} {
		if errors.Is(err, k) {
			out = append(out, k)
		}
	}
	return out
}

// open opens the cache, making it when missing. With no CacheDir the
// repository is kept in memory for the Source's lifetime.
func (s *Source) open() error {
	if s.repo != nil {
		return nil
	}
	var (
		repo *git.Repository
		err  error
	)
	if s.spec.CacheDir == "" {
		repo, err = git.Init(memory.NewStorage(), nil)
		s.clones++
	} else {
		repo, err = git.PlainOpen(s.spec.CacheDir)
		if errors.Is(err, git.ErrRepositoryNotExists) {
			if err = os.MkdirAll(s.spec.CacheDir, 0o700); err == nil {
				repo, err = git.PlainInit(s.spec.CacheDir, true)
				s.clones++
				s.log.Info("source: new cache", zap.String("dir", s.spec.CacheDir), zap.String("url", s.redact(s.url)))
			}
		}
	}
	if err != nil {
		return s.errorf("source: open cache "+s.spec.CacheDir, err)
	}
	// The remote follows the spec, even when the cache was made for
	// another URL.
	want := &config.RemoteConfig{
		Name: remoteName,
		URLs: []string{s.url},
		Fetch: []config.RefSpec{
			"+refs/heads/*:refs/remotes/" + remoteName + "/*",
			"+refs/tags/*:refs/tags/*",
		},
	}
	if r, err := repo.Remote(remoteName); err == nil {
		if len(r.Config().URLs) == 1 && r.Config().URLs[0] == s.url {
			s.repo = repo
			return nil
		}
		if err := repo.DeleteRemote(remoteName); err != nil {
			return s.errorf("source: reset remote of cache "+s.spec.CacheDir, err)
		}
	}
	if _, err := repo.CreateRemote(want); err != nil {
		return s.errorf("source: set remote of cache "+s.spec.CacheDir, err)
	}
	s.repo = repo
	return nil
}

// update fetches every branch and tag. It returns the ref to resolve: the
// spec's, or the remote's HEAD branch when the spec names none.
func (s *Source) update(ctx context.Context) (string, error) {
	auth, err := s.auth()
	if err != nil {
		return "", err
	}
	remote, err := s.repo.Remote(remoteName)
	if err != nil {
		return "", s.errorf("source: remote of cache", err)
	}
	ref := s.spec.Ref
	if ref == "" {
		refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: auth})
		if err != nil {
			return "", s.remoteError(err)
		}
		ref = remoteHead(refs)
		if ref == "" {
			return "", s.errorf("source: "+s.url+" has no HEAD branch: set a ref", nil)
		}
	}
	err = remote.FetchContext(ctx, &git.FetchOptions{Auth: auth, Tags: git.NoTags, Force: true, Prune: true})
	switch {
	case err == nil:
		s.log.Info("source: fetched", zap.String("url", s.redact(s.url)))
	case errors.Is(err, git.NoErrAlreadyUpToDate):
		s.log.Debug("source: up to date", zap.String("url", s.redact(s.url)))
	default:
		return "", s.remoteError(err)
	}
	return ref, nil
}

// remoteHead finds the branch the remote's HEAD names.
func remoteHead(refs []*plumbing.Reference) string {
	var head *plumbing.Reference
	for _, r := range refs {
		if r.Name() == plumbing.HEAD {
			head = r
		}
	}
	if head == nil {
		return ""
	}
	if head.Type() == plumbing.SymbolicReference {
		return head.Target().Short()
	}
	// No symref capability: the branch pointing at the same commit, main
	// and master first.
	var match []string
	for _, r := range refs {
		if r.Name().IsBranch() && r.Hash() == head.Hash() {
			match = append(match, r.Name().Short())
		}
	}
	for _, pref := range []string{"main", "master"} {
		for _, m := range match {
			if m == pref {
				return m
			}
		}
	}
	if len(match) > 0 {
		return match[0]
	}
	return ""
}

// remoteError classifies an error of talking to the remote.
func (s *Source) remoteError(err error) error {
	prefix := "source: fetch " + s.url
	if errors.Is(err, transport.ErrAuthenticationRequired) || errors.Is(err, transport.ErrAuthorizationFailed) ||
		strings.Contains(err.Error(), "unable to authenticate") {
		return s.errorf(prefix, err, ErrAuth)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return s.errorf(prefix, err, err)
	}
	return s.errorf(prefix, err, ErrUnreachable)
}

// resolve finds the commit ref names: a branch (the remote's), a tag, or a
// commit hash. It returns the commit and the label of the revision.
func (s *Source) resolve(ref string) (*object.Commit, string, error) {
	name := ref
	switch {
	case strings.HasPrefix(ref, "refs/heads/"):
		name = strings.TrimPrefix(ref, "refs/heads/")
	case strings.HasPrefix(ref, "refs/tags/"):
		name = strings.TrimPrefix(ref, "refs/tags/")
	}
	candidates := []plumbing.ReferenceName{
		plumbing.NewRemoteReferenceName(remoteName, name),
		plumbing.NewTagReferenceName(name),
	}
	if strings.HasPrefix(ref, "refs/tags/") {
		candidates = candidates[1:]
	}
	for _, rn := range candidates {
		r, err := s.repo.Reference(rn, true)
		if err != nil {
			continue
		}
		c, err := s.peel(r.Hash())
		if err != nil {
			return nil, "", s.errorf("source: ref "+ref+" of "+s.url, err)
		}
		return c, name, nil
	}
	if hexRef.MatchString(ref) {
		c, err := s.commitByHash(ref)
		if err != nil {
			return nil, "", s.errorf("source: commit "+ref+" of "+s.url, err)
		}
		return c, ref, nil
	}
	return nil, "", s.errorf(fmt.Sprintf("source: %s has no branch, tag or commit %q", s.url, ref), nil)
}

// peel follows annotated tags to their commit.
func (s *Source) peel(h plumbing.Hash) (*object.Commit, error) {
	for range 10 {
		if c, err := s.repo.CommitObject(h); err == nil {
			return c, nil
		}
		t, err := s.repo.TagObject(h)
		if err != nil {
			return nil, fmt.Errorf("object %s is neither a commit nor a tag", h)
		}
		h = t.Target
	}
	return nil, fmt.Errorf("tag chain at %s is too long", h)
}

// commitByHash finds a commit by its full or abbreviated hash, refusing an
// ambiguous abbreviation.
func (s *Source) commitByHash(hash string) (*object.Commit, error) {
	hash = strings.ToLower(hash)
	if len(hash) == 40 {
		return s.repo.CommitObject(plumbing.NewHash(hash))
	}
	iter, err := s.repo.CommitObjects()
	if err != nil {
		return nil, err
	}
	var found *object.Commit
	n := 0
	err = iter.ForEach(func(c *object.Commit) error {
		if strings.HasPrefix(c.Hash.String(), hash) {
			found = c
			n++
		}
		return nil
	})
	switch {
	case err != nil:
		return nil, err
	case n == 0:
		return nil, plumbing.ErrObjectNotFound
	case n > 1:
		return nil, fmt.Errorf("abbreviated hash %s is ambiguous", hash)
	}
	return found, nil
}

// snapshot verifies c when signatures are required and serves its tree at
// Spec.Path. When head is true it becomes the Source's Head.
func (s *Source) snapshot(c *object.Commit, label string, head bool) (*Snapshot, error) {
	rev := Revision{
		Ref:     label,
		Hash:    c.Hash.String(),
		Author:  fmt.Sprintf("%s <%s>", c.Author.Name, c.Author.Email),
		Date:    c.Author.When,
		Message: c.Message,
		Signed:  c.PGPSignature != "",
	}
	if s.spec.RequireSigned || c.PGPSignature != "" {
		by, reason := s.verify(c)
		rev.SignedBy = by
		if s.spec.RequireSigned && by == "" {
			s.log.Warn("source: revision refused", zap.String("revision", rev.String()), zap.String("reason", reason))
			return nil, &SignatureError{Revision: rev, Reason: reason}
		}
	}
	tree, err := c.Tree()
	if err != nil {
		return nil, s.errorf("source: tree of "+rev.String(), err)
	}
	if p := strings.Trim(s.spec.Path, "/"); p != "" && p != "." {
		p = path.Clean(p)
		tree, err = tree.Tree(p)
		if err != nil {
			return nil, s.errorf(fmt.Sprintf("source: %s has no directory %s", rev, p), err)
		}
	}
	if head {
		s.head, s.hasRev = rev, true
	}
	return &Snapshot{Revision: rev, FS: &treeFS{root: tree, mtime: c.Committer.When}}, nil
}

// auth returns the transport credentials for the URL's kind.
func (s *Source) auth() (transport.AuthMethod, error) {
	a := s.spec.Auth
	switch s.kind {
	case "http":
		switch {
		case a.Token != "":
			user := a.Username
			if user == "" {
				user = "x-access-token"
			}
			return &githttp.BasicAuth{Username: user, Password: a.Token}, nil
		case a.Username != "" || a.Password != "":
			return &githttp.BasicAuth{Username: a.Username, Password: a.Password}, nil
		}
		return nil, nil
	case "ssh":
		return s.sshAuth()
	}
	return nil, nil
}

// sshUser is the user of an ssh URL, else Auth.Username, else "git".
func (s *Source) sshUser() (user, hostPort string) {
	user, host, port := "", "", "22"
	if strings.HasPrefix(s.url, "ssh://") {
		if u, err := url.Parse(s.url); err == nil {
			user, host = u.User.Username(), u.Hostname()
			if u.Port() != "" {
				port = u.Port()
			}
		}
	} else if m := scpURL.FindStringSubmatch(s.url); m != nil {
		user, host = m[1], m[2]
	}
	if user == "" {
		user = s.spec.Auth.Username
	}
	if user == "" {
		user = "git"
	}
	return user, net.JoinHostPort(host, port)
}

// sshAuth builds the ssh credentials with host keys checked against the
// known_hosts file, host key algorithms included (go-git leaves them empty
// when given a callback, and a server with several keys then fails).
func (s *Source) sshAuth() (transport.AuthMethod, error) {
	a := s.spec.Auth
	user, hostPort := s.sshUser()
	var files []string
	if a.KnownHosts != "" {
		files = []string{a.KnownHosts}
	}
	db, err := gitssh.NewKnownHostsDb(files...)
	if err != nil {
		return nil, s.errorf("source: known_hosts", err)
	}
	helper := gitssh.HostKeyCallbackHelper{
		HostKeyCallback:   db.HostKeyCallback(),
		HostKeyAlgorithms: db.HostKeyAlgorithms(hostPort),
	}
	if a.SSHKeyFile != "" && !a.UseAgent {
		keys, err := gitssh.NewPublicKeysFromFile(user, a.SSHKeyFile, a.Password)
		if err != nil {
			return nil, s.errorf("source: ssh key "+a.SSHKeyFile, err)
		}
		keys.HostKeyCallbackHelper = helper
		return keys, nil
	}
	ag, err := gitssh.NewSSHAgentAuth(user)
	if err != nil {
		return nil, s.errorf("source: ssh agent", err)
	}
	ag.HostKeyCallbackHelper = helper
	return ag, nil
}
