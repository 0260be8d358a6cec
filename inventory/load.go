package inventory

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Inventory is a loaded inventory: its hosts with their settings merged,
// and its groups.
type Inventory struct {
	// Hosts are every host of the inventory, sorted by name.
	Hosts []*Host
	// Groups are the declared groups by name.
	Groups map[string]*Group

	files  map[string]*hcl.File
	byName map[string]*Host
}

// Group is a declared group. Its hosts are those that list it, those it
// lists, and the hosts of its descendants; Host.Groups is the way to ask.
type Group struct {
	Name string
	// Parents are the groups listing this one in their children, in
	// declaration order.
	Parents []string
	// Children are the groups this one lists in its children, in the order
	// written.
	Children []string
	// DeclRange is the group block's header.
	DeclRange hcl.Range
}

// Load reads the inventory at path: one file, or a directory whose *.hcl
// and *.hcl.json files are all read in name order (not recursively; names
// starting with a dot are skipped). A file whose name ends in ".json" is in
// HCL's JSON syntax, any other in HCL's native syntax. It returns every
// problem found, never only the first. The Inventory is non-nil even when the diagnostics hold errors, so
// that they can be printed with its Files; it must not be used then.
func Load(path string) (*Inventory, hcl.Diagnostics) {
	return load(osReader(path), osEnv())
}

// LoadFS is Load on a file system: dir is a directory (or a single file) in
// fsys, and diagnostics name files by their path in fsys. The Git source
// hands its checkout this way. Identity files and known_hosts still refer to
// the local machine; vars_files are files of fsys, and Host.VarFiles holds
// their paths in fsys.
func LoadFS(fsys fs.FS, dir string) (*Inventory, hcl.Diagnostics) {
	return load(fsReader(fsys, dir), osEnv())
}

// Files returns the parsed files by name, for hcl.NewDiagnosticTextWriter.
// The caller must not change the map.
func (inv *Inventory) Files() map[string]*hcl.File {
	return inv.files
}

// Host returns the host called name, or nil.
func (inv *Inventory) Host(name string) *Host {
	if inv.byName != nil {
		return inv.byName[name]
	}
	for _, h := range inv.Hosts {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// Select returns the hosts matched by any of the patterns of limit (see
// Match), sorted by name; an empty limit selects every host. A pattern that
// matches no host is an error naming it, as is a malformed glob: a typo in
// --limit must not silently shrink a run.
func (inv *Inventory) Select(limit []string) ([]*Host, error) {
	if len(limit) == 0 {
		return slices.Clone(inv.Hosts), nil
	}
	picked := make([]bool, len(inv.Hosts))
	var errs []error
	for _, p := range limit {
		// Match reports a malformed glob only when it tries a host; try
		// one here so that it is found even in an empty inventory.
		if _, err := Match(p, &Host{}); err != nil {
			errs = append(errs, fmt.Errorf("select hosts: %w", err))
			continue
		}
		n := 0
		for i, h := range inv.Hosts {
			if ok, _ := Match(p, h); ok {
				picked[i] = true
				n++
			}
		}
		if n > 0 {
			continue
		}
		if g, ok := strings.CutPrefix(p, "group:"); ok && inv.Groups[g] == nil {
			errs = append(errs, fmt.Errorf("select hosts: pattern %q: no group named %q in the inventory", p, g))
			continue
		}
		errs = append(errs, fmt.Errorf("select hosts: no host matches pattern %q", p))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var out []*Host
	for i, h := range inv.Hosts {
		if picked[i] {
			out = append(out, h)
		}
	}
	return out, nil
}

// sysEnv is what Load takes from the machine it runs on; tests replace it.
type sysEnv struct {
	home      string // the home directory "~/" expands to
	user      string // the default login user
	lookupEnv func(string) (string, bool)
	exists    func(path string) bool // whether a regular file exists
}

// osEnv is the sysEnv of this process.
func osEnv() sysEnv {
	e := sysEnv{
		lookupEnv: os.LookupEnv,
		exists: func(p string) bool {
			st, err := os.Stat(p)
			return err == nil && st.Mode().IsRegular()
		},
	}
	u, uerr := user.Current()
	if uerr == nil {
		e.user = u.Username
	} else {
		e.user = cmp.Or(os.Getenv("USER"), os.Getenv("LOGNAME"))
	}
	e.home, _ = os.UserHomeDir()
	if e.home == "" && uerr == nil {
		e.home = u.HomeDir
	}
	return e
}

// source is one inventory file's name (as diagnostics show it) and text.
type source struct {
	name string
	src  []byte
}

// reader lists and reads the files of the inventory at one path.
type reader struct {
	root     string // the path as given, for messages
	stat     func(name string) (fs.FileInfo, error)
	readDir  func(name string) ([]fs.DirEntry, error)
	readFile func(name string) ([]byte, error)
	join     func(dir, name string) string
	// resolve turns p, written in the inventory file from, into the
	// cleaned path Host.VarFiles holds.
	resolve func(from, p string) (string, error)
}

// osReader reads from the local file system.
func osReader(root string) reader {
	return reader{
		root:     root,
		stat:     os.Stat,
		readDir:  os.ReadDir,
		readFile: os.ReadFile,
		join:     func(d, n string) string { return filepath.Join(d, n) },
		resolve: func(from, p string) (string, error) {
			if !filepath.IsAbs(p) {
				p = filepath.Join(filepath.Dir(from), p)
			}
			// Abs cleans the path too.
			return filepath.Abs(p)
		},
	}
}

// fsReader reads from fsys.
func fsReader(fsys fs.FS, root string) reader {
	return reader{
		root:     root,
		stat:     func(n string) (fs.FileInfo, error) { return fs.Stat(fsys, n) },
		readDir:  func(n string) ([]fs.DirEntry, error) { return fs.ReadDir(fsys, n) },
		readFile: func(n string) ([]byte, error) { return fs.ReadFile(fsys, n) },
		join:     func(d, n string) string { return path.Join(d, n) },
		resolve: func(from, p string) (string, error) {
			// A file system has no absolute paths and nothing above its
			// root: the inventory can only refer to files it holds.
			if path.IsAbs(p) {
				return "", errors.New("the inventory is read from a repository checkout, " +
					"so the path must be relative to the inventory file")
			}
			q := path.Join(path.Dir(from), p)
			if !fs.ValidPath(q) {
				return "", fmt.Errorf("the path leads to %s, outside the repository checkout the inventory is read from", q)
			}
			return q, nil
		},
	}
}

// varFile resolves p, an element of vars_files written in the inventory
// file from, and checks that it names a file (following symbolic links). It
// returns the resolved path, also with an error when it has one.
func (r reader) varFile(from, p string) (string, error) {
	full, err := r.resolve(from, p)
	if err != nil {
		return "", err
	}
	st, err := r.stat(full)
	if err != nil {
		return full, err
	}
	if st.IsDir() {
		return full, fmt.Errorf("%s is a directory, not a file", full)
	}
	return full, nil
}

// isInventoryFile reports whether a directory entry called name is read as
// part of the inventory.
func isInventoryFile(name string) bool {
	return (strings.HasSuffix(name, ".hcl") || strings.HasSuffix(name, ".hcl.json")) &&
		!strings.HasPrefix(name, ".")
}

// isJSON reports whether the inventory file called name is in HCL's JSON
// syntax.
func isJSON(name string) bool {
	return strings.HasSuffix(name, ".json")
}

// sources reads the inventory file at r.root, or every inventory file of
// the directory r.root in name order.
func (r reader) sources() ([]source, hcl.Diagnostics) {
	st, err := r.stat(r.root)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read inventory",
			Detail:   fmt.Sprintf("The inventory %s cannot be read: %s.", r.root, err),
		}}
	}
	names := []string{r.root}
	if st.IsDir() {
		entries, err := r.readDir(r.root)
		if err != nil {
			return nil, hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Cannot read inventory",
				Detail:   fmt.Sprintf("The inventory directory %s cannot be listed: %s.", r.root, err),
			}}
		}
		names = names[:0]
		for _, e := range entries {
			n := e.Name()
			if !isInventoryFile(n) {
				continue
			}
			full := r.join(r.root, n)
			// Follow symbolic links: what counts is what they point to.
			if fi, err := r.stat(full); err == nil && fi.IsDir() {
				continue
			}
			names = append(names, full)
		}
		slices.Sort(names)
		if len(names) == 0 {
			return nil, hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Empty inventory",
				Detail:   fmt.Sprintf("The inventory directory %s holds no *.hcl or *.hcl.json file.", r.root),
			}}
		}
	}
	var srcs []source
	var diags hcl.Diagnostics
	for _, n := range names {
		b, err := r.readFile(n)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cannot read inventory file",
				Detail:   fmt.Sprintf("The inventory file %s cannot be read: %s.", n, err),
			})
			continue
		}
		srcs = append(srcs, source{name: n, src: b})
	}
	return srcs, diags
}

// load reads, decodes and resolves an inventory.
func load(r reader, sys sysEnv) (*Inventory, hcl.Diagnostics) {
	srcs, diags := r.sources()
	inv, more := build(srcs, r, sys)
	diags = append(diags, more...)
	sortDiags(diags)
	return inv, diags
}

// sortDiags orders diagnostics by file and position, those without a
// position first, so that output is stable.
func sortDiags(diags hcl.Diagnostics) {
	slices.SortStableFunc(diags, func(a, b *hcl.Diagnostic) int {
		switch {
		case a.Subject == nil && b.Subject == nil:
			return 0
		case a.Subject == nil:
			return -1
		case b.Subject == nil:
			return 1
		}
		return cmp.Or(
			strings.Compare(a.Subject.Filename, b.Subject.Filename),
			cmp.Compare(a.Subject.Start.Byte, b.Subject.Start.Byte),
		)
	})
}

// position formats where r starts as file:line:column.
func position(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}
