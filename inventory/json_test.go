package inventory

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
)

// TestLoadJSON loads the site inventory written in HCL's JSON syntax
// (testdata/sitejson) and expects exactly the hosts and groups of its HCL
// form (testdata/site), as a directory, as single files and mixed with HCL.
func TestLoadJSON(t *testing.T) {
	env := map[string]string{"TEND_TEST_BUCKET": "s3://site-backups"}
	want := mustLoad(t, "testdata/site", env)
	got := mustLoad(t, "testdata/sitejson", env)
	if diff := cmp.Diff(want.Hosts, got.Hosts, ignoreRanges, ctyAsGo); diff != "" {
		t.Errorf("hosts of sitejson (-site +sitejson):\n%s", diff)
	}
	if diff := cmp.Diff(want.Groups, got.Groups, ignoreRanges); diff != "" {
		t.Errorf("groups of sitejson (-site +sitejson):\n%s", diff)
	}
	wantFiles := []string{"testdata/sitejson/groups.hcl.json", "testdata/sitejson/hosts.hcl.json"}
	if diff := cmp.Diff(wantFiles, slices.Sorted(mapsKeys(got.Files()))); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	// Ranges point into the JSON files, at the block's body.
	if r := got.Host("ext1").DeclRange; r.Filename != "testdata/sitejson/hosts.hcl.json" || r.Start.Line != 29 {
		t.Errorf("ext1 declared at %s, want testdata/sitejson/hosts.hcl.json:29", position(r))
	}
	if r := got.Groups["canary"].DeclRange; r.Filename != "testdata/sitejson/groups.hcl.json" || r.Start.Line != 31 {
		t.Errorf("canary declared at %s, want testdata/sitejson/groups.hcl.json:31", position(r))
	}

	// HCL and JSON files side by side are read in name order, together;
	// a single file ending in .json is JSON too.
	groups, err := os.ReadFile("testdata/site/groups.hcl")
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := os.ReadFile("testdata/sitejson/hosts.hcl.json")
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{
		"mixed/groups.hcl":       {Data: groups},
		"mixed/hosts.hcl.json":   {Data: hosts},
		"mixed/notes.json":       {Data: []byte(`not an inventory file`)},
		"mixed/.hidden.hcl.json": {Data: []byte(`not read either`)},
		"single/inventory.json":  {Data: []byte(`{"host": {"a": {"address": "${upper(\"x\")}"}}}`)},
	}
	mixed, diags := load(fsReader(fsys, "mixed"), fakeEnv(env))
	if len(diags) > 0 {
		t.Fatalf("load mixed: %s", diags.Error())
	}
	if diff := cmp.Diff(want.Hosts, mixed.Hosts, ignoreRanges, ctyAsGo); diff != "" {
		t.Errorf("hosts of mixed (-site +mixed):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"mixed/groups.hcl", "mixed/hosts.hcl.json"}, slices.Sorted(mapsKeys(mixed.Files()))); diff != "" {
		t.Errorf("files of mixed (-want +got):\n%s", diff)
	}
	single, diags := load(fsReader(fsys, "single/inventory.json"), fakeEnv(nil))
	if len(diags) > 0 || len(single.Hosts) != 1 || single.Hosts[0].Address != "X" {
		t.Errorf("load single/inventory.json = %v, %v; want host a at address X", single.Hosts, diags)
	}
}

// TestJSONDiagnostics checks that problems in a JSON inventory file are
// reported at their line and column, and print with the JSON source line.
func TestJSONDiagnostics(t *testing.T) {
	const path = "testdata/invalid/json.hcl.json"
	type at struct {
		Line, Column int
		Summary      string
	}
	want := []at{
		{3, 13, "Incorrect attribute value type"},
		{4, 13, "Invalid vars"},
		{8, 22, "Empty value"},
		{9, 22, "Missing vars file"},
		{10, 7, "Extraneous JSON object property"},
		{15, 18, "Unknown group"},
		{16, 30, "Too many function arguments"},
	}
	inv, diags := loadFake(t, path, nil)
	var got []at
	for _, d := range diags {
		if d.Subject == nil || d.Subject.Filename != path {
			t.Errorf("diagnostic %q is not placed in %s: %v", d.Summary, path, d.Subject)
			continue
		}
		got = append(got, at{d.Subject.Start.Line, d.Subject.Start.Column, d.Summary})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("diagnostics (-want +got):\n%s\nall:\n%s", diff, diags.Error())
	}

	var buf bytes.Buffer
	w := hcl.NewDiagnosticTextWriter(&buf, inv.Files(), 100, false)
	if err := w.WriteDiagnostics(diags); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"on testdata/invalid/json.hcl.json line 3",
		`"port": "abc",`,
		"on testdata/invalid/json.hcl.json line 16",
		`"address": "${upper(1, 2)}"`,
	} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("diagnostic text lacks %q:\n%s", s, buf.String())
		}
	}

	// A syntax error too has a position.
	_, diags = build([]source{{name: "bad.hcl.json", src: []byte("{\n  \"host\": {\"a\": {}},\n  oops\n}\n")}},
		osReader("."), fakeEnv(nil))
	if !diags.HasErrors() || diags[0].Subject == nil || diags[0].Subject.Filename != "bad.hcl.json" ||
		diags[0].Subject.Start.Line != 3 {
		t.Errorf("syntax error diagnostics %v, want one at bad.hcl.json:3", diags)
	}
}
