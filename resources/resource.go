package resources

import (
	"context"
	"fmt"
	"io/fs"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"go.uber.org/zap"

	"github.com/tendhq/tend/inventory"
)

// Addr names a resource in a host's graph. A single resource prints as
// kind[name], because names hold paths and dots: file[/etc/motd]. An
// instance of a for_each or count prints as kind.name[key]: file.vhost["shop"],
// file.web[0]. Inside a module the module path comes first:
// module.nginx.file[site], module.sites["a"].file.vhost["shop"].
type Addr struct {
	// Module is the module instance path, "" at the top level, e.g.
	// `module.nginx` or `module.sites["a"].module.tls`.
	Module string
	Kind   string
	Name   string
	// Key is the instance key as written in the address: a quoted string
	// for for_each (`"shop"`), a number for count (`3`), "" for neither.
	Key string
}

// String returns the address as plans print it.
func (a Addr) String() string {
	var buf [96]byte
	return string(a.AppendTo(buf[:0]))
}

// AppendTo appends the address as String returns it to b.
func (a Addr) AppendTo(b []byte) []byte {
	if a.Module != "" {
		b = append(append(b, a.Module...), '.')
	}
	b = append(b, a.Kind...)
	if a.Key != "" {
		b = append(append(append(b, '.'), a.Name...), '[')
		b = append(b, a.Key...)
	} else {
		b = append(append(b, '['), a.Name...)
	}
	return append(b, ']')
}

// Resource is one desired piece of a host's state. Its lifecycle in a run:
//
//  1. Observe is called once, before the host is contacted, to say what the
//     batched probe must look at. It must not do I/O.
//  2. Diff is called with the probe's reply. It is pure: no I/O, the same
//     inputs give the same Change. A query the probe could not answer is an
//     error, never "absent".
//  3. Apply is called only for a Change whose Action is not NoOp, after every
//     resource it depends on applied. It may change the host through t and
//     must leave the host either converged or as it was (atomic renames).
//  4. After apply the engine probes again and calls Diff: anything but NoOp
//     is reported as "did not converge".
type Resource interface {
	Addr() Addr
	Observe(p *Probe)
	Diff(o *Observed) (*Change, error)
	Apply(ctx context.Context, t *Target, c *Change) error
}

// Identified is a resource that manages one named thing of the host besides
// a path: a package, a unit, an account. Identity returns it with its kind
// of thing, e.g. "package nginx" or "user deploy"; two resources of one
// host with the same identity are an error naming both, whatever their
// labels. (Paths are compared through PathResource.)
type Identified interface {
	Resource
	Identity() string
}

// PathResource is a resource that manages one path: file, directory,
// symlink. The loader uses it to find two resources managing the same path
// and to order a path after the managed directory that holds it.
type PathResource interface {
	Resource
	Path() string
	// Present is false when the resource makes sure the path is absent.
	Present() bool
}

// Target is what Apply may use to change a host.
type Target struct {
	Host      *inventory.Host
	Transport inventory.Transport
	// Observed is the probe reply the Change was computed from.
	Observed *Observed
	Log      *zap.Logger
	// Once runs fn the first time it is called with key during this host's
	// apply, and returns that first call's error to every caller; callers
	// after the first wait for it. Kinds use it for per-host steps such as
	// `systemctl daemon-reload` or refreshing the apt cache. Nil in tests
	// that build a Target by hand: use RunOnce.
	Once func(key string, fn func() error) error
	// Applied reports the changes applied so far on this host in this run,
	// for steps that depend on them (a unit file under /etc/systemd changed:
	// reload systemd before touching services). Nil when unknown.
	Applied func() []*Change
}

// RunOnce calls t.Once when it is set, and fn directly otherwise.
func (t *Target) RunOnce(key string, fn func() error) error {
	if t.Once == nil {
		return fn()
	}
	return t.Once(key, fn)
}

// BatchResource is a resource whose changes on one host are applied
// together with those of every other resource of the same BatchKey, in one
// remote call: all package changes of a host become one package-manager
// invocation (install list, remove list), as Ansible's squashed loops do.
// The engine applies the batch once all dependencies of all its members
// applied; if the batch fails, every member failed.
type BatchResource interface {
	Resource
	// BatchKey names the batch, e.g. "package".
	BatchKey() string
	// ApplyBatch applies the changes of all members (rs[i] has cs[i]; only
	// members whose change is not NoOp are passed). It is called on one of
	// them. It returns one error per member (nil for success) or a single
	// error for all when the call as a whole failed.
	ApplyBatch(ctx context.Context, t *Target, rs []BatchResource, cs []*Change) ([]error, error)
}

// Notifiable is a resource that can be notified (by `notify` on another
// resource or `subscribe` on itself): a service restarts or reloads, a
// refresh_only exec runs. The engine calls Notify once per run, after all
// the notifiers applied, and only when one of them changed something on this
// host. how is the receiver's on_notify ("restart", "reload" or "run").
// Pending notifications are journaled on the host before the notifier
// applies, so that a run that fails in between still delivers them next time.
type Notifiable interface {
	Resource
	Notify(ctx context.Context, t *Target, how string) error
}

// Attr is one evaluated attribute of a resource block, with where it was
// written so that kinds can point at it in diagnostics.
type Attr struct {
	Value cty.Value // unmarked
	Range hcl.Range
	// Sensitive is true when the value came from a sensitive source
	// (a sensitive variable, a secret) or the block says sensitive = true.
	Sensitive bool
	// Text, when set, is the value of a string attribute the kind takes as
	// text made on demand (Kind.Text), and Value is cty.NilVal.
	Text Text
}

// Text is a string made on demand, such as a rendered template that the
// plan of a converged host never needs whole: only its hash. AppendText
// appends it to dst, the same bytes every time, and cannot fail. It is
// valid UTF-8 in Unicode normal form C, as every string value is.
type Text interface {
	AppendText(dst []byte) []byte
}

// Block is an evaluated resource block as a kind sees it.
type Block struct {
	// Addr is the address the resource reports; Kind and Name repeat its
	// kind and its block label.
	Addr       Addr
	Kind       string
	Name       string
	DeclRange  hcl.Range // the block header
	LabelRange hcl.Range
	Attrs      map[string]*Attr // only the attributes that were set
	// Files is the spec file system and Dir the directory in it of the file
	// the block is in; a file resource's source is read relative to Dir.
	// It may be a SharedFS.
	Files fs.FS
	Dir   string
	// Blocks are the nested blocks of the kinds that declare some (see
	// Kind.Blocks), in source order, dynamic blocks expanded.
	Blocks []*Nested
}

// SharedFS is a spec file system that gives every reader of a file the
// same bytes, read and hashed once: the blocks of thousands of hosts that
// copy one source file share it. ReadShared returns the bytes, which must
// not be modified, and their hex sha256 (HashOf).
type SharedFS interface {
	fs.FS
	ReadShared(name string) (data []byte, sum string, err error)
}

// readSource reads name from fsys, shared when fsys is a SharedFS (the
// caller must not modify the bytes), with the hex sha256 of its content.
func readSource(fsys fs.FS, name string) (data []byte, sum string, err error) {
	if s, ok := fsys.(SharedFS); ok {
		return s.ReadShared(name)
	}
	data, err = fs.ReadFile(fsys, name)
	if err != nil {
		return nil, "", err
	}
	return data, HashOf(data), nil
}

// Nested is one evaluated nested block of a resource block.
type Nested struct {
	Type      string
	Labels    []string
	DeclRange hcl.Range
	Attrs     map[string]*Attr // only the attributes that were set
}

// NestedSchema describes a nested block type a kind accepts. A nested block
// holds attributes only; a spec writes it literally or generates it with a
// dynamic block.
type NestedSchema struct {
	Type       string
	LabelNames []string
	Attributes []hcl.AttributeSchema
}

// Kind describes one resource kind: its schema and how to build a Resource
// from an evaluated block.
type Kind struct {
	Name string
	// Attributes lists the attributes the kind accepts (the meta-arguments
	// depends_on, for_each and count are handled by the loader and must not
	// be listed).
	Attributes []hcl.AttributeSchema
	// Blocks lists the nested block types the kind accepts; most kinds
	// have none.
	Blocks []NestedSchema
	// Links lists the attributes that name one other resource of the host
	// which this one drives, such as a release's service (restarted after
	// the switch). A link is a static reference (service.app), not an
	// evaluated value: the linked resource applies after this one, this
	// one after everything the linked one depends on, and the kind gets
	// it through Linker.Link once every resource of the host is built.
	Links []string
	// Text lists the string attributes that New also takes as a Text
	// (Attr.Text): the compiler may give one instead of a value when
	// nothing else reads the attribute.
	Text []string
	// New validates b and builds the resource. Diagnostics point at the
	// offending attribute's range. New must not keep b, its Attrs map or
	// its *Attr values (the values themselves may be kept): the compiler
	// reuses them for the next block.
	New func(b *Block) (Resource, hcl.Diagnostics)
}

var kinds = map[string]*Kind{}

// Register adds a kind to the registry; kinds register themselves in init.
func Register(k *Kind) {
	if _, dup := kinds[k.Name]; dup {
		panic(fmt.Sprintf("resource kind %q registered twice", k.Name))
	}
	kinds[k.Name] = k
}

// Lookup returns the kind called name, or nil.
func Lookup(name string) *Kind { return kinds[name] }

// Kinds returns the names of all kinds, sorted.
func Kinds() []string {
	names := make([]string, 0, len(kinds))
	for n := range kinds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Linker is a resource of a kind with Links. Link is called once per link
// attribute with the resource it names; an error (the wrong kind of
// resource, say) is reported at the attribute.
type Linker interface {
	Resource
	Link(attr string, target Resource) error
}

// Preparer is a resource with work to do on the control host before any
// host is contacted: a release fetches its artifact and checks its sha256.
// The engine calls Prepare for every Preparer of every host graph before it
// dials a host (each distinct resource once); when one fails, the run stops
// there and no host is touched. Prepare must be safe for concurrent use and
// cheap when called again (artifacts are cached).
type Preparer interface {
	Resource
	Prepare(ctx context.Context) error
}
