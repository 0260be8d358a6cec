package resources

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/hashicorp/hcl/v2"

	"github.com/tendhq/tend/inventory"
)

func init() {
	Register(&Kind{
		Name: "file",
		Attributes: []hcl.AttributeSchema{
			{Name: "path"},
			{Name: "content"},
			{Name: "source"},
			{Name: "mode"},
			{Name: "owner"},
			{Name: "group"},
			{Name: "state"},
			{Name: "sensitive"},
		},
		Text: []string{"content"},
		New:  newFile,
	})
}

// File manages a regular file: its content (given inline, from a template,
// or from a file of the repository), mode and ownership; or its absence.
type File struct {
	addr    Addr
	name    string
	path    string
	present bool
	// content is nil when the content is not managed: a missing file is
	// created empty and an existing one keeps its bytes. It is never
	// modified (it may share the memory of a string or a source file).
	// text, when set, makes the content on demand instead (Attr.Text),
	// and content is empty: use data.
	content []byte
	text    Text
	// sum is the hex sha256 of the content, as the probe reports it; ""
	// when the content is not managed.
	sum       string
	sensitive bool
	perms     perms
}

var _ Resource = (*File)(nil)

const defaultFileMode fs.FileMode = 0o644

func newFile(b *Block) (Resource, hcl.Diagnostics) {
	d := &decoder{b: b}
	f := &File{addr: b.Addr, name: b.Name}
	f.path = d.path()
	f.present = d.state()
	f.perms.decode(d)
	f.sensitive = d.boolean("sensitive", false) || d.sensitive("content") || d.sensitive("source")
	switch {
	case d.has("content") && d.has("source"):
		d.errorf(d.rangeOf("source"), "Conflicting attributes",
			"A file takes content or source, not both.")
	case d.has("content") && b.Attrs["content"].Text != nil:
		// Made on demand: hashed now, in a buffer that is reused.
		f.text, f.content = b.Attrs["content"].Text, []byte{}
		buf := textBuffers.Get().(*[]byte)
		*buf = f.text.AppendText((*buf)[:0])
		f.sum = HashOf(*buf)
		textBuffers.Put(buf)
	case d.has("content"):
		// Never nil, even when empty: nil means "content unmanaged".
		f.content = readOnlyBytes(d.str("content", ""))
	case d.has("source"):
		src := d.str("source", "")
		p := path.Join(b.Dir, src)
		if b.Files == nil {
			d.errorf(d.rangeOf("source"), "Cannot read source",
				"The source %q cannot be read: the block has no spec files to read it from.", src)
			break
		}
		if !fs.ValidPath(p) || path.IsAbs(src) {
			d.errorf(d.rangeOf("source"), "Invalid source",
				"The source %q must be a relative path inside the spec directory.", src)
			break
		}
		data, sum, err := readSource(b.Files, p)
		if err != nil {
			d.errorf(d.rangeOf("source"), "Cannot read source",
				"The source file %q cannot be read: %v.", src, err)
			break
		}
		f.content, f.sum = data, sum // shared: never modified
	}
	if !f.present {
		// Point at each attribute that makes no sense for an absent file.
		for _, a := range []string{"content", "source", "mode", "owner", "group"} {
			if d.has(a) {
				d.errorf(d.rangeOf(a), "Conflicting attributes",
					"A file with state = \"absent\" takes no %s.", a)
			}
		}
	}
	if f.content != nil && f.sum == "" {
		f.sum = HashOf(f.content)
	}
	return f, d.diags
}

// Addr returns file[name].
func (f *File) Addr() Addr { return f.addr }

// Path returns the managed path.
func (f *File) Path() string { return f.path }

// Present reports whether the file should exist.
func (f *File) Present() bool { return f.present }

// data returns the content the file should have: nil when it is not
// managed, made now when it is made on demand.
func (f *File) data() []byte {
	if f.text != nil {
		return f.text.AppendText(nil)
	}
	return f.content
}

// textBuffers are the buffers newFile hashes a Text in.
var textBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// ContentSHA256 returns the hex sha256 of the content the file should
// have, as the probe reports a file's hash; "" when the content is not
// managed or the file should be absent.
func (f *File) ContentSHA256() string {
	if !f.present {
		return ""
	}
	return f.sum
}

// Observe asks for the path's state and hash, and the ids of its accounts.
func (f *File) Observe(p *Probe) {
	p.Path(f.path, f.content != nil)
	f.perms.observe(p)
}

// Diff compares the desired file with the observed path.
func (f *File) Diff(o *Observed) (*Change, error) {
	c := &Change{Addr: f.Addr(), Path: f.path}
	s, err := o.Path(f.path)
	if err != nil {
		return nil, err
	}
	if !f.present {
		if !s.Exists {
			return c, nil
		}
		switch s.Type {
		case TypeDir:
			return nil, fmt.Errorf("%s is a directory, not a file: remove it with a directory resource", f.path)
		case TypeOther:
			// A FIFO, a socket or a device node is not what a file
			// resource manages: removing /dev/sda by mistake must not be
			// one plan away.
			return nil, fmt.Errorf("%s is a special file, not a file: it is left alone", f.path)
		}
		c.Action = Delete
		return c, nil
	}
	if !s.Exists {
		c.Action = Create
		c.Content = f.contentChange(s)
		c.Attrs = f.perms.created(defaultFileMode)
		return c, nil
	}
	switch s.Type {
	case TypeDir:
		return nil, fmt.Errorf("%s is a directory: it is not replaced by a file", f.path)
	case TypeOther:
		return nil, fmt.Errorf("%s is a special file: it is not replaced by a file", f.path)
	case TypeSymlink:
		c.Action = Update
		c.Attrs = append([]AttrChange{{Name: "type", Before: "symlink", After: "file"}}, f.perms.created(defaultFileMode)...)
		c.Content = f.contentChange(s)
		return c, nil
	}
	if f.content != nil && s.SHA256 != f.sum {
		c.Content = f.contentChange(s)
	}
	c.Attrs = f.perms.diff(s)
	if c.Content != nil || len(c.Attrs) > 0 {
		c.Action = Update
	}
	return c, nil
}

// readOnlyBytes returns the bytes of s without copying them (a rendered
// template is a string, and a plan of many hosts holds many of them), or
// an empty, non-nil slice for "". The bytes must never be modified: a
// File's content is only hashed, compared, shown and written.
func readOnlyBytes(s string) []byte {
	if s == "" {
		return []byte{}
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// HashOf returns the hex sha256 of b, as the probe reports it.
func HashOf(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func (f *File) contentChange(s *PathState) *ContentChange {
	content, sum := f.data(), f.sum
	if content == nil {
		content, sum = []byte{}, HashOf(nil)
	}
	cc := &ContentChange{
		Path:       f.path,
		BeforeSize: -1,
		AfterSize:  int64(len(content)),
		AfterHash:  sum,
		After:      content,
		Sensitive:  f.sensitive,
		Binary:     IsBinary(content),
	}
	if s.Exists && s.Type == TypeFile {
		cc.BeforeSize = s.Size
		cc.BeforeHash = s.SHA256
	} else {
		cc.BeforeKnown = true // nothing before: the diff is all additions
	}
	return cc
}

// IsBinary reports whether b is not text a diff can show.
func IsBinary(b []byte) bool {
	return bytes.IndexByte(b, 0) >= 0 || !utf8.Valid(b)
}

// Apply writes the file to a temporary file in the target directory, sets
// its mode and ownership, and renames it into place, so that a reader sees
// the old file or the new one, never half of one. Mode and ownership changes
// alone are made in place. A path below a symbolic link that neither root
// nor the user tend runs as owns is refused (checkParents).
func (f *File) Apply(ctx context.Context, t *Target, c *Change) error {
	// Never through a symlinked directory someone else controls.
	if err := checkParents(ctx, t, f.path); err != nil {
		return err
	}
	fsys, err := t.Transport.FS(ctx)
	if err != nil {
		return err
	}
	s, err := t.Observed.Path(f.path)
	if err != nil {
		return err
	}
	switch {
	case c.Action == Delete:
		if err := fsys.Remove(f.path); err != nil {
			return fmt.Errorf("remove %s: %w", f.path, err)
		}
		return nil
	case c.Content != nil:
		return f.write(ctx, t, fsys, s)
	default:
		return f.perms.fix(ctx, t, fsys, f.path, s)
	}
}

func (f *File) write(ctx context.Context, t *Target, fsys inventory.FileSystem, s *PathState) error {
	mode := defaultFileMode
	keepUID, keepGID := -1, -1
	if s.Exists && s.Type == TypeFile {
		// A new inode replaces the file: keep what is not managed.
		mode, keepUID, keepGID = modeBits(s.Mode), s.UID, s.GID
	}
	if f.perms.hasMode {
		mode = f.perms.mode
	}
	tmp := tempName(f.path)
	// A file others must not read is written inside a private directory
	// (0700) of the target directory and renamed out of it. The temporary
	// file is created 0600, but over SFTP the create carries no mode: the
	// server makes it with its umask (say 0644) and the mode is set right
	// after. Someone who opened the empty file in between could read what
	// is written next through that descriptor. Inside the private
	// directory nobody else can open it at all: lookups in it need a
	// permission others never have, whatever descriptor they hold on the
	// directory itself.
	private := ""
	if f.sensitive || mode&0o044 != 0o044 {
		private = tmp
		tmp = private + "/" + path.Base(f.path)
	}
	create := func() (io.WriteCloser, error) {
		if private != "" {
			if err := fsys.Mkdir(private, 0o700); err != nil {
				return nil, err
			}
		}
		return fsys.CreateExclusive(tmp, 0o600)
	}
	w, err := create()
	if errors.Is(err, fs.ErrNotExist) {
		// Missing parents are created, as a directory resource does.
		if err = mkdirAll(fsys, path.Dir(f.path)); err == nil {
			w, err = create()
		}
	}
	if err != nil {
		if private != "" {
			_ = fsys.RemoveAll(private)
		}
		return fmt.Errorf("write %s: %w", f.path, err)
	}
	content := f.data()
	if content == nil {
		content = []byte{}
	}
	_, werr := w.Write(content)
	if cerr := w.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = f.perms.chown(ctx, t, fsys, tmp, keepUID, keepGID)
	}
	if werr == nil {
		if err := fsys.Chmod(tmp, mode); err != nil {
			werr = fmt.Errorf("chmod %s: %w", tmp, err)
		}
	}
	if werr == nil {
		if err := fsys.Rename(tmp, f.path); err != nil {
			werr = fmt.Errorf("rename %s to %s: %w", tmp, f.path, err)
		}
	}
	if werr != nil {
		_ = fsys.Remove(tmp)
		if private != "" {
			_ = fsys.RemoveAll(private)
		}
		return fmt.Errorf("write %s: %w", f.path, werr)
	}
	if private != "" {
		// The file is in place; an empty directory left behind by a
		// failure here is harmless and hidden.
		if err := fsys.Remove(private); err != nil {
			return fmt.Errorf("write %s: remove %s: %w", f.path, private, err)
		}
	}
	return nil
}

// tempName returns a hidden, unique name in the directory of p.
func tempName(p string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	dir, base := path.Split(p)
	return dir + "." + base + ".tend-" + hex.EncodeToString(b[:])
}
