package source

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"path"
	"sort"
	"time"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// maxLinks bounds how many symlinks one lookup follows.
const maxLinks = 40

// treeFS serves a Git tree as a read-only fs.FS. Names are slash-separated
// and relative to the tree, whatever the operating system. Symlinks inside
// the tree are followed (one leaving the tree is an error); submodules are
// left out.
type treeFS struct {
	root  *object.Tree
	mtime time.Time // the commit's time, as every file's ModTime
}

var (
	_ fs.ReadFileFS = (*treeFS)(nil)
	_ fs.ReadDirFS  = (*treeFS)(nil)
	_ fs.StatFS     = (*treeFS)(nil)
)

// node is one resolved entry of the tree.
type node struct {
	name string
	mode filemode.FileMode
	tree *object.Tree // set for directories
	blob *object.Blob // set for files
}

// lookup resolves name (a valid fs path), following symlinks.
func (t *treeFS) lookup(op, name string) (*node, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	n, err := t.resolve(name, 0)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	return n, nil
}

// resolve walks name component by component from the root.
func (t *treeFS) resolve(name string, links int) (*node, error) {
	cur := &node{name: ".", mode: filemode.Dir, tree: t.root}
	if name == "." {
		return cur, nil
	}
	parts := splitPath(name)
	for i, p := range parts {
		if cur.tree == nil {
			return nil, fs.ErrNotExist
		}
		e, err := cur.tree.FindEntry(p)
		if err != nil {
			return nil, fs.ErrNotExist
		}
		switch e.Mode {
		case filemode.Dir:
			sub, err := cur.tree.Tree(p)
			if err != nil {
				return nil, err
			}
			cur = &node{name: p, mode: e.Mode, tree: sub}
		case filemode.Regular, filemode.Executable, filemode.Deprecated:
			f, err := cur.tree.TreeEntryFile(e)
			if err != nil {
				return nil, err
			}
			cur = &node{name: p, mode: e.Mode, blob: &f.Blob}
		case filemode.Symlink:
			if links >= maxLinks {
				return nil, errors.New("too many levels of symbolic links")
			}
			f, err := cur.tree.TreeEntryFile(e)
			if err != nil {
				return nil, err
			}
			target, err := readBlob(&f.Blob)
			if err != nil {
				return nil, err
			}
			dir := path.Join(parts[:i]...)
			joined := path.Join(dir, string(target))
			if path.IsAbs(string(target)) || !fs.ValidPath(joined) {
				return nil, fs.ErrNotExist // leaves the tree
			}
			rest := append([]string{joined}, parts[i+1:]...)
			n, err := t.resolve(path.Join(rest...), links+1)
			if err != nil {
				return nil, err
			}
			if i == len(parts)-1 {
				n.name = p
			}
			return n, nil
		default: // submodules
			return nil, fs.ErrNotExist
		}
	}
	return cur, nil
}

func splitPath(name string) []string {
	var parts []string
	for name != "" {
		var p string
		p, name, _ = cut(name)
		parts = append(parts, p)
	}
	return parts
}

func cut(s string) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func readBlob(b *object.Blob) ([]byte, error) {
	r, err := b.Reader()
	if err != nil {
		return nil, err
	}
	defer func() { _ = r.Close() }()
	return io.ReadAll(r)
}

// Open opens the named file or directory.
func (t *treeFS) Open(name string) (fs.File, error) {
	n, err := t.lookup("open", name)
	if err != nil {
		return nil, err
	}
	if n.tree != nil {
		entries, err := t.entries(n.tree, name)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return &dirFile{info: t.info(n), entries: entries}, nil
	}
	data, err := readBlob(n.blob)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &blobFile{info: t.info(n), Reader: bytes.NewReader(data)}, nil
}

// ReadFile returns the content of the named file.
func (t *treeFS) ReadFile(name string) ([]byte, error) {
	n, err := t.lookup("readfile", name)
	if err != nil {
		return nil, err
	}
	if n.blob == nil {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: errors.New("is a directory")}
	}
	data, err := readBlob(n.blob)
	if err != nil {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: err}
	}
	return data, nil
}

// ReadDir lists the named directory, sorted by name.
func (t *treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := t.lookup("readdir", name)
	if err != nil {
		return nil, err
	}
	if n.tree == nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	entries, err := t.entries(n.tree, name)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	return entries, nil
}

// Stat describes the named file or directory.
func (t *treeFS) Stat(name string) (fs.FileInfo, error) {
	n, err := t.lookup("stat", name)
	if err != nil {
		return nil, err
	}
	return t.info(n), nil
}

// entries lists the tree of directory dir as its entries resolve (symlinks
// followed; broken symlinks and submodules left out), sorted by name.
func (t *treeFS) entries(tr *object.Tree, dir string) ([]fs.DirEntry, error) {
	var out []fs.DirEntry
	for i := range tr.Entries {
		e := &tr.Entries[i]
		var n *node
		switch e.Mode {
		case filemode.Dir:
			n = &node{name: e.Name, mode: e.Mode, tree: &object.Tree{}}
		case filemode.Regular, filemode.Executable, filemode.Deprecated:
			f, err := tr.TreeEntryFile(e)
			if err != nil {
				return nil, err
			}
			n = &node{name: e.Name, mode: e.Mode, blob: &f.Blob}
		case filemode.Symlink:
			r, err := t.resolve(path.Join(dir, e.Name), 0)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, err
			}
			n = r
			n.name = e.Name
		default:
			continue
		}
		out = append(out, fs.FileInfoToDirEntry(t.info(n)))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

func (t *treeFS) info(n *node) *fileInfo {
	fi := &fileInfo{name: n.name, mtime: t.mtime}
	switch {
	case n.tree != nil:
		fi.mode = fs.ModeDir | 0o755
	case n.mode == filemode.Executable:
		fi.mode = 0o755
		fi.size = n.blob.Size
	default:
		fi.mode = 0o644
		fi.size = n.blob.Size
	}
	return fi
}

// fileInfo describes one entry.
type fileInfo struct {
	name  string
	size  int64
	mode  fs.FileMode
	mtime time.Time
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return fi.size }
func (fi *fileInfo) Mode() fs.FileMode  { return fi.mode }
func (fi *fileInfo) ModTime() time.Time { return fi.mtime }
func (fi *fileInfo) IsDir() bool        { return fi.mode.IsDir() }
func (fi *fileInfo) Sys() any           { return nil }

// blobFile is an open regular file; its content is read into memory on open.
type blobFile struct {
	info *fileInfo
	*bytes.Reader
}

func (f *blobFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *blobFile) Close() error               { return nil }

// dirFile is an open directory.
type dirFile struct {
	info    *fileInfo
	entries []fs.DirEntry
	off     int
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dirFile) Close() error               { return nil }

func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: errors.New("is a directory")}
}

// ReadDir returns the next n entries (all remaining ones when n <= 0).
func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.off:]
	if n <= 0 {
		d.off = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	if n > len(rest) {
		n = len(rest)
	}
	d.off += n
	return rest[:n], nil
}
