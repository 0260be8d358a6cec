package inventory

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// fakeEnv is the machine the tests pretend to run on: home /home/tester,
// user tester, an SSH agent, the keys ~/.ssh/id_ed25519 and ~/.ssh/id_rsa
// (not id_ecdsa), and the environment variables env.
func fakeEnv(env map[string]string) sysEnv {
	all := map[string]string{"SSH_AUTH_SOCK": "/tmp/agent.sock"}
	for k, v := range env {
		all[k] = v
	}
	return sysEnv{
		home: "/home/tester",
		user: "tester",
		lookupEnv: func(k string) (string, bool) {
			v, ok := all[k]
			return v, ok
		},
		exists: func(p string) bool {
			return p == "/home/tester/.ssh/id_ed25519" || p == "/home/tester/.ssh/id_rsa"
		},
	}
}

// loadFake loads the inventory at path on fakeEnv(env).
func loadFake(t *testing.T, path string, env map[string]string) (*Inventory, hcl.Diagnostics) {
	t.Helper()
	return load(osReader(path), fakeEnv(env))
}

// mustLoad loads the inventory at path on fakeEnv and fails on any
// diagnostic.
func mustLoad(t *testing.T, path string, env map[string]string) *Inventory {
	t.Helper()
	inv, diags := loadFake(t, path, env)
	if len(diags) > 0 {
		t.Fatalf("load %s: unexpected diagnostics:\n%s", path, diags.Error())
	}
	return inv
}

// vars builds an object from JSON, for expected Host.Vars.
func vars(t *testing.T, js string) cty.Value {
	t.Helper()
	ty, err := ctyjson.ImpliedType([]byte(js))
	if err != nil {
		t.Fatalf("vars %s: %v", js, err)
	}
	v, err := ctyjson.Unmarshal([]byte(js), ty)
	if err != nil {
		t.Fatalf("vars %s: %v", js, err)
	}
	return v
}

// ctyAsGo compares cty values by their JSON form: lists, tuples and sets
// of the same elements compare equal, as do maps and objects.
var ctyAsGo = cmp.Transformer("ctyjson", func(v cty.Value) any {
	if v == cty.NilVal {
		return "<nil cty.Value>"
	}
	b, err := ctyjson.SimpleJSONValue{Value: v}.MarshalJSON()
	if err != nil {
		return fmt.Sprintf("<cannot marshal: %v>", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Sprintf("<cannot unmarshal: %v>", err)
	}
	return out
})

// ignoreRanges leaves source ranges out of comparisons; tests check them
// on their own.
var ignoreRanges = cmpopts.IgnoreTypes(hcl.Range{})

func TestLoadSite(t *testing.T) {
	inv := mustLoad(t, "testdata/site", map[string]string{"TEND_TEST_BUCKET": "s3://site-backups"})

	siteVars := `"env": "prod", "http_port": 8080, "motd": "managed by tend",
		"ntp_servers": ["0.pool.ntp.org", "1.pool.ntp.org"]`
	bastionJump := &Jump{
		Address:       "203.0.113.10",
		Port:          2200,
		User:          "jump",
		IdentityFiles: []string{"/home/tester/.ssh/deploy_ed25519"},
		UseAgent:      true,
		KnownHosts:    "/home/tester/.ssh/known_hosts_site",
	}
	// base is a host with the site's defaults merged in.
	base := func(name, addr string) *Host {
		return &Host{
			Name:           name,
			Address:        addr,
			Port:           22,
			User:           "deploy",
			IdentityFiles:  []string{"/home/tester/.ssh/deploy_ed25519"},
			UseAgent:       true,
			KnownHosts:     "/home/tester/.ssh/known_hosts_site",
			BecomeUser:     "root",
			Jump:           bastionJump,
			ConnectTimeout: 5 * time.Second,
			Vars:           vars(t, `{`+siteVars+`}`),
		}
	}
	bastion := base("bastion", "203.0.113.10")
	bastion.User, bastion.Port, bastion.Jump = "jump", 2200, nil

	canary1 := base("canary1", "10.0.0.21")
	canary1.Groups = []string{"edge", "web", "canary"}
	canary1.UseAgent, canary1.Become = false, true
	canary1.Vars = vars(t, `{`+siteVars+`, "http_port": 8081, "nginx": {"workers": 1}, "release_channel": "beta"}`)

	db1 := base("db1", "10.0.1.5")
	db1.Groups = []string{"db", "monitored"}
	db1.User, db1.Port, db1.Become, db1.BecomeUser = "dba", 2222, true, "postgres"
	db1.Vars = vars(t, `{`+siteVars+`, "pg_version": 15, "exporter_port": 9100, "release_channel": "stable",
		"backup_bucket": "s3://site-backups", "dsn": "pg:5432"}`)

	ext1 := base("ext1", "198.51.100.7")
	ext1.IdentityFiles = []string{"/home/tester/.ssh/ext_ed25519", "/etc/tend/ext_rsa"}
	ext1.KnownHosts = "/etc/tend/known_hosts"
	ext1.ConnectTimeout = 30 * time.Second
	ext1.Jump = &Jump{
		Address:       "gw.example.net",
		Port:          2022,
		User:          "ops",
		IdentityFiles: ext1.IdentityFiles,
		UseAgent:      true,
		KnownHosts:    "/etc/tend/known_hosts",
	}

	web1 := base("web1", "10.0.0.11")
	web1.Groups = []string{"edge", "web", "monitored"}
	web1.UseAgent, web1.Become = false, true
	web1.Vars = vars(t, `{`+siteVars+`, "http_port": 8081, "nginx": {"workers": 4, "gzip": true},
		"exporter_port": 9100, "release_channel": "stable"}`)

	web2 := base("web2", "10.0.0.12")
	web2.Groups = []string{"edge", "web"}
	web2.UseAgent, web2.Become = false, true
	web2.Vars = vars(t, `{`+siteVars+`, "http_port": 9000, "nginx": {"workers": 4, "gzip": true}}`)

	want := []*Host{bastion, canary1, db1, ext1, web1, web2}
	if diff := cmp.Diff(want, inv.Hosts, ignoreRanges, ctyAsGo); diff != "" {
		t.Errorf("hosts (-want +got):\n%s", diff)
	}

	wantGroups := map[string]*Group{
		"edge":      {Name: "edge", Children: []string{"web"}},
		"web":       {Name: "web", Parents: []string{"edge"}, Children: []string{"canary"}},
		"canary":    {Name: "canary", Parents: []string{"web"}},
		"db":        {Name: "db"},
		"monitored": {Name: "monitored"},
	}
	if diff := cmp.Diff(wantGroups, inv.Groups, ignoreRanges); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}

	// Ranges point at the block headers.
	for _, c := range []struct {
		got  hcl.Range
		file string
		line int
	}{
		{inv.Host("web1").DeclRange, "testdata/site/hosts.hcl", 9},
		{inv.Host("ext1").DeclRange, "testdata/site/hosts.hcl", 34},
		{inv.Groups["canary"].DeclRange, "testdata/site/groups.hcl", 35},
	} {
		if c.got.Filename != c.file || c.got.Start.Line != c.line || c.got.Start.Column != 1 {
			t.Errorf("range %s, want %s:%d:1", position(c.got), c.file, c.line)
		}
	}

	if got := inv.Host("db1"); got == nil || got.Name != "db1" {
		t.Errorf("Host(db1) = %v", got)
	}
	if got := inv.Host("nosuch"); got != nil {
		t.Errorf("Host(nosuch) = %v, want nil", got)
	}
	if files := inv.Files(); len(files) != 2 || files["testdata/site/groups.hcl"] == nil ||
		files["testdata/site/hosts.hcl"] == nil {
		t.Errorf("Files() has %v, want the two site files", slices.Sorted(mapsKeys(files)))
	}
}

// mapsKeys returns the keys of m, for messages.
func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestPrecedence(t *testing.T) {
	inv := mustLoad(t, "testdata/precedence.hcl", nil)
	for _, c := range []struct {
		host   string
		groups []string
		port   int
		user   string
		vars   map[string]string
	}{
		{"h1", []string{"parent", "child"}, 1004, "tester",
			map[string]string{"a": "defaults", "b": "parent", "c": "child", "d": "host"}},
		{"h2", []string{"parent", "child"}, 1003, "tester",
			map[string]string{"a": "defaults", "b": "parent", "c": "child", "d": "child"}},
		{"h3", []string{"first", "second"}, 1001, "second",
			map[string]string{"a": "defaults", "b": "defaults", "c": "defaults", "d": "defaults",
				"x": "first", "y": "second"}},
		{"h4", []string{"metrics", "late", "app"}, 1001, "tester",
			map[string]string{"a": "defaults", "b": "defaults", "c": "defaults", "d": "defaults", "z": "app"}},
		{"h5", []string{"top", "left", "right", "bottom"}, 1001, "tester",
			map[string]string{"a": "defaults", "b": "defaults", "c": "defaults", "d": "defaults",
				"w": "right", "v": "left"}},
	} {
		t.Run(c.host, func(t *testing.T) {
			h := inv.Host(c.host)
			if h == nil {
				t.Fatalf("no host %s", c.host)
			}
			if diff := cmp.Diff(c.groups, h.Groups); diff != "" {
				t.Errorf("groups (-want +got):\n%s", diff)
			}
			if h.Port != c.port || h.User != c.user {
				t.Errorf("port %d user %q, want %d %q", h.Port, h.User, c.port, c.user)
			}
			want := map[string]cty.Value{}
			for k, v := range c.vars {
				want[k] = cty.StringVal(v)
			}
			if wv := cty.ObjectVal(want); !h.Vars.Equals(wv).True() {
				t.Errorf("vars %#v, want %#v", h.Vars, wv)
			}
			for _, g := range c.groups {
				if !h.InGroup(g) {
					t.Errorf("InGroup(%s) = false", g)
				}
			}
		})
	}
}

func TestBuiltinDefaults(t *testing.T) {
	src := []byte(`
host "plain" {}
host "nokeys" {
  identity_files = []
  ssh_agent      = false
}
host "nulls" {
  port = null
  user = null
  vars = null
}
host "home" {
  identity_file = "~"
  known_hosts   = "~/kh"
  become        = true
  jump          = "" # nothing to undo; still valid
}
`)
	inv, diags := build([]source{{name: "defaults.hcl", src: src}}, osReader("."), fakeEnv(nil))
	if len(diags) > 0 {
		t.Fatalf("diagnostics:\n%s", diags.Error())
	}
	plain := &Host{
		Name: "plain", Address: "plain", Port: 22, User: "tester",
		IdentityFiles: []string{"/home/tester/.ssh/id_ed25519", "/home/tester/.ssh/id_rsa"},
		UseAgent:      true, KnownHosts: "/home/tester/.ssh/known_hosts",
		BecomeUser: "root", ConnectTimeout: 10 * time.Second, Vars: cty.EmptyObjectVal,
	}
	nokeys := *plain
	nokeys.Name, nokeys.Address, nokeys.IdentityFiles, nokeys.UseAgent = "nokeys", "nokeys", nil, false
	nulls := *plain
	nulls.Name, nulls.Address = "nulls", "nulls"
	home := *plain
	home.Name, home.Address, home.IdentityFiles, home.KnownHosts, home.Become =
		"home", "home", []string{"/home/tester"}, "/home/tester/kh", true
	want := []*Host{&home, &nokeys, &nulls, plain}
	if diff := cmp.Diff(want, inv.Hosts, ignoreRanges, ctyAsGo, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("hosts (-want +got):\n%s", diff)
	}
	if !inv.Host("plain").Vars.RawEquals(cty.EmptyObjectVal) {
		t.Errorf("vars of a host without vars = %#v, want cty.EmptyObjectVal", inv.Host("plain").Vars)
	}

	// Without an agent socket, the agent is off even when asked for.
	env := fakeEnv(nil)
	env.lookupEnv = func(string) (string, bool) { return "", false }
	inv, _ = build([]source{{name: "a.hcl", src: []byte(`host "a" { ssh_agent = true }`)}}, osReader("."), env)
	if inv.Host("a").UseAgent {
		t.Errorf("UseAgent without SSH_AUTH_SOCK = true, want false")
	}
}

// TestLoadOS loads through the public Load, on this machine's user and a
// home directory of the test's own.
func TestLoadOS(t *testing.T) {
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".ssh", "id_ecdsa"), []byte("key"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A directory named like a key is not a key.
	if err := os.Mkdir(filepath.Join(home, ".ssh", "id_rsa"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	t.Setenv("SSH_AUTH_SOCK", "/nonexistent/agent.sock")
	t.Setenv("TEND_TEST_MOTD", "hello from env")
	dir := t.TempDir()
	inv := filepath.Join(dir, "inventory.hcl")
	src := `host "local" {
  address = "127.0.0.1"
  vars    = { motd = env("TEND_TEST_MOTD"), unset = env("TEND_TEST_UNSET_VARIABLE") }
}
`
	if err := os.WriteFile(inv, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	me, err := user.Current()
	if err != nil {
		t.Fatalf("current user: %v", err)
	}

	for _, path := range []string{inv, dir} {
		got, diags := Load(path)
		if len(diags) > 0 {
			t.Fatalf("Load(%s): %s", path, diags.Error())
		}
		want := []*Host{{
			Name: "local", Address: "127.0.0.1", Port: 22, User: me.Username,
			IdentityFiles: []string{filepath.Join(home, ".ssh", "id_ecdsa")},
			UseAgent:      true, KnownHosts: filepath.Join(home, ".ssh", "known_hosts"),
			BecomeUser: "root", ConnectTimeout: 10 * time.Second,
			Vars: vars(t, `{"motd": "hello from env", "unset": ""}`),
		}}
		if diff := cmp.Diff(want, got.Hosts, ignoreRanges, ctyAsGo); diff != "" {
			t.Errorf("Load(%s) hosts (-want +got):\n%s", path, diff)
		}
		if _, ok := got.Files()[inv]; !ok {
			t.Errorf("Load(%s) files %v, want %s", path, slices.Sorted(mapsKeys(got.Files())), inv)
		}
	}

	os.Unsetenv("SSH_AUTH_SOCK")
	got, _ := Load(inv)
	if got.Hosts[0].UseAgent {
		t.Errorf("UseAgent without SSH_AUTH_SOCK = true, want false")
	}
}

func TestLoadFS(t *testing.T) {
	fsys := fstest.MapFS{
		"inv/b.hcl":         {Data: []byte(`host "b" { groups = ["g"] }`)},
		"inv/a.hcl":         {Data: []byte(`group "g" {}` + "\n" + `host "a" { groups = ["g"] }`)},
		"inv/.hidden.hcl":   {Data: []byte(`this is not read`)},
		"inv/notes.txt":     {Data: []byte(`nor this`)},
		"inv/sub/c.hcl":     {Data: []byte(`host "c" {}`)},
		"inv/dir.hcl/x.hcl": {Data: []byte(`host "x" {}`)},
		"bad/a.hcl":         {Data: []byte(`host "a" { port = "x" }`)},
		"empty/readme.md":   {Data: []byte(`no inventory here`)},
	}
	inv, diags := LoadFS(fsys, "inv")
	if len(diags) > 0 {
		t.Fatalf("LoadFS: %s", diags.Error())
	}
	var names []string
	for _, h := range inv.Hosts {
		names = append(names, h.Name)
	}
	if diff := cmp.Diff([]string{"a", "b"}, names); diff != "" {
		t.Errorf("hosts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"inv/a.hcl", "inv/b.hcl"}, slices.Sorted(mapsKeys(inv.Files()))); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}

	// One file, and diagnostics naming it by its path in fsys.
	_, diags = LoadFS(fsys, "bad/a.hcl")
	if len(diags) != 1 || diags[0].Subject == nil || diags[0].Subject.Filename != "bad/a.hcl" {
		t.Errorf("LoadFS(bad/a.hcl) = %v, want one diagnostic in bad/a.hcl", diags)
	}

	for _, c := range []struct{ dir, summary string }{
		{"nosuch", "Cannot read inventory"},
		{"empty", "Empty inventory"},
	} {
		inv, diags := LoadFS(fsys, c.dir)
		if inv == nil || len(diags) != 1 || diags[0].Summary != c.summary || !strings.Contains(diags[0].Detail, c.dir) {
			t.Errorf("LoadFS(%s) = %v, %v; want a non-nil inventory and %q naming it", c.dir, inv, diags, c.summary)
		}
	}
	if _, diags := Load(filepath.Join(t.TempDir(), "missing")); !diags.HasErrors() ||
		diags[0].Summary != "Cannot read inventory" {
		t.Errorf("Load(missing) = %v, want Cannot read inventory", diags)
	}
}

func TestSelect(t *testing.T) {
	inv := mustLoad(t, "testdata/site", nil)
	for _, c := range []struct {
		limit []string
		want  []string
		err   []string // substrings of the error
	}{
		{limit: nil, want: []string{"bastion", "canary1", "db1", "ext1", "web1", "web2"}},
		{limit: []string{"web*"}, want: []string{"web1", "web2"}},
		{limit: []string{"group:web"}, want: []string{"canary1", "web1", "web2"}},
		{limit: []string{"group:edge", "host:db1"}, want: []string{"canary1", "db1", "web1", "web2"}},
		{limit: []string{"db?", "host:ext1"}, want: []string{"db1", "ext1"}},
		{limit: []string{"web*", "group:web", "web1"}, want: []string{"canary1", "web1", "web2"}},
		{limit: []string{"*[12]"}, want: []string{"canary1", "db1", "ext1", "web1", "web2"}},
		{limit: []string{"nomatch*"}, err: []string{`no host matches pattern "nomatch*"`}},
		{limit: []string{"web1", "zzz", "group:nosuch"},
			err: []string{`no host matches pattern "zzz"`, `no group named "nosuch"`}},
		{limit: []string{"host:web"}, err: []string{`no host matches pattern "host:web"`}},
		{limit: []string{"web[1"}, err: []string{`bad host pattern "web[1"`}},
	} {
		got, err := inv.Select(c.limit)
		if c.err != nil {
			if err == nil {
				t.Errorf("Select(%q) = %d hosts, want an error", c.limit, len(got))
				continue
			}
			for _, s := range c.err {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Select(%q) error %q, want it to contain %q", c.limit, err, s)
				}
			}
			continue
		}
		if err != nil {
			t.Errorf("Select(%q): %v", c.limit, err)
			continue
		}
		var names []string
		for _, h := range got {
			names = append(names, h.Name)
		}
		if diff := cmp.Diff(c.want, names); diff != "" {
			t.Errorf("Select(%q) (-want +got):\n%s", c.limit, diff)
		}
	}

	// An empty limit returns a copy: callers may reorder it.
	all, _ := inv.Select(nil)
	all[0] = nil
	if inv.Hosts[0] == nil {
		t.Errorf("Select(nil) shares the inventory's slice")
	}
	// A malformed glob is an error even with no hosts to try it on.
	if _, err := (&Inventory{}).Select([]string{"["}); err == nil {
		t.Errorf("Select([) on an empty inventory: no error")
	}
}

// diagLine is one diagnostic as the fixtures mark it.
type diagLine struct {
	Line    int
	Summary string
}

// markers reads the "# ERROR: summary" markers of a fixture.
func markers(t *testing.T, path string) []diagLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []diagLine
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		parts := strings.Split(sc.Text(), "# ERROR:")
		for _, p := range parts[1:] {
			out = append(out, diagLine{n, strings.TrimSpace(p)})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDiagnostics(t *testing.T) {
	paths, err := filepath.Glob("testdata/invalid/*.hcl")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures in testdata/invalid: %v", err)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			want := markers(t, path)
			if len(want) == 0 {
				t.Fatalf("%s has no # ERROR: markers", path)
			}
			inv, diags := loadFake(t, path, nil)
			if inv == nil {
				t.Fatalf("load returned a nil inventory")
			}
			var got []diagLine
			for _, d := range diags {
				if d.Subject == nil {
					t.Errorf("diagnostic without a subject: %s: %s", d.Summary, d.Detail)
					continue
				}
				if d.Subject.Filename != path {
					t.Errorf("diagnostic in %s, want %s: %s", d.Subject.Filename, path, d.Summary)
				}
				if d.Severity != hcl.DiagError || d.Summary == "" || d.Detail == "" {
					t.Errorf("diagnostic at line %d lacks severity, summary or detail: %#v", d.Subject.Start.Line, d)
				}
				got = append(got, diagLine{d.Subject.Start.Line, d.Summary})
			}
			sortLines := cmpopts.SortSlices(func(a, b diagLine) bool {
				return a.Line < b.Line || a.Line == b.Line && a.Summary < b.Summary
			})
			if diff := cmp.Diff(want, got, sortLines, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s\nall:\n%s", diff, diags.Error())
			}
		})
	}
}

// TestDiagnosticDetails checks the details that name other places: the
// first declaration of a duplicate, the members of a cycle.
func TestDiagnosticDetails(t *testing.T) {
	fsys := fstest.MapFS{
		"inv/a.hcl": {Data: []byte("# first\nhost \"web1\" {}\n\n  group \"web\" {}\n")},
		"inv/b.hcl": {Data: []byte("host \"web1\" {}\ngroup \"web\" {}\n")},
	}
	_, diags := LoadFS(fsys, "inv")
	details := map[string]string{}
	for _, d := range diags {
		details[d.Summary] = d.Detail
	}
	for summary, want := range map[string]string{
		"Duplicate host":  "inv/a.hcl:2:1",
		"Duplicate group": "inv/a.hcl:4:3",
	} {
		if !strings.Contains(details[summary], want) {
			t.Errorf("%s: detail %q, want it to name %s", summary, details[summary], want)
		}
	}
	if len(diags) != 2 {
		t.Errorf("got %d diagnostics, want 2:\n%s", len(diags), diags.Error())
	}

	// Misspelt names come with a suggestion.
	for path, want := range map[string]string{
		"testdata/invalid/unknowngroup.hcl": `lists "cnary" in its children, but no group of that name is declared. Did you mean "canary"?`,
		"testdata/invalid/jump.hcl":         `No host named "bastoin" is in the inventory. Did you mean "bastion"?`,
	} {
		_, diags := loadFake(t, path, nil)
		found := false
		for _, d := range diags {
			found = found || strings.Contains(d.Detail, want)
		}
		if !found {
			t.Errorf("%s: no diagnostic detail contains %q:\n%s", path, want, diags.Error())
		}
	}

	_, diags = loadFake(t, "testdata/invalid/cycle.hcl", nil)
	var cycles []string
	for _, d := range diags {
		if d.Summary == "Group cycle" {
			cycles = append(cycles, d.Detail)
		}
	}
	want := []string{
		"The children of these groups form a loop: a -> b -> c -> a. A group cannot be its own descendant.",
		"The children of these groups form a loop: self -> self. A group cannot be its own descendant.",
	}
	if diff := cmp.Diff(want, cycles); diff != "" {
		t.Errorf("cycle details (-want +got):\n%s", diff)
	}
}

// TestDiagnosticText prints diagnostics the way the CLI does, with source
// snippets from Files.
func TestDiagnosticText(t *testing.T) {
	inv, diags := loadFake(t, "testdata/invalid/port.hcl", nil)
	var buf bytes.Buffer
	w := hcl.NewDiagnosticTextWriter(&buf, inv.Files(), 80, false)
	if err := w.WriteDiagnostics(diags); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, s := range []string{
		"Error: Invalid port",
		"on testdata/invalid/port.hcl line 7",
		"port = 70000",
		"A port is a whole number from 1 to 65535; 70000 is not.",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("diagnostic text lacks %q:\n%s", s, out)
		}
	}
}

func TestEnvFunc(t *testing.T) {
	env := map[string]string{"SET": "value", "EMPTY": ""}
	for _, c := range []struct {
		expr, want, err string
	}{
		{expr: `env("SET")`, want: "value"},
		{expr: `env("SET", "default")`, want: "value"},
		{expr: `env("EMPTY", "default")`, want: ""},
		{expr: `env("UNSET")`, want: ""},
		{expr: `env("UNSET", "default")`, want: "default"},
		{expr: `upper(env("SET"))`, want: "VALUE"},
		{expr: `env("A", "b", "c")`, err: "Invalid function argument"},
		{expr: `env()`, err: "Not enough function arguments"},
	} {
		src := fmt.Sprintf("host \"h\" {\n  vars = { v = %s }\n}\n", c.expr)
		inv, diags := build([]source{{name: "env.hcl", src: []byte(src)}}, osReader("."), fakeEnv(env))
		if c.err != "" {
			if len(diags) != 1 || diags[0].Summary != c.err || diags[0].Subject.Start.Line != 2 {
				t.Errorf("%s: diagnostics %v, want one %q on line 2", c.expr, diags, c.err)
			}
			continue
		}
		if len(diags) > 0 {
			t.Errorf("%s: %s", c.expr, diags.Error())
			continue
		}
		if got := inv.Host("h").Vars.GetAttr("v"); !got.RawEquals(cty.StringVal(c.want)) {
			t.Errorf("%s = %#v, want %q", c.expr, got, c.want)
		}
	}
}

func TestParseJump(t *testing.T) {
	for _, c := range []struct {
		in   string
		want *Jump
	}{
		{"ops@gw", &Jump{User: "ops", Address: "gw", Port: 22}},
		{"gw:2200", &Jump{Address: "gw", Port: 2200}},
		{"ops@gw:2200", &Jump{User: "ops", Address: "gw", Port: 2200}},
		{"a@b@gw:1", &Jump{User: "a@b", Address: "gw", Port: 1}},
		{"ops@[::1]:2222", &Jump{User: "ops", Address: "::1", Port: 2222}},
		{"ops@[fe80::1]", &Jump{User: "ops", Address: "fe80::1", Port: 22}},
		{"ops@fe80::1", &Jump{User: "ops", Address: "fe80::1", Port: 22}},
		{"@gw", nil},
		{"ops@", nil},
		{"gw:", nil},
		{":22", nil},
		{"gw:0", nil},
		{"gw:65536", nil},
		{"gw:ssh", nil},
		{"ops@g w", nil},
		{"o ps@gw", nil},
		{"[::1:22", nil},
	} {
		got, err := parseJump(c.in)
		if c.want == nil {
			if err == nil {
				t.Errorf("parseJump(%q) = %+v, want an error", c.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseJump(%q): %v", c.in, err)
			continue
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("parseJump(%q) (-want +got):\n%s", c.in, diff)
		}
	}
}

// TestJumpTargets checks what a jump through another host carries over,
// and that a host named by an inherited jump connects directly.
func TestJumpTargets(t *testing.T) {
	src := []byte(`
defaults {
  jump = "bastion"
}
group "dmz" {
  hosts = ["bastion"]
  user  = "admin"
}
host "bastion" {
  address        = "192.0.2.1"
  port           = 2200
  identity_files = ["/keys/bastion"]
  known_hosts    = "/kh/bastion"
  ssh_agent      = false
}
host "app" {
  identity_files = ["/keys/app"]
}
host "direct" {
  jump = ""
}
`)
	inv, diags := build([]source{{name: "jump.hcl", src: src}}, osReader("."), fakeEnv(nil))
	if len(diags) > 0 {
		t.Fatalf("diagnostics:\n%s", diags.Error())
	}
	want := &Jump{
		Address: "192.0.2.1", Port: 2200, User: "admin",
		IdentityFiles: []string{"/keys/bastion"}, UseAgent: false, KnownHosts: "/kh/bastion",
	}
	if diff := cmp.Diff(want, inv.Host("app").Jump); diff != "" {
		t.Errorf("app's jump (-want +got):\n%s", diff)
	}
	if j := inv.Host("bastion").Jump; j != nil {
		t.Errorf("bastion jumps through %+v, want nil", j)
	}
	if j := inv.Host("direct").Jump; j != nil {
		t.Errorf("direct jumps through %+v, want nil", j)
	}
	// The jump's slices are its own.
	inv.Host("app").Jump.IdentityFiles[0] = "changed"
	if inv.Host("bastion").IdentityFiles[0] != "/keys/bastion" {
		t.Errorf("a jump shares its identity files with its host")
	}
}
