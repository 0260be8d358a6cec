package config

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
)

// marker is one expected diagnostic: where its Subject starts and its
// summary.
type marker struct {
	File     string
	Line     int
	Severity string // ERROR or WARNING
	Summary  string
}

func (m marker) String() string {
	return fmt.Sprintf("%s:%d: %s: %s", m.File, m.Line, m.Severity, m.Summary)
}

// markerRE finds "# ERROR: summary" (or WARNING) comments; several may
// share a line.
var markerRE = regexp.MustCompile(`#\s*(ERROR|WARNING):\s*([^#]*[^#\s])`)

// markersIn returns the markers written in every file of fsys.
func markersIn(t *testing.T, fsys fs.FS) []marker {
	t.Helper()
	var out []marker
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, m := range markerRE.FindAllStringSubmatch(line, -1) {
				out = append(out, marker{File: p, Line: i + 1, Severity: m[1], Summary: m[2]})
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fixtureFS holds one spec file of dir at the root, next to every file of
// dir/templates (templates/...) and dir/modules (modules/..., the module
// directories), so that each fixture is a spec directory of its own.
func fixtureFS(t *testing.T, dir, name string) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	m[name] = &fstest.MapFile{Data: b}
	for _, sub := range []string{"templates", "modules"} {
		err := filepath.WalkDir(filepath.Join(dir, sub), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(dir, p)
			m[filepath.ToSlash(rel)] = &fstest.MapFile{Data: b}
			return err
		})
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	return m
}

// TestInvalidSpecs loads each testdata/invalid/*.hcl on its own, compiles it
// for the test host, and compares the diagnostics with the file's markers:
// every diagnostic must have a Subject and a marker on the line its Subject
// starts on, every marker a diagnostic.
func TestInvalidSpecs(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.hcl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in testdata/invalid: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(strings.TrimSuffix(name, ".hcl"), func(t *testing.T) {
			fsys := fixtureFS(t, "testdata/invalid", name)
			want := markersIn(t, fsys)
			// Only the templates this spec uses count.
			want = usedMarkers(want, name)
			if len(want) == 0 {
				t.Fatalf("%s has no # ERROR: markers", name)
			}
			c, diags := Load(fsys, ".")
			_, ds := c.Compile(testHost(), testVars(c))
			diags = append(diags, ds...)

			var got []marker
			for _, d := range diags {
				if d.Subject == nil {
					t.Errorf("diagnostic without a Subject: %s: %s", d.Summary, d.Detail)
					continue
				}
				// HCL's own details may end in a question: "Did you mean ...?"
				if dt := strings.TrimSpace(d.Detail); dt == "" || !(strings.HasSuffix(dt, ".") || strings.HasSuffix(dt, "?")) {
					t.Errorf("%s: detail %q is not whole sentences", d.Summary, d.Detail)
				}
				sev := "ERROR"
				if d.Severity == hcl.DiagWarning {
					sev = "WARNING"
				}
				got = append(got, marker{File: d.Subject.Filename, Line: d.Subject.Start.Line, Severity: sev, Summary: d.Summary})
			}
			sortMarkers(want)
			sortMarkers(got)
			if diff := cmp.Diff(want, got); diff != "" {
				var b strings.Builder
				hcl.NewDiagnosticTextWriter(&b, c.Files(), 100, false).WriteDiagnostics(diags)
				t.Errorf("diagnostics (-want +got):\n%s\nall diagnostics:\n%s", diff, b.String())
			}
		})
	}
}

// usedMarkers keeps the markers of spec, of the templates spec names, and
// of the module directories modules/NAME (with what is below) it calls.
func usedMarkers(ms []marker, spec string) []marker {
	b, _ := os.ReadFile(filepath.Join("testdata/invalid", spec))
	src := string(b)
	var out []marker
	for _, m := range ms {
		parts := strings.Split(m.File, "/")
		switch {
		case m.File == spec, strings.Contains(src, m.File):
		case parts[0] == "modules" && len(parts) > 2 && strings.Contains(src, "./modules/"+parts[1]):
		default:
			continue
		}
		out = append(out, m)
	}
	return out
}

func sortMarkers(ms []marker) {
	sort.Slice(ms, func(i, j int) bool { return ms[i].String() < ms[j].String() })
}
