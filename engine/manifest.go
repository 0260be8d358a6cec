package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"sort"

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
// prunes it. The probe reads the file (resources.Probe.Content), so that
// reading it costs no remote execution.
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

// canonical returns m as JSON with sorted keys (encoding/json sorts map
// keys).
func canonical(m map[string]string) string {
	b, _ := json.Marshal(m)
	return string(b)
}

// encodeManifest returns the manifest of entries, sorted by address and
// then by prune attributes (an orphan kept under the address of a changed
// resource shares its address), one entry a line.
func encodeManifest(entries []*manifestEntry) []byte {
	sorted := append([]*manifestEntry(nil), entries...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].Address != sorted[j].Address {
			return sorted[i].Address < sorted[j].Address
		}
		return sorted[i].pruneKey() < sorted[j].pruneKey()
	})
	var b bytes.Buffer
	fmt.Fprintf(&b, "{\"version\":%d,\"resources\":[", manifestVersion)
	for i, e := range sorted {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
		line, _ := json.Marshal(e) // strings and a map of strings: cannot fail
		b.Write(line)
	}
	b.WriteString("\n]}\n")
	return b.Bytes()
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
	dir := h.o.StateDir
	if dir == "" {
		dir = DefaultStateDir
	}
	return path.Join(dir, manifestName+"."+url.PathEscape(h.g.Host.Name))
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
