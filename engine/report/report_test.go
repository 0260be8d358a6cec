package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"github.com/tendhq/tend/internal/golden"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tendhq/tend/resources"
)

var update = golden.Update

// goldenCases are the runs the golden tests render, by golden file prefix.
var goldenCases = []struct {
	name string
	run  func() *Run
	opts Options
}{
	{"plan_mixed", planMixed, Options{}},
	{"plan_mixed_color", planMixed, Options{Color: true}},
	{"apply_statuses", applyStatuses, Options{}},
	{"no_changes", noChanges, Options{}},
	{"single_host", singleHost, Options{}},
	{"failed_no_changes", failedNoChanges, Options{}},
	{"long_diff", longDiff, Options{MaxDiffLines: 8}},
	{"orphans", orphans, Options{}},
	{"rollout_plan", rolloutPlan, Options{}},
	{"rollout_plan_color", rolloutPlan, Options{Color: true}},
	{"rollout_stopped", rolloutStopped, Options{}},
	{"rollout_ok", rolloutOK, Options{}},
	{"prepare_failed", prepareFailed, Options{}},
}

// renderers names every renderer with the golden file suffix it writes.
var renderers = []struct {
	ext    string
	render func(w *bytes.Buffer, r *Run, o Options) error
}{
	{"txt", func(w *bytes.Buffer, r *Run, o Options) error { return Text(w, r, o) }},
	{"json", func(w *bytes.Buffer, r *Run, _ Options) error { return JSON(w, r) }},
	{"md", func(w *bytes.Buffer, r *Run, _ Options) error { return Markdown(w, r) }},
	{"summary", func(w *bytes.Buffer, r *Run, _ Options) error { return Summary(w, r) }},
}

// TestGolden renders every case with every renderer and compares the output
// with testdata/<case>.<renderer>.golden byte for byte. Run with -update to
// rewrite the goldens.
func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		for _, rd := range renderers {
			if tc.opts.Color && rd.ext != "txt" {
				continue // only Text has options
			}
			t.Run(tc.name+"."+rd.ext, func(t *testing.T) {
				var buf bytes.Buffer
				if err := rd.render(&buf, tc.run(), tc.opts); err != nil {
					t.Fatalf("render: %v", err)
				}
				path := filepath.Join("testdata", tc.name+"."+rd.ext+".golden")
				if *update {
					if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("read golden (run go test ./engine/report -update to create it): %v", err)
				}
				if !bytes.Equal(buf.Bytes(), want) {
					t.Errorf("output differs from %s (-want +got):\n%s", path, cmp.Diff(string(want), buf.String()))
				}
			})
		}
	}
}

// TestTextFinalLines checks the exact final lines of Text for the cases the
// brief names.
func TestTextFinalLines(t *testing.T) {
	for _, tc := range []struct {
		run  *Run
		want string
	}{
		{planMixed(), "Plan: 3 hosts, 2 to create, 5 to update, 1 to delete.\nError: 1 of 3 hosts failed.\n"},
		{noChanges(), "No changes. 3 hosts are converged.\n"},
		{singleHost(), "No changes. 1 host is converged.\n"},
		{failedNoChanges(), "Plan: 2 hosts, 0 to create, 0 to update, 0 to delete.\nError: 1 of 2 hosts failed.\n"},
		{rolloutStopped(), "Plan: 4 hosts, 0 to create, 1 to update, 0 to delete.\nError: 1 of 4 hosts failed, 2 not started.\n"},
		{prepareFailed(), "Plan: 2 hosts, 0 to create, 0 to update, 0 to delete.\nError: 2 of 2 hosts not started.\n"},
	} {
		var buf bytes.Buffer
		if err := Text(&buf, tc.run, Options{}); err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(buf.String(), "\n"+tc.want) && buf.String() != tc.want {
			t.Errorf("Text ends with:\n%s\nwant:\n%s", lastLines(buf.String(), 3), tc.want)
		}
	}
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	return strings.Join(l[max(len(l)-n, 0):], "\n")
}

// TestTextSkipsConvergedHosts checks that a converged host prints no block
// while a failed one does.
func TestTextSkipsConvergedHosts(t *testing.T) {
	var buf bytes.Buffer
	if err := Text(&buf, planMixed(), Options{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Contains(out, "app1") || strings.Contains(out, "motd") {
		t.Errorf("converged host or unchanged resource printed:\n%s", out)
	}
	for _, want := range []string{"host db1 (10.0.0.21)\n  ! unreachable: connect db1", "host web1 (10.0.0.11)\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestTextDiffTruncation checks that a diff longer than MaxDiffLines is cut
// with a count of what was left out, and that 0 means the default cap.
func TestTextDiffTruncation(t *testing.T) {
	var buf bytes.Buffer
	if err := Text(&buf, longDiff(), Options{MaxDiffLines: 3}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "      ... (") {
		t.Errorf("no truncation marker with MaxDiffLines 3:\n%s", buf.String())
	}
	buf.Reset()
	if err := Text(&buf, longDiff(), Options{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "more line") {
		t.Errorf("diff truncated under the default cap:\n%s", buf.String())
	}
}

// TestTextEscapesControlCharacters checks that an escape sequence in file
// content reaches the output escaped, not raw.
func TestTextEscapesControlCharacters(t *testing.T) {
	for _, color := range []bool{false, true} {
		var buf bytes.Buffer
		if err := Text(&buf, longDiff(), Options{Color: color}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), `\x1b[31mred\x1b[0m`) {
			t.Errorf("escaped content missing (color %v):\n%s", color, buf.String())
		}
		if !color && strings.Contains(buf.String(), "\x1b") {
			t.Errorf("raw escape character in uncolored output:\n%q", buf.String())
		}
	}
}

// TestMarkdownFence checks that content holding a ``` fence does not close
// the diff block early: the block's fence must be longer.
func TestMarkdownFence(t *testing.T) {
	var buf bytes.Buffer
	if err := Markdown(&buf, longDiff()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "\n````diff\n") || !strings.Contains(buf.String(), "\n````\n\n</details>") {
		t.Errorf("diff block not fenced with four backticks:\n%s", buf.String())
	}
}

// TestMarkdownHoistsMarks checks that diff and resource marks sit in
// column 0 of the Markdown block, where GitHub highlights them.
func TestMarkdownHoistsMarks(t *testing.T) {
	var buf bytes.Buffer
	if err := Markdown(&buf, planMixed()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\n+ directory[/etc/devops-map]\n",
		"\n-    debug = true\n",
		"\n+    debug = false\n",
		"\n- symlink[/usr/local/bin/old]\n",
		"\n! unreachable: connect db1",
		"<details><summary>host web1 (10.0.0.11): 2 to create, 5 to update, 1 to delete</summary>",
		"| db1 | 0 | 0 | 0 | failed |",
		"| app1 | 0 | 0 | 0 | converged |",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, buf.String())
		}
	}
}

// TestJSONSchema decodes the JSON output and checks the fields tools rely
// on: the version, the summary, no-op resources, and null values.
func TestJSONSchema(t *testing.T) {
	var buf bytes.Buffer
	if err := JSON(&buf, planMixed()); err != nil {
		t.Fatal(err)
	}
	var got JSONReport
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if got.FormatVersion != "1" || got.Mode != "plan" || got.Started != "2025-03-14T09:26:53Z" || got.DurationMS != 2310 {
		t.Errorf("header = %q %q %q %d", got.FormatVersion, got.Mode, got.Started, got.DurationMS)
	}
	if want := (JSONSummary{Hosts: 3, Create: 2, Update: 5, Delete: 1, Failed: 1}); got.Summary != want {
		t.Errorf("summary = %+v, want %+v", got.Summary, want)
	}
	web := got.Hosts[2]
	byAddr := map[string]JSONResource{}
	for _, r := range web.Resources {
		byAddr[r.Address] = r
	}
	if r := byAddr["file[/etc/motd]"]; r.Action != "no-op" || r.Status != "unchanged" || r.Attributes == nil {
		t.Errorf("unchanged resource = %+v", r)
	}
	dir := byAddr["directory[/etc/devops-map]"]
	if a := dir.Attributes[0]; a.Before != nil || a.After == nil || *a.After != "0755" {
		t.Errorf("create attribute = %+v", a)
	}
	tok := byAddr["file[/etc/devops-map/token]"].Content
	if tok == nil || !tok.Sensitive || tok.Diff != nil || tok.BeforeSize != nil || tok.AfterSHA256 != nil {
		t.Errorf("sensitive content = %+v", tok)
	}
	cfg := byAddr["file[/etc/devops-map/config.toml]"].Content
	if cfg == nil || cfg.Diff == nil || !strings.Contains(*cfg.Diff, "-debug = true\n+debug = false\n") {
		t.Errorf("config diff = %+v", cfg)
	}
	if nf := byAddr["file[/etc/devops-map/app.env]"].Content; nf.BeforeSize != nil || nf.AfterSize == nil || *nf.AfterSize != 29 {
		t.Errorf("new file content = %+v", nf)
	}
	if lg := byAddr["file[/var/lib/app/data.csv]"].Content; lg.Diff != nil || lg.BeforeSHA256 == nil {
		t.Errorf("large file content = %+v", lg)
	}
	if png := byAddr["file[/usr/share/app/logo.png]"].Content; !png.Binary || png.Diff != nil {
		t.Errorf("binary content = %+v", png)
	}
}

// TestSummaryLines checks the apply summary's columns and total.
func TestSummaryLines(t *testing.T) {
	var buf bytes.Buffer
	if err := Summary(&buf, applyStatuses()); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"db1   FAILED   unreachable: connect db1 (10.0.0.21:22): dial tcp 10.0.0.21:22: i/o timeout",
		"web1  FAILED   2 changed, 1 failed, 1 not converged, 1 skipped, 1 not observed, 2 unchanged   1.20s (connect 0.10s, probe 0.05s, apply 0.90s, verify 0.15s)",
		"web2  ok       2 changed, 28 unchanged                                                        0.95s (connect 0.08s, probe 0.04s, apply 0.70s, verify 0.13s)",
		"web3  ok       0 changed, 30 unchanged                                                        0.31s (connect 0.09s, probe 0.06s)",
		"Apply: 4 hosts, 2 ok, 2 failed; 4 resources changed in 3.45s.",
	}
	if diff := cmp.Diff(want, strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestWriteErrors checks that every renderer returns the writer's error.
func TestWriteErrors(t *testing.T) {
	r := planMixed()
	for name, err := range map[string]error{
		"text":     Text(failWriter{}, r, Options{}),
		"json":     JSON(failWriter{}, r),
		"markdown": Markdown(failWriter{}, r),
		"summary":  Summary(failWriter{}, r),
	} {
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("%s: err = %v, want the writer's error", name, err)
		}
	}
}

// TestAttrValue checks attribute formatting per action.
func TestAttrValue(t *testing.T) {
	for _, tc := range []struct {
		act  resources.Action
		a    resources.AttrChange
		want string
	}{
		{resources.Create, attr("mode", "", "0755"), `"0755"`},
		{resources.Update, attr("mode", "0644", "0640"), `"0644" -> "0640"`},
		{resources.Update, attr("owner", "", "root"), `"" -> "root"`},
		{resources.Delete, attr("target", "/x", ""), `"/x" -> null`},
		{resources.Update, attr("note", "a\"b", "c\nd"), `"a\"b" -> "c\nd"`},
		{resources.Create, resources.AttrChange{Name: "pw", After: "x", Sensitive: true}, "(sensitive value)"},
		{resources.Update, resources.AttrChange{Name: "pw", Before: "x", After: "y", Sensitive: true}, "(sensitive value) -> (sensitive value)"},
	} {
		if got := attrValue(tc.act, tc.a); got != tc.want {
			t.Errorf("attrValue(%v, %+v) = %s, want %s", tc.act, tc.a, got, tc.want)
		}
	}
}
