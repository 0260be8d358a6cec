package resources

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/tendhq/tend/internal/golden"
)

// benchRoot is where the recorded reply's tree lived; the recording is made
// in a temporary directory and the prefix rewritten.
const benchRoot = "/srv/app"

// benchResources returns the 100 resources of testdata/probe-100.reply
// under root: 20 directories, 60 files in them and 20 symlinks.
func benchResources(t testing.TB, root string) []Resource {
	t.Helper()
	var rs []Resource
	for d := 0; d < 20; d++ {
		dir := filepath.Join(root, fmt.Sprintf("dir-%02d", d))
		mode := "0755"
		if d%4 == 0 {
			mode = "2775"
		}
		rs = append(rs, build(t, "directory", dir, map[string]cty.Value{"mode": str(mode), "owner": str("root")}))
		for f := 0; f < 3; f++ {
			rs = append(rs, build(t, "file", filepath.Join(dir, fmt.Sprintf("file %d.conf", f)), map[string]cty.Value{
				"content": str(fmt.Sprintf("# file %d of %d\nkey = value\n", f, d)),
				"mode":    str("0644"), "owner": str("root"), "group": str("root"),
			}))
		}
		rs = append(rs, build(t, "symlink", filepath.Join(root, fmt.Sprintf("link-%02d", d)), map[string]cty.Value{
			"target": str(dir),
		}))
	}
	return rs
}

// makeBenchTree builds the tree the recording observes: most resources
// converged, some to create, some to update.
func makeBenchTree(t testing.TB, root string) {
	t.Helper()
	for d := 0; d < 20; d++ {
		dir := filepath.Join(root, fmt.Sprintf("dir-%02d", d))
		if d == 19 {
			continue // to create, with its files
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o755); err != nil { // dir-00, 04, ... to update to 2775
			t.Fatal(err)
		}
		for f := 0; f < 3; f++ {
			content := fmt.Sprintf("# file %d of %d\nkey = value\n", f, d)
			if f == 2 {
				content = "stale\n" // to update
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("file %d.conf", f)), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		target := dir
		if d%5 == 0 {
			target = "/elsewhere" // to update
		}
		if err := os.Symlink(target, filepath.Join(root, fmt.Sprintf("link-%02d", d))); err != nil {
			t.Fatal(err)
		}
	}
}

func benchProbe(t testing.TB, rs []Resource) *Probe {
	p := NewProbe()
	for _, r := range rs {
		r.Observe(p)
	}
	return p
}

// TestRecordedProbe100 checks that the recorded reply still matches the
// probe the resources build, and what it plans. With -update it records a
// new reply from a real probe of a real tree.
func TestRecordedProbe100(t *testing.T) {
	file := filepath.Join("testdata", "probe-100.reply")
	if *golden.Update {
		root := filepath.Join(t.TempDir(), "srv", "app")
		makeBenchTree(t, root)
		c := benchProbe(t, benchResources(t, root)).Cmd()
		cmd := exec.Command(c.Args[0], c.Args[1:]...)
		cmd.Stdin = c.Stdin
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		// Facts of this machine would make the recording change at every
		// update: keep only the header, the records and the end marker.
		var kept []byte
		for _, l := range bytes.SplitAfter(out, []byte("\n")) {
			if !bytes.HasPrefix(l, []byte("F ")) {
				kept = append(kept, l...)
			}
		}
		out = bytes.ReplaceAll(kept, []byte(root), []byte(benchRoot))
		if err := os.WriteFile(file, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reply, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (regenerate with go test -run TestRecordedProbe100 -update ./resources/)", err)
	}
	rs := benchResources(t, benchRoot)
	o, err := ParseProbe(benchProbe(t, rs), reply)
	if err != nil {
		t.Fatal(err)
	}
	count := map[Action]int{}
	for _, r := range rs {
		c, err := r.Diff(o)
		if err != nil {
			t.Fatalf("%s: %v", r.Addr(), err)
		}
		count[c.Action]++
	}
	// dir-19, its 3 files and its link are created; 5 directories get
	// setgid; 19 files are stale; 4 links point elsewhere.
	want := map[Action]int{Create: 5, Update: 5 + 19 + 4, NoOp: 100 - 5 - 28}
	if len(rs) != 100 || count[Create] != want[Create] || count[Update] != want[Update] || count[NoOp] != want[NoOp] {
		t.Errorf("%d resources plan %v, want %v", len(rs), count, want)
	}
}

func BenchmarkParseProbe(b *testing.B) {
	reply, err := os.ReadFile(filepath.Join("testdata", "probe-100.reply"))
	if err != nil {
		b.Fatal(err)
	}
	p := benchProbe(b, benchResources(b, benchRoot))
	b.SetBytes(int64(len(reply)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseProbe(p, reply); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDiff(b *testing.B) {
	reply, err := os.ReadFile(filepath.Join("testdata", "probe-100.reply"))
	if err != nil {
		b.Fatal(err)
	}
	rs := benchResources(b, benchRoot)
	o, err := ParseProbe(benchProbe(b, rs), reply)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, r := range rs {
			if _, err := r.Diff(o); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkProbeShell runs the probe script itself (sh on this machine)
// over 500 and 4000 existing files: ns/op per size shows that the shell's
// work stays linear in the number of paths.
func BenchmarkProbeShell(b *testing.B) {
	for _, n := range []int{500, 4000} {
		b.Run(fmt.Sprintf("paths=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			p := NewProbe()
			for i := 0; i < n; i++ {
				path := filepath.Join(dir, fmt.Sprintf("some/longer name/file-%04d.conf", i))
				if i%500 == 0 {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						b.Fatal(err)
					}
				}
				if err := os.WriteFile(path, []byte{byte(i)}, 0o644); err != nil {
					b.Fatal(err)
				}
				p.Path(path, true)
			}
			for b.Loop() {
				c := p.Cmd()
				cmd := exec.Command(c.Args[0], c.Args[1:]...)
				cmd.Stdin = c.Stdin
				out, err := cmd.Output()
				if err != nil {
					b.Fatal(err)
				}
				if _, err := ParseProbe(p, out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
