package resources

// Action is what a Change does to a resource. It prints as Terraform's
// symbols: "+" create, "~" update, "-" delete.
type Action int

// The actions of a Change; NoOp is the zero value: nothing to do.
const (
	NoOp Action = iota
	Create
	Update
	Delete
)

// Symbol returns the one-character plan symbol of a.
func (a Action) Symbol() string {
	switch a {
	case Create:
		return "+"
	case Update:
		return "~"
	case Delete:
		return "-"
	}
	return " "
}

// String returns the action's name as plans in JSON spell it: "no-op",
// "create", "update" or "delete".
func (a Action) String() string {
	switch a {
	case Create:
		return "create"
	case Update:
		return "update"
	case Delete:
		return "delete"
	}
	return "no-op"
}

// Change is the difference between a resource's desired and observed state.
// It is what plans print and what Apply carries out.
type Change struct {
	Addr   Addr
	Action Action
	// Attrs lists the attributes that differ (for Create: every attribute
	// that is set), in a fixed order.
	Attrs []AttrChange
	// Path is the path a path kind (file, directory, symlink) manages, so
	// that later steps can tell what a change touched; "" for other kinds.
	Path string
	// Content is set when a file's content differs.
	Content *ContentChange
	// Reason says why a kind decided as it did when the decision is not an
	// attribute difference, also for NoOp: an exec's guard ("creates
	// /srv/done exists"), a refresh_only exec ("runs only when notified").
	// Plans show it next to the resource; "" for most changes.
	Reason string
	// Headline, when set, follows the address on the resource's plan line:
	// a release prints "~ release[shop]: v1.2.0 -> v1.3.0".
	Headline string
	// Steps say, in order, what Apply will run on the host for this change
	// when that is more than setting the attributes: a release's upload,
	// unpack, before_switch commands, switch, restart and health check.
	// Plans list them under the resource.
	Steps []string
}

// AttrChange is one attribute's before and after as plain strings (renderers
// quote them). Before is "" for a created resource, After "" for a deleted one.
type AttrChange struct {
	Name      string
	Before    string
	After     string
	Sensitive bool // both values are redacted when printed
}

// ContentChange describes a file's content change. Before is filled in by the
// engine's content fetch (a second, batched remote execution) only when the
// plan is to show a diff: not for sensitive or binary files, nor for files
// larger than the fetch limit.
type ContentChange struct {
	Path       string
	BeforeSize int64 // -1: the file does not exist
	AfterSize  int64
	BeforeHash string // hex sha256, "" when absent
	AfterHash  string
	After      []byte
	Before     []byte
	// BeforeKnown is true once Before holds the host's content.
	BeforeKnown bool
	Sensitive   bool
	// Binary is true when either side is not valid UTF-8 text or holds NUL.
	Binary bool
}

// Changed reports whether c changes anything.
func (c *Change) Changed() bool { return c != nil && c.Action != NoOp }
