package resources

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// These tests deploy releases to this machine through the local transport:
// the real probe, the real prepare and switch scripts, a command health
// check. The end-to-end test on Debian containers with a systemd service
// and an HTTP health check is cmd/tend's TestReleases.

// appTarGz returns a tar.gz holding a release of the test app: VERSION,
// bin/app, and BROKEN when broken; under top/ when top is set.
func appTarGz(t *testing.T, version string, broken bool, top string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	files := map[string]string{"VERSION": version + "\n", "bin/app": "#!/bin/sh\necho app " + version + "\n"}
	if broken {
		files["BROKEN"] = "yes\n"
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		mode := int64(0o644)
		if strings.HasPrefix(n, "bin/") {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Name: top + n, Mode: mode, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[n])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// releaseBlock builds a release block with an artifact block and a
// command health check (healthy when the release has no BROKEN file).
func releaseBlock(version, base string, files fstest.MapFS, art map[string]cty.Value, attrs map[string]cty.Value) *Block {
	all := map[string]cty.Value{"version": str(version), "path": str(base)}
	for k, v := range attrs {
		all[k] = v
	}
	b := testBlock("release", "app", all)
	b.Files, b.Dir = files, "."
	artAttrs := map[string]*Attr{}
	for k, v := range art {
		artAttrs[k] = &Attr{Value: v, Range: attrRange(20)}
	}
	b.Blocks = []*Nested{
		{Type: "artifact", DeclRange: attrRange(19), Attrs: artAttrs},
		{Type: "health", DeclRange: attrRange(21), Attrs: map[string]*Attr{
			"command":  {Value: cty.ListVal([]cty.Value{str("sh"), str("-c"), str("test ! -e BROKEN")}), Range: attrRange(22)},
			"timeout":  {Value: str("1s"), Range: attrRange(23)},
			"interval": {Value: str("100ms"), Range: attrRange(24)},
		}},
	}
	return b
}

func newReleaseFrom(t *testing.T, b *Block) *Release {
	t.Helper()
	r, diags := Lookup("release").New(b)
	if diags.HasErrors() {
		t.Fatalf("release: unexpected diagnostics: %v", diags)
	}
	rel := r.(*Release)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rel.Prepare(ctx); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	return rel
}

// releasesOn lists the directories of base/releases.
func releasesOn(t *testing.T, base string) []string {
	t.Helper()
	es, err := os.ReadDir(filepath.Join(base, "releases"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func currentOf(t *testing.T, base string) string {
	t.Helper()
	l, err := os.Readlink(filepath.Join(base, "current"))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestReleaseLifecycleLocal(t *testing.T) {
	tr := newLocal(t)
	base := filepath.Join(t.TempDir(), "app")
	files := fstest.MapFS{}
	for _, v := range []string{"v1", "v2", "v3", "v4"} {
		files["artifacts/app-"+v+".tar.gz"] = &fstest.MapFile{Data: appTarGz(t, v, v == "v3", "app-"+v+"/"), Mode: 0o644}
	}
	rel := func(v string) *Release {
		return newReleaseFrom(t, releaseBlock(v, base, files,
			map[string]cty.Value{"path": str("artifacts/app-" + v + ".tar.gz"), "strip_components": cty.NumberIntVal(1)},
			map[string]cty.Value{
				"keep":          cty.NumberIntVal(2),
				"shared":        cty.ListVal([]cty.Value{str("data"), str("config/app.toml")}),
				"before_switch": cty.ListVal([]cty.Value{cty.ListVal([]cty.Value{str("sh"), str("-c"), str("echo migrated $TEND_RELEASE >> data/log")})}),
			}))
	}

	// v1: created from nothing; the plan says what will run.
	c := converge(t, tr, rel("v1"), Create)
	if c.Headline != "(none) -> v1" {
		t.Errorf("headline %q", c.Headline)
	}
	steps := strings.Join(c.Steps, "\n")
	for _, want := range []string{"upload artifacts/app-v1.tar.gz", "unpack it into " + base + "/releases/v1", "link shared data, config/app.toml", "run sh -c 'echo migrated", "switch " + base + "/current -> releases/v1", "health: run"} {
		if !strings.Contains(steps, want) {
			t.Errorf("steps lack %q:\n%s", want, steps)
		}
	}
	if got := currentOf(t, base); got != "releases/v1" {
		t.Fatalf("current -> %s", got)
	}
	if got := readFile(t, filepath.Join(base, "current", "VERSION")); got != "v1\n" {
		t.Errorf("VERSION %q", got)
	}
	if l, err := os.Readlink(filepath.Join(base, "releases/v1/data")); err != nil || l != filepath.Join(base, "shared/data") {
		t.Errorf("releases/v1/data -> %q, %v", l, err)
	}
	if st, err := os.Stat(filepath.Join(base, "shared/config/app.toml")); err != nil || !st.IsDir() {
		// An entry absent from the artifact and the shared directory is
		// made a directory.
		t.Errorf("shared/config/app.toml: %v", err)
	}
	if err := os.WriteFile(filepath.Join(base, "shared/data/keep.txt"), []byte("kept\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// v2: an update; v1 stays (keep = 2).
	c = converge(t, tr, rel("v2"), Update)
	if c.Headline != "v1 -> v2" {
		t.Errorf("headline %q", c.Headline)
	}
	if got := releasesOn(t, base); !slices.Equal(got, []string{"v1", "v2"}) {
		t.Errorf("releases %v", got)
	}

	// v3 fails its health check: back to v2, v3 kept, the error says so.
	r3 := rel("v3")
	c, o := plan(t, tr, r3)
	err := applyChange(t, tr, r3, c, o)
	if err == nil {
		t.Fatal("v3 applied without error; its health check must fail")
	}
	for _, want := range []string{"release v3 failed", "health check failed", "switched back to v2, healthy again", "releases/v3 is kept for inspection"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if got := currentOf(t, base); got != "releases/v2" {
		t.Errorf("after the failed v3, current -> %s", got)
	}
	if _, err := os.Stat(filepath.Join(base, "releases/v3/.tend-release")); err != nil {
		t.Errorf("the failed release is not kept complete: %v", err)
	}
	c, _ = plan(t, tr, r3)
	if !strings.Contains(c.Reason, "v3 failed its health check") || !strings.Contains(strings.Join(c.Steps, "\n"), "reuse "+base+"/releases/v3") {
		t.Errorf("the plan after the failure: reason %q steps %q", c.Reason, c.Steps)
	}

	// v4: the keep newest good releases stay, and the newest failed one.
	converge(t, tr, rel("v4"), Update)
	if got := releasesOn(t, base); !slices.Equal(got, []string{"v2", "v3", "v4"}) {
		t.Errorf("after v4, releases %v, want v2 v3 v4", got)
	}

	// Rollback: to the release before the current one, v2 (v3 failed).
	rb := rel("v4").Rollback("")
	c = converge(t, tr, rb, Update)
	if c.Headline != "v4 -> v2 (rollback)" {
		t.Errorf("rollback headline %q", c.Headline)
	}
	if got := currentOf(t, base); got != "releases/v2" {
		t.Errorf("after the rollback, current -> %s", got)
	}
	if _, err := rel("v4").Rollback("v9").Diff(probeVia(t, tr, rb)); err == nil || !strings.Contains(err.Error(), "release v9 is not on the host (releases on disk: v2, v3, v4)") {
		t.Errorf("rollback to a missing release: %v", err)
	}
	if got := readFile(t, filepath.Join(base, "shared/data/keep.txt")); got != "kept\n" {
		t.Errorf("shared file lost: %q", got)
	}
	log := readFile(t, filepath.Join(base, "shared/data/log"))
	if log != "migrated v1\nmigrated v2\nmigrated v3\nmigrated v4\n" {
		t.Errorf("before_switch ran as:\n%s", log)
	}
	history := readFile(t, filepath.Join(base, ".tend-history"))
	var events []string
	for _, l := range strings.Split(strings.TrimSpace(history), "\n") {
		f := strings.Fields(l)
		events = append(events, f[1]+" "+f[2])
	}
	if want := []string{"switch v1", "switch v2", "fail v3", "switch v4", "rollback v2"}; !slices.Equal(events, want) {
		t.Errorf("history %v, want %v", events, want)
	}
}

// TestReleaseInterruptedPrepare: a release directory without its marker
// (a preparation cut short) is removed and prepared again; current never
// pointed at it.
func TestReleaseInterruptedPrepare(t *testing.T) {
	tr := newLocal(t)
	base := filepath.Join(t.TempDir(), "app")
	files := fstest.MapFS{"app.tar.gz": {Data: appTarGz(t, "v1", false, ""), Mode: 0o644}}
	r := newReleaseFrom(t, releaseBlock("v1", base, files, map[string]cty.Value{"path": str("app.tar.gz")}, nil))
	if err := os.MkdirAll(filepath.Join(base, "releases/v1/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, "releases/v1/half-written"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := converge(t, tr, r, Create)
	if !strings.HasPrefix(c.Steps[0], "remove "+base+"/releases/v1, an interrupted preparation") {
		t.Errorf("first step %q", c.Steps[0])
	}
	if _, err := os.Stat(filepath.Join(base, "releases/v1/half-written")); !os.IsNotExist(err) {
		t.Errorf("the interrupted preparation's file survived: %v", err)
	}
}

// TestReleaseURLArtifact: a URL is fetched once into the cache, whatever
// the number of resources; a wrong sha256 is refused by Prepare.
func TestReleaseURLArtifact(t *testing.T) {
	t.Setenv("TEND_CACHE_DIR", t.TempDir())
	data := appTarGz(t, "v7", false, "")
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write(data)
	}))
	t.Cleanup(srv.Close)
	tr := newLocal(t)
	base := filepath.Join(t.TempDir(), "app")

	bad := releaseBlock("v7", base, nil, map[string]cty.Value{"url": str(srv.URL + "/app-v7.tar.gz"), "sha256": str(strings.Repeat("ab", 32))}, nil)
	r, diags := Lookup("release").New(bad)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	err := r.(*Release).Prepare(context.Background())
	if err == nil || !strings.Contains(err.Error(), "sha256 is "+digestOf(data)+", the spec says "+strings.Repeat("ab", 32)+": refusing it") {
		t.Fatalf("wrong sha256: %v", err)
	}
	for i := 0; i < 3; i++ {
		r := newReleaseFrom(t, releaseBlock("v7", base, nil, map[string]cty.Value{"url": str(srv.URL + "/app-v7.tar.gz"), "sha256": str(digestOf(data))}, nil))
		if i == 0 {
			converge(t, tr, r, Create)
		}
	}
	if n := hits.Load(); n != 2 {
		t.Errorf("the server was asked %d times, want 2 (the refused fetch, then one for three resources)", n)
	}
	if got := readFile(t, filepath.Join(base, "current/VERSION")); got != "v7\n" {
		t.Errorf("VERSION %q", got)
	}
}

// TestReleaseFetchOnHost: the host downloads and checks the artifact.
func TestReleaseFetchOnHost(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("fetch_on_host needs curl on this machine: apt-get install -y curl")
	}
	data := appTarGz(t, "v8", false, "")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(data) }))
	t.Cleanup(srv.Close)
	tr := newLocal(t)
	base := filepath.Join(t.TempDir(), "app")
	art := map[string]cty.Value{"url": str(srv.URL + "/a.tar.gz"), "sha256": str(digestOf(data)), "fetch_on_host": cty.True}
	c := converge(t, tr, newReleaseFrom(t, releaseBlock("v8", base, nil, art, nil)), Create)
	if !strings.HasPrefix(c.Steps[0], "fetch "+srv.URL+"/a.tar.gz on the host") {
		t.Errorf("steps %q", c.Steps)
	}
	// A wrong digest fails on the host, before anything is switched.
	art["sha256"] = str(strings.Repeat("0", 64))
	r := newReleaseFrom(t, releaseBlock("v9", base, nil, art, nil))
	c, o := plan(t, tr, r)
	if err := applyChange(t, tr, r, c, o); err == nil || !strings.Contains(err.Error(), "the artifact fetched by the host has sha256 "+digestOf(data)) {
		t.Errorf("wrong digest on the host: %v", err)
	}
	if got := currentOf(t, base); got != "releases/v8" {
		t.Errorf("current -> %s", got)
	}
}

// TestReleaseFormats: zip (converted to tar on the control host), tar.zst
// (unpacked with the host's zstd) and a single binary.
func TestReleaseFormats(t *testing.T) {
	tr := newLocal(t)
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	for name, body := range map[string]string{"top/VERSION": "vz\n", "top/bin/app": "#!/bin/sh\n"} {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		h.SetMode(0o755)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	files := fstest.MapFS{"app.zip": {Data: zbuf.Bytes()}, "tool": {Data: []byte("#!/bin/sh\necho tool\n")}}
	gz := appTarGz(t, "vs", false, "")
	zst := filepath.Join(t.TempDir(), "app.tar.zst")
	cmd := exec.Command("zstd", "-q", "-o", zst)
	cmd.Stdin = bytes.NewReader(mustGunzip(t, gz))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("zstd (apt-get install -y zstd): %v: %s", err, out)
	}
	zdata, err := os.ReadFile(zst)
	if err != nil {
		t.Fatal(err)
	}
	files["app.tar.zst"] = &fstest.MapFile{Data: zdata}

	dir := t.TempDir()
	converge(t, tr, newReleaseFrom(t, releaseBlock("vz", filepath.Join(dir, "zip"), files, map[string]cty.Value{"path": str("app.zip"), "strip_components": cty.NumberIntVal(1)}, nil)), Create)
	if got := readFile(t, filepath.Join(dir, "zip/current/VERSION")); got != "vz\n" {
		t.Errorf("zip: VERSION %q", got)
	}
	if st, err := os.Stat(filepath.Join(dir, "zip/current/bin/app")); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("zip: bin/app %v %v", st, err)
	}
	converge(t, tr, newReleaseFrom(t, releaseBlock("vs", filepath.Join(dir, "zst"), files, map[string]cty.Value{"path": str("app.tar.zst")}, nil)), Create)
	if got := readFile(t, filepath.Join(dir, "zst/current/VERSION")); got != "vs\n" {
		t.Errorf("zst: VERSION %q", got)
	}
	converge(t, tr, newReleaseFrom(t, releaseBlock("b1", filepath.Join(dir, "bin"), files, map[string]cty.Value{"path": str("tool")}, nil)), Create)
	if st, err := os.Stat(filepath.Join(dir, "bin/current/tool")); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("binary: %v %v", st, err)
	}
}

func mustGunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := out.ReadFrom(zr); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestReleaseDiagnostics: bad blocks are refused where they are wrong.
func TestReleaseDiagnostics(t *testing.T) {
	files := fstest.MapFS{"app.tar.gz": {Data: []byte("x")}}
	cases := []struct {
		name  string
		block func() *Block
		want  string
	}{
		{"url without sha256", func() *Block {
			return releaseBlock("v1", "/opt/app", nil, map[string]cty.Value{"url": str("https://example.com/a.tar.gz")}, nil)
		}, "An artifact from a url needs its sha256"},
		{"bad version", func() *Block {
			return releaseBlock("../v1", "/opt/app", files, map[string]cty.Value{"path": str("app.tar.gz")}, nil)
		}, `The version "../v1" must be usable as a directory name`},
		{"bad shared", func() *Block {
			return releaseBlock("v1", "/opt/app", files, map[string]cty.Value{"path": str("app.tar.gz")}, map[string]cty.Value{"shared": cty.ListVal([]cty.Value{str("../etc")})})
		}, `The shared entry "../etc" must be a clean relative path`},
		{"missing file", func() *Block {
			return releaseBlock("v1", "/opt/app", files, map[string]cty.Value{"path": str("nope.tar.gz")}, nil)
		}, `The artifact "nope.tar.gz" is not a readable file`},
		{"no artifact", func() *Block {
			b := releaseBlock("v1", "/opt/app", files, map[string]cty.Value{"path": str("app.tar.gz")}, nil)
			b.Blocks = b.Blocks[1:]
			return b
		}, "A release needs an artifact block"},
		{"bad before_switch", func() *Block {
			return releaseBlock("v1", "/opt/app", files, map[string]cty.Value{"path": str("app.tar.gz")}, map[string]cty.Value{"before_switch": cty.ListVal([]cty.Value{str("migrate")})})
		}, "must be a list of commands"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := Lookup("release").New(tc.block())
			if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
				t.Errorf("diagnostics %v, want %q", diags, tc.want)
			}
			for _, d := range diags {
				if d.Subject == nil || d.Subject.Filename == "" {
					t.Errorf("diagnostic without a position: %v", d)
				}
			}
		})
	}
}

// TestReleaseNeedsZstd: a tar.zst for a host without zstd is an error of
// the plan, before anything is changed.
func TestReleaseNeedsZstd(t *testing.T) {
	files := fstest.MapFS{"app.tar.zst": {Data: []byte("x")}}
	r := newReleaseFrom(t, releaseBlock("v1", "/opt/app", files, map[string]cty.Value{"path": str("app.tar.zst")}, nil))
	o := parseReply(t, r, "R 0 absent")
	if _, err := r.Diff(o); err == nil || !strings.Contains(err.Error(), "the host has no zstd") {
		t.Errorf("Diff without zstd: %v", err)
	}
}
