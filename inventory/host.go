package inventory

import (
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Host is one machine of the inventory with its settings merged in order of
// precedence: defaults < groups (in the host's group order, parents before
// children) < host.
type Host struct {
	Name string
	// Address is what the transport dials; it defaults to Name.
	Address string
	Port    int    // default 22
	User    string // default: the user running tend
	// IdentityFiles are private key files tried in order; "~" is expanded.
	IdentityFiles []string
	// UseAgent lets the SSH transport use the keys of $SSH_AUTH_SOCK.
	UseAgent bool
	// KnownHosts is the known_hosts file host keys are checked against
	// (default ~/.ssh/known_hosts).
	KnownHosts string
	// Become runs commands through `sudo -n -u BecomeUser`.
	Become     bool
	BecomeUser string // default root
	// Jump is the bastion to connect through, or nil.
	Jump           *Jump
	ConnectTimeout time.Duration // default 10s

	// Groups lists every group the host is in, ancestors included, in
	// precedence order (lowest first).
	Groups []string
	// Vars is an object of the host's merged variables.
	Vars cty.Value
	// VarFiles are the files of spec variable values (vars_files) that
	// apply to the host: absolute, cleaned paths in precedence order,
	// lowest first: the defaults' files, then each group's in the host's
	// group precedence order (Groups), then the host's own. A file listed
	// at several levels appears once, at its highest position. The files
	// exist when the inventory is loaded but are not parsed: their values
	// are typed by the spec's variable declarations. For an inventory read
	// with LoadFS, they are slash-separated paths in that file system.
	VarFiles []string

	// DeclRange is where the host block is; diagnostics about a host point
	// there.
	DeclRange hcl.Range
}

// Jump is a bastion host: the SSH transport connects to it first and tunnels
// the connection to the target through it.
type Jump struct {
	// Address and Port are what the transport dials first.
	Address string
	Port    int
	// User logs in to the bastion; for a jump written as user@address:port
	// without a user it is the target host's user.
	User string
	// IdentityFiles, UseAgent and KnownHosts authenticate the bastion: the
	// settings of the bastion's own host block when the jump names a host
	// of the inventory, the target host's otherwise.
	IdentityFiles []string
	UseAgent      bool
	KnownHosts    string
}

// InGroup reports whether h is a member of group, directly or through a
// child group.
func (h *Host) InGroup(group string) bool {
	for _, g := range h.Groups {
		if g == group {
			return true
		}
	}
	return false
}
