package resources

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// An artifact is what a release is made of: an archive or a single binary,
// from a URL or from the spec repository. A URL is fetched once on the
// control host, checked against its sha256 and cached there; every host
// then receives it over its SSH connection, as the standard input of the
// command that unpacks it (hosts need no internet access). With
// fetch_on_host the host downloads it itself, with curl or wget, and
// checks the sha256 before unpacking.

// Artifact formats.
const (
	formatTarGz  = "tar.gz"
	formatTarZst = "tar.zst"
	formatTar    = "tar"
	formatZip    = "zip"
	formatBinary = "binary"
)

var artifactFormats = []string{formatTarGz, formatTarZst, formatTar, formatZip, formatBinary}

// artifact is a release's artifact block.
type artifact struct {
	url         string
	file        string // path in the spec file system
	files       fs.FS
	sha256      string // lower-case hex; required for a URL
	fetchOnHost bool
	format      string
	strip       int    // leading path components dropped when unpacking
	filename    string // a binary's name in the release directory
	sensitive   bool   // the URL holds a secret (a token)
	rng         hcl.Range

	mu       sync.Mutex
	prepared *preparedArtifact
}

// preparedArtifact is an artifact ready on the control host.
type preparedArtifact struct {
	local  string // the cached file, for a URL
	digest string
	size   int64
}

// artifactSchema is the artifact block's attributes.
var artifactSchema = NestedSchema{Type: "artifact", Attributes: []hcl.AttributeSchema{
	{Name: "url"}, {Name: "path"}, {Name: "sha256"}, {Name: "fetch_on_host"},
	{Name: "format"}, {Name: "strip_components"}, {Name: "filename"},
}}

// decodeArtifact reads an artifact block; files and dir are the spec file
// system and the directory of the block's file, which path is relative to.
func decodeArtifact(n *Nested, kind string, files fs.FS, dir string) (*artifact, hcl.Diagnostics) {
	d := &decoder{b: &Block{Kind: kind, Attrs: n.Attrs, DeclRange: n.DeclRange}}
	a := &artifact{rng: n.DeclRange}
	a.url = d.str("url", "")
	a.file = d.str("path", "")
	a.sensitive = d.sensitive("url")
	a.fetchOnHost = d.boolean("fetch_on_host", false)
	a.filename = d.str("filename", "")
	switch {
	case a.url == "" && a.file == "":
		d.errorf(n.DeclRange, "Missing artifact source", "An artifact needs url (with sha256) or path (a file of the spec repository).")
	case a.url != "" && a.file != "":
		d.errorf(d.rangeOf("path"), "Conflicting attributes", "An artifact takes url or path, not both.")
	case a.url != "":
		u, err := url.Parse(a.url)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			what := fmt.Sprintf("%q", a.url)
			if a.sensitive {
				what = "(sensitive value)"
			}
			d.errorf(d.rangeOf("url"), "Invalid artifact url", "The url %s must be an http or https URL.", what)
		}
		if !d.has("sha256") {
			d.errorf(n.DeclRange, "Missing sha256", "An artifact from a url needs its sha256, so that every host gets exactly the bytes that were meant: sha256 = \"<64 hex digits>\" (sha256sum prints it).")
		}
	case a.file != "":
		p := path.Join(dir, a.file)
		if !fs.ValidPath(p) || path.IsAbs(a.file) {
			d.errorf(d.rangeOf("path"), "Invalid artifact path", "The path %q must be a relative path inside the spec directory.", a.file)
		} else if files == nil {
			d.errorf(d.rangeOf("path"), "Cannot read artifact", "The artifact %q cannot be read: the block has no spec files to read it from.", a.file)
		} else if st, err := fs.Stat(files, p); err != nil || !st.Mode().IsRegular() {
			d.errorf(d.rangeOf("path"), "Cannot read artifact", "The artifact %q is not a readable file of the spec directory.", a.file)
		}
		a.file, a.files = p, files
		if a.fetchOnHost {
			d.errorf(d.rangeOf("fetch_on_host"), "Conflicting attributes", "fetch_on_host needs a url: a file of the spec repository is always uploaded.")
		}
	}
	if d.has("sha256") {
		a.sha256 = strings.ToLower(d.str("sha256", ""))
		if len(a.sha256) != 64 || strings.Trim(a.sha256, "0123456789abcdef") != "" {
			d.errorf(d.rangeOf("sha256"), "Invalid sha256", "sha256 must be 64 hex digits, as sha256sum prints them.")
		}
	}
	name := a.file
	if a.url != "" {
		if u, err := url.Parse(a.url); err == nil {
			name = u.Path
		}
	}
	a.format = d.str("format", formatOf(name))
	if !slices.Contains(artifactFormats, a.format) {
		d.errorf(d.rangeOf("format"), "Invalid format", "The format of an artifact must be %s, not %q.", quoteList(artifactFormats), a.format)
	}
	if d.has("strip_components") {
		a.strip = d.whole("strip_components", 0, 0, 100)
		if a.format == formatBinary {
			d.errorf(d.rangeOf("strip_components"), "Conflicting attributes", "strip_components applies to archives, not to a single binary.")
		}
		if a.format == formatZip && a.fetchOnHost {
			d.errorf(d.rangeOf("strip_components"), "Conflicting attributes", "strip_components is not supported for a zip unpacked on the host (unzip has no such option); let tend upload it instead.")
		}
	}
	if a.format == formatBinary {
		if a.filename == "" {
			a.filename = path.Base(name)
		}
		if !validChars(a.filename, "._-+@") || a.filename == "." || a.filename == ".." {
			d.errorf(d.rangeOf("filename"), "Invalid filename", "The binary's filename %q must be a plain file name.", a.filename)
		}
	} else if d.has("filename") {
		d.errorf(d.rangeOf("filename"), "Conflicting attributes", "filename names a single binary; an archive (%s) unpacks its own names.", a.format)
	}
	return a, d.diags
}

// whole reads a whole number attribute between lo and hi; def when unset.
func (d *decoder) whole(name string, def, lo, hi int) int {
	a, ok := d.b.Attrs[name]
	if !ok || a.Value.IsNull() {
		return def
	}
	v, err := convert.Convert(a.Value, cty.Number)
	if err == nil && v.IsKnown() {
		bf := v.AsBigFloat()
		if n, acc := bf.Int64(); bf.IsInt() && acc == big.Exact && n >= int64(lo) && n <= int64(hi) {
			return int(n)
		}
	}
	d.errorf(a.Range, "Invalid "+name, "The %s of %s must be a whole number from %d to %d.", name, d.b.Kind, lo, hi)
	return def
}

// formatOf guesses an artifact's format from its file name.
func formatOf(name string) string {
	n := strings.ToLower(path.Base(name))
	switch {
	case strings.HasSuffix(n, ".tar.gz"), strings.HasSuffix(n, ".tgz"):
		return formatTarGz
	case strings.HasSuffix(n, ".tar.zst"), strings.HasSuffix(n, ".tzst"):
		return formatTarZst
	case strings.HasSuffix(n, ".tar"):
		return formatTar
	case strings.HasSuffix(n, ".zip"):
		return formatZip
	}
	return formatBinary
}

// source names the artifact in plans and messages.
func (a *artifact) source() string {
	if a.file != "" {
		return a.file
	}
	if a.sensitive {
		return "(sensitive url)"
	}
	return a.url
}

// digest returns the artifact's sha256: the spec's, or for a repository
// file without one, the one Prepare computed ("" before).
func (a *artifact) digest() string {
	if a.sha256 != "" {
		return a.sha256
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.prepared != nil {
		return a.prepared.digest
	}
	return ""
}

// size returns the artifact's size once prepared, else -1.
func (a *artifact) size() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.prepared != nil {
		return a.prepared.size
	}
	return -1
}

// prepare makes the artifact ready on the control host: a URL fetched into
// the cache and checked, a repository file hashed (and checked when the
// spec gives a sha256). Hosts that fetch it themselves need nothing.
func (a *artifact) prepare(ctx context.Context) error {
	if a.fetchOnHost {
		return nil
	}
	a.mu.Lock()
	done := a.prepared != nil
	a.mu.Unlock()
	if done {
		return nil
	}
	var p *preparedArtifact
	var err error
	if a.url != "" {
		p, err = artifacts.fetch(ctx, a.url, a.sha256, a.source())
	} else {
		p, err = artifacts.hash(a.files, a.file)
		if err == nil && a.sha256 != "" && p.digest != a.sha256 {
			err = fmt.Errorf("artifact %s: sha256 is %s, the spec says %s", a.file, p.digest, a.sha256)
		}
	}
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.prepared = p
	a.mu.Unlock()
	return nil
}

// open returns the artifact's bytes as the host's unpack command reads
// them, and the format it reads: a zip becomes a tar stream (converted on
// the control host, so that hosts need no unzip).
func (a *artifact) open() (io.ReadCloser, string, error) {
	a.mu.Lock()
	p := a.prepared
	a.mu.Unlock()
	if p == nil {
		return nil, "", fmt.Errorf("artifact %s was not prepared", a.source())
	}
	var f io.ReadCloser
	var err error
	if a.url != "" {
		f, err = os.Open(p.local)
	} else {
		f, err = a.files.Open(a.file)
	}
	if err != nil {
		return nil, "", fmt.Errorf("open artifact %s: %w", a.source(), err)
	}
	if a.format != formatZip {
		return f, a.format, nil
	}
	pr, pw := io.Pipe()
	go func() {
		err := zipToTar(f, p.size, pw, a.strip)
		f.Close()
		pw.CloseWithError(err)
	}()
	return pr, formatTar, nil
}

// zipToTar writes the zip archive in r (of size n) as a tar stream to w,
// dropping strip leading path components.
func zipToTar(r io.Reader, n int64, w io.Writer, strip int) error {
	ra, ok := r.(io.ReaderAt)
	if !ok {
		// A repository file system may not seek: read it whole.
		b, err := io.ReadAll(r)
		if err != nil {
			return fmt.Errorf("read zip: %w", err)
		}
		ra, n = bytes.NewReader(b), int64(len(b))
	}
	zr, err := zip.NewReader(ra, n)
	if err != nil {
		return fmt.Errorf("read zip: %w", err)
	}
	tw := tar.NewWriter(w)
	for _, f := range zr.File {
		name := f.Name
		for i := 0; i < strip; i++ {
			_, rest, ok := strings.Cut(strings.TrimPrefix(name, "/"), "/")
			if !ok {
				name = ""
				break
			}
			name = rest
		}
		if name == "" || name == "/" {
			continue
		}
		fi := f.FileInfo()
		h := &tar.Header{Name: name, Mode: int64(fi.Mode().Perm()), ModTime: f.Modified, Format: tar.FormatPAX}
		switch {
		case fi.IsDir():
			h.Typeflag = tar.TypeDir
		case fi.Mode()&fs.ModeSymlink != 0:
			h.Typeflag = tar.TypeSymlink
			rc, err := f.Open()
			if err != nil {
				return fmt.Errorf("read zip entry %s: %w", f.Name, err)
			}
			t, err := io.ReadAll(io.LimitReader(rc, 4096))
			rc.Close()
			if err != nil {
				return fmt.Errorf("read zip entry %s: %w", f.Name, err)
			}
			h.Linkname = string(t)
		default:
			h.Typeflag = tar.TypeReg
			h.Size = int64(f.UncompressedSize64)
			if h.Mode == 0 {
				h.Mode = 0o644
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("write tar: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("read zip entry %s: %w", f.Name, err)
		}
		_, err = io.Copy(tw, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("convert zip entry %s: %w", f.Name, err)
		}
	}
	return tw.Close()
}

// artifactCache fetches and hashes artifacts once per process, whatever
// the number of hosts (and resources) that use them.
type artifactCache struct {
	mu    sync.Mutex
	calls map[any]*artifactCall
}

type artifactCall struct {
	done chan struct{}
	p    *preparedArtifact
	err  error
}

var artifacts = &artifactCache{calls: map[any]*artifactCall{}}

// do runs fn once per key; a failed call is forgotten so that a later run
// of a long-lived agent tries again.
func (c *artifactCache) do(key any, fn func() (*preparedArtifact, error)) (*preparedArtifact, error) {
	c.mu.Lock()
	call, ok := c.calls[key]
	if !ok {
		call = &artifactCall{done: make(chan struct{})}
		c.calls[key] = call
	}
	c.mu.Unlock()
	if ok {
		<-call.done
		return call.p, call.err
	}
	call.p, call.err = fn()
	if call.err != nil {
		c.mu.Lock()
		delete(c.calls, key)
		c.mu.Unlock()
	}
	close(call.done)
	return call.p, call.err
}

// CacheDir returns the control host's artifact cache:
// $TEND_CACHE_DIR/artifacts, or tend/artifacts in the user's cache
// directory (~/.cache/tend/artifacts).
func CacheDir() (string, error) {
	base := os.Getenv("TEND_CACHE_DIR")
	if base == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("find the artifact cache: %w (set TEND_CACHE_DIR)", err)
		}
		base = filepath.Join(d, "tend")
	}
	return filepath.Join(base, "artifacts"), nil
}

// fetch returns the artifact at rawURL with digest want from the cache,
// downloading it first when it is not there. what names it in messages.
func (c *artifactCache) fetch(ctx context.Context, rawURL, want, what string) (*preparedArtifact, error) {
	return c.do([2]string{rawURL, want}, func() (*preparedArtifact, error) {
		dir, err := CacheDir()
		if err != nil {
			return nil, err
		}
		local := filepath.Join(dir, want)
		if st, err := os.Stat(local); err == nil {
			// Cached files are named by their digest; check it once per
			// process all the same (a truncated copy must not spread).
			if got, err := hashFile(local); err == nil && got == want {
				return &preparedArtifact{local: local, digest: want, size: st.Size()}, nil
			}
			_ = os.Remove(local)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create artifact cache %s: %w", dir, err)
		}
		size, err := download(ctx, rawURL, want, what, dir, local)
		if err != nil {
			return nil, err
		}
		return &preparedArtifact{local: local, digest: want, size: size}, nil
	})
}

// download fetches rawURL into a temporary file of dir while hashing it,
// and renames it to local only when its sha256 is want.
func download(ctx context.Context, rawURL, want, what, dir, local string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return 0, fmt.Errorf("fetch artifact %s: %w", what, redactURL(err, rawURL, what))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("fetch artifact %s: %w", what, redactURL(err, rawURL, what))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("fetch artifact %s: %s", what, resp.Status)
	}
	tmp, err := os.CreateTemp(dir, ".fetch-*")
	if err != nil {
		return 0, fmt.Errorf("fetch artifact %s: %w", what, err)
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), resp.Body)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("fetch artifact %s: %w", what, redactURL(err, rawURL, what))
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return 0, fmt.Errorf("artifact %s: sha256 is %s, the spec says %s: refusing it", what, got, want)
	}
	if err := os.Rename(tmp.Name(), local); err != nil {
		return 0, fmt.Errorf("fetch artifact %s: %w", what, err)
	}
	return n, nil
}

// redactURL replaces a sensitive URL in an error message by what.
func redactURL(err error, rawURL, what string) error {
	if what == rawURL {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), rawURL, what))
}

// hash returns the digest and size of a repository file, once per file
// system and path when the file system can be a map key.
func (c *artifactCache) hash(files fs.FS, name string) (*preparedArtifact, error) {
	fn := func() (*preparedArtifact, error) {
		f, err := files.Open(name)
		if err != nil {
			return nil, fmt.Errorf("read artifact %s: %w", name, err)
		}
		defer f.Close()
		h := sha256.New()
		n, err := io.Copy(h, f)
		if err != nil {
			return nil, fmt.Errorf("read artifact %s: %w", name, err)
		}
		return &preparedArtifact{digest: hex.EncodeToString(h.Sum(nil)), size: n}, nil
	}
	if files == nil || !reflect.TypeOf(files).Comparable() {
		return fn()
	}
	type key struct {
		fsys fs.FS
		name string
	}
	return c.do(key{files, name}, fn)
}

// hashFile returns the hex sha256 of a local file.
func hashFile(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
