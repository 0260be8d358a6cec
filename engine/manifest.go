package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"slices"
	"sort"
	"unicode/utf8"

	"github.com/tendhq/tend/inventory"
	"github.com/tendhq/tend/resources"
)

// manifestName is the prefix of the file, in the state directory, that
// records what tend manages on the host (manifest.NAME, NAME the inventory
// name, escaped: test hosts, and hosts of several inventories, can share
// one file system): one entry per resource of the host's graph that can
// be undone (resources.Prunable), with the role that declared it and the
// attributes of the resource that undoes it. A later run that no longer has
// the resource in its spec finds it there and reports it as orphaned, or
// prunes it. The probe reads the file, so that reading it costs no remote
// execution: by the hash of the manifest the run expects (a converged host
// answers "same", resources.Probe.ContentUnless), whole when it differs.
const manifestName = "manifest"

// manifestVersion is the version of the manifest format. A manifest of a
// newer version is an error: an older tend must not guess at it.
const manifestVersion = 1

// manifest is the managed-state manifest of one host. It is JSON: an
// object with the version and the entries, one entry a line, sorted by
// address, so that it reads well and diffs well:
//
//	{"version":1,"resources":[
//	{"address":"file[/etc/motd]","kind":"file","name":"/etc/motd","role":"web","prune":{"path":"/etc/motd","state":"absent"},"sha256":"..."}
//	]}
type manifest struct {
	Version   int              `json:"version"`
	Resources []*manifestEntry `json:"resources"`
}

// manifestEntry is one resource tend manages (or managed, for an orphan
// that was not pruned yet).
type manifestEntry struct {
	// Address is the resource's address as plans print it; Module, Kind,
	// Name and Key are its parts (resources.Addr), so that it need not be
	// parsed back.
	Address string `json:"address"`
	Module  string `json:"module,omitempty"`
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Key     string `json:"key,omitempty"`
	// Role is the role that declared the resource (or called its module).
	Role string `json:"role"`
	// Prune holds the attributes of the resource of the same kind that
	// undoes this one (resources.Prunable.PruneAttrs).
	Prune map[string]string `json:"prune"`
	// SHA256 is the hex sha256 of a file's content as tend left it, when
	// tend manages that content; "" otherwise. A pruned file whose content
	// differs was changed by someone else since, which the plan says.
	SHA256 string `json:"sha256,omitempty"`
}

// addr returns the entry's address.
func (e *manifestEntry) addr() resources.Addr {
	return resources.Addr{Module: e.Module, Kind: e.Kind, Name: e.Name, Key: e.Key}
}

// pruneKey returns Prune in a canonical form, for comparisons and sorting.
func (e *manifestEntry) pruneKey() string { return canonical(e.Prune) }

// canonical returns m as JSON with sorted keys, exactly as encoding/json
// writes it ("null" for a nil map).
func canonical(m map[string]string) string {
	var buf [128]byte
	b, _ := appendPrune(buf[:0], m)
	return string(b)
}

// encodeManifest returns the manifest of entries, sorted by address and
// then by prune attributes (an orphan kept under the address of a changed
// resource shares its address), one entry a line.
func encodeManifest(entries []*manifestEntry) []byte {
	type keyed struct {
		e   *manifestEntry
		key string
	}
	sorted := make([]keyed, len(entries))
	size := 64
	for i, e := range entries {
		sorted[i] = keyed{e, e.pruneKey()}
		size += 128 + len(e.Address) + len(sorted[i].key) + len(e.SHA256)
	}
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].e.Address != sorted[j].e.Address {
			return sorted[i].e.Address < sorted[j].e.Address
		}
		return sorted[i].key < sorted[j].key
	})
	b := make([]byte, 0, size)
	b = append(b, manifestHeader...)
	for i, k := range sorted {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '\n')
		e := k.e
		b, _ = appendEntry(b, e.Address, e.Module, e.Kind, e.Name, e.Key, e.Role, pruneSpec{attrs: e.Prune}, e.SHA256)
	}
	return append(b, manifestTrailer...)
}

// manifestHeader and manifestTrailer surround the entries of a manifest.
var manifestHeader = fmt.Sprintf(`{"version":%d,"resources":[`, manifestVersion)

const manifestTrailer = "\n]}\n"

// appendEntry appends the JSON of one manifest entry, byte for byte what
// encoding/json writes for a manifestEntry of these fields (the manifests
// on hosts were written by it, and a manifest that does not change is not
// rewritten). exact is false when a string is not valid UTF-8: JSON holds
// U+FFFD in its place, and decoding does not give the string back.
func appendEntry(b []byte, address, module, kind, name, key, role string, prune pruneSpec, sha string) (_ []byte, exact bool) {
	exact = true
	field := func(sep, v string) {
		var ok bool
		b = append(b, sep...)
		b, ok = appendJSONString(b, v)
		exact = exact && ok
	}
	field(`{"address":`, address)
	if module != "" {
		field(`,"module":`, module)
	}
	field(`,"kind":`, kind)
	field(`,"name":`, name)
	if key != "" {
		field(`,"key":`, key)
	}
	field(`,"role":`, role)
	b = append(b, `,"prune":`...)
	b, ok := prune.append(b)
	exact = exact && ok
	if sha != "" {
		field(`,"sha256":`, sha)
	}
	return append(b, '}'), exact
}

// pruneSpec is what undoes a resource, as a manifest entry records it: its
// prune attributes, or for a resources.PathPrunable just the path (the
// attributes {path, state = "absent"} without a map).
type pruneSpec struct {
	attrs  map[string]string
	path   string
	byPath bool
}

// pruneOf returns what undoes r; ok is false when nothing does.
func pruneOf(r resources.Resource) (_ pruneSpec, ok bool) {
	switch p := r.(type) {
	case resources.PathPrunable:
		path, ok := p.PruneAbsentPath()
		return pruneSpec{path: path, byPath: true}, ok
	case resources.Prunable:
		attrs := p.PruneAttrs()
		return pruneSpec{attrs: attrs}, attrs != nil
	}
	return pruneSpec{}, false
}

// empty reports whether the spec has no attributes (decodeManifest rejects
// such an entry).
func (p pruneSpec) empty() bool { return !p.byPath && len(p.attrs) == 0 }

// append appends the attributes as appendPrune does.
func (p pruneSpec) append(b []byte) (_ []byte, exact bool) {
	if !p.byPath {
		return appendPrune(b, p.attrs)
	}
	b = append(b, `{"path":`...)
	b, exact = appendJSONString(b, p.path)
	return append(b, `,"state":"absent"}`...), exact
}

// appendPrune appends m as encoding/json writes a map of strings: keys
// sorted, "null" for a nil map. exact is as for appendEntry.
func appendPrune(b []byte, m map[string]string) (_ []byte, exact bool) {
	if m == nil {
		return append(b, "null"...), true
	}
	var buf [8]string
	keys := buf[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	exact = true
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		var kOK, vOK bool
		b, kOK = appendJSONString(b, k)
		b = append(b, ':')
		b, vOK = appendJSONString(b, m[k])
		exact = exact && kOK && vOK
	}
	return append(b, '}'), exact
}

// jsonSafe marks the ASCII bytes that a JSON string holds as they are
// (encoding/json's htmlSafeSet).
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := byte(0x20); c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendJSONString appends s as a JSON string the way encoding/json does:
// <, > and & escaped for HTML, control characters as \b, \f, \n, \r, \t
// or \u00XX, U+2028 and U+2029 escaped, and each byte of invalid UTF-8 as
// \ufffd (then exact is false).
func appendJSONString(b []byte, s string) (_ []byte, exact bool) {
	const hex = "0123456789abcdef"
	exact = true
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			exact = false
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"'), exact
}

// decodeManifest parses a manifest and checks every entry. Any problem is an
// error for the whole manifest: pruning must never act on a guess.
func decodeManifest(data []byte) ([]*manifestEntry, error) {
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("not a tend manifest: %w", err)
	}
	switch {
	case m.Version == 0:
		return nil, errors.New("not a tend manifest: no version")
	case m.Version > manifestVersion:
		return nil, fmt.Errorf("manifest version %d was written by a newer tend (this one reads version %d)", m.Version, manifestVersion)
	}
	for i, e := range m.Resources {
		switch {
		case e == nil || e.Kind == "" || e.Name == "":
			return nil, fmt.Errorf("entry %d has no kind or name", i+1)
		case e.addr().String() != e.Address:
			return nil, fmt.Errorf("entry %d: address %q does not match its parts (%s)", i+1, e.Address, e.addr())
		case len(e.Prune) == 0:
			return nil, fmt.Errorf("entry %d (%s) has no prune attributes", i+1, e.Address)
		}
	}
	return m.Resources, nil
}

// manifestPath returns where the host's manifest is.
func (h *hostRun) manifestPath() string {
	if h.manifestFile == "" {
		h.manifestFile = path.Join(h.stateDir(), manifestName+"."+url.PathEscape(h.g.Host.Name))
	}
	return h.manifestFile
}

// readManifest returns the manifest the probe read (nil entries when there
// is none yet) and its raw bytes.
func (h *hostRun) readManifest(obs *resources.Observed) ([]*manifestEntry, []byte, error) {
	p := h.manifestPath()
	data, exists, err := obs.Content(p)
	if err != nil {
		return nil, nil, fmt.Errorf("read manifest: %w", err)
	}
	if !exists {
		return nil, nil, nil
	}
	entries, err := decodeManifest(data)
	if err != nil {
		return nil, nil, fmt.Errorf("read manifest %s: %w (fix or remove it; without it, tend forgets what it managed)", p, err)
	}
	return entries, data, nil
}

// writeManifest replaces the host's manifest with data, atomically (a
// temporary file in the state directory renamed over it), or removes it
// when data is nil.
func writeManifest(ctx context.Context, t inventory.Transport, p string, data []byte) error {
	fsys, err := t.FS(ctx)
	if err != nil {
		return fmt.Errorf("record manifest %s: %w", p, err)
	}
	if data == nil {
		if err := fsys.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove manifest %s: %w", p, err)
		}
		return nil
	}
	if err := mkdirState(fsys, path.Dir(p)); err != nil {
		return fmt.Errorf("record manifest %s: %w", p, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	tmp := p + ".tend-" + hex.EncodeToString(b[:])
	w, err := fsys.CreateExclusive(tmp, 0o600)
	if err != nil {
		return fmt.Errorf("record manifest %s: %w", p, err)
	}
	_, werr := w.Write(data)
	if cerr := w.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = fsys.Rename(tmp, p)
	}
	if werr != nil {
		_ = fsys.Remove(tmp)
		return fmt.Errorf("record manifest %s: %w", p, werr)
	}
	return nil
}

// mkdirState makes the state directory (mode 0700) and its missing
// parents (0755).
func mkdirState(fsys inventory.FileSystem, dir string) error {
	err := fsys.Mkdir(dir, 0o700)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		if parent := path.Dir(dir); parent != dir && parent != "/" {
			if perr := mkdirState(fsys, parent); perr == nil {
				err = fsys.Mkdir(dir, 0o700)
			}
		}
	}
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("mkdir %s: %w", dir, err)
	}
	return nil
}
