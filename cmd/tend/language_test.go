package main

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/sshtest"
)

// TestModulesForEachOverSSH plans testdata/repos/sites for two hosts of
// group web (one of them also in group api): a vhost module instantiated per
// site with for_each over 20 sites, and once more by the api role. Each host
// gets 20 site config files with paths from its own host variables; the plan
// names module and instance; apply converges and the next plan is empty.
func TestModulesForEachOverSSH(t *testing.T) {
	servers := sshtest.Start(t, 2)
	dir := t.TempDir()
	var inv strings.Builder
	roots := map[string]string{}
	for i, s := range servers {
		name := fmt.Sprintf("web%d", i+1)
		roots[name] = filepath.Join(dir, name)
		fmt.Fprintf(&inv, `host %q {
  address       = "127.0.0.1"
  port          = %d
  identity_file = %q
  known_hosts   = %q
  ssh_agent     = false
  vars          = { root = %q, domain = "%s.example" }
}
`, name, s.Port, s.ClientKeyFile, s.KnownHostsFile, roots[name], name)
	}
	inv.WriteString(`
group "web" {
  hosts = ["web1", "web2"]
}

group "api" {
  hosts = ["web2"]
}
`)
	invFile := filepath.Join(dir, "inventory.hcl")
	writeFile(t, invFile, inv.String())
	spec := "../../testdata/repos/sites"

	r := tend(t, "plan", "-o", "json", "-i", invFile, spec)
	if r.code != 0 {
		t.Fatalf("plan: %s", r)
	}
	var plan struct {
		Hosts []struct {
			Name      string
			Resources []struct {
				Address string
				Kind    string
				Action  string
				Content *struct{ Path string }
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &plan); err != nil {
		t.Fatalf("plan JSON: %v\n%s", err, r.stdout)
	}
	siteAddr := regexp.MustCompile(`^module\.sites\["site(\d\d)"\]\.file\[conf\]$`)
	allPaths := map[string]string{}
	for _, h := range plan.Hosts {
		sites, api := 0, 0
		for _, res := range h.Resources {
			if res.Action != "create" {
				t.Errorf("%s %s: action %s, want create", h.Name, res.Address, res.Action)
			}
			if res.Address == "module.api.file[conf]" {
				api++
			}
			if !siteAddr.MatchString(res.Address) {
				continue
			}
			sites++
			p := res.Content.Path
			if !strings.HasPrefix(p, roots[h.Name]+"/conf.d/site") {
				t.Errorf("%s %s: path %s is not under the host's root", h.Name, res.Address, p)
			}
			if other, dup := allPaths[p]; dup {
				t.Errorf("%s is planned by %s and %s", p, other, h.Name)
			}
			allPaths[p] = h.Name + " " + res.Address
		}
		if sites != 20 {
			t.Errorf("%s: %d site files planned, want 20", h.Name, sites)
		}
		if wantAPI := map[string]int{"web1": 0, "web2": 1}[h.Name]; api != wantAPI {
			t.Errorf("%s: module.api planned %d times, want %d", h.Name, api, wantAPI)
		}
	}

	r = tend(t, "plan", "-i", invFile, spec)
	if !strings.Contains(r.stdout, `+ module.sites["site07"].file[conf]`) || !strings.Contains(r.stdout, `+ module.sites["site07"].directory[root]`) {
		t.Errorf("text plan does not name module and instance:\n%s", r.stdout)
	}
	if r = tend(t, "apply", "-i", invFile, spec); r.code != 0 {
		t.Fatalf("apply: %s", r)
	}
	conf := readFile(t, filepath.Join(roots["web2"], "conf.d", "site07.conf"))
	if !strings.Contains(conf, "site07.web2.example") || !strings.Contains(conf, "8007") {
		t.Errorf("site07.conf on web2 = %q", conf)
	}
	if r = tend(t, "plan", "--detailed-exitcode", "-i", invFile, spec); r.code != 0 {
		t.Fatalf("plan after apply: %s", r)
	}
}

// TestLanguageDiagnostics: a failed variable validation, a wrong type and a
// duplicate path between two roles each point at the offending expression.
func TestLanguageDiagnostics(t *testing.T) {
	r := tend(t, "plan", "--local", "../../testdata/e2e/invalid-modules")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.code, r)
	}
	for what, re := range map[string]*regexp.Regexp{
		"validation": regexp.MustCompile(`(?s)Error: Invalid value for variable\n  --> main\.hcl:10:19\n.*port        = 70000.*between 1 and 65535.*modules/vhost/variables\.hcl:18:3`),
		"type":       regexp.MustCompile(`(?s)Error: Invalid value for input variable\n  --> main\.hcl:18:19\n.*"eighty".*a number is required`),
		"path":       regexp.MustCompile(`(?s)Error: Duplicate path\n  --> main\.hcl:31:8\n.*file\[banner\] and file\[motd\] \(at main\.hcl:22:3\)`),
	} {
		if !re.MatchString(r.stderr) {
			t.Errorf("no %s diagnostic matching %s\n%s", what, re, r.stderr)
		}
	}
}

// TestNativeAndJSONSyntaxPlanAlike: the same role written as .hcl and as
// .hcl.json plans identically (compared as JSON plans, against this machine).
func TestNativeAndJSONSyntaxPlanAlike(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	plans := map[string]string{}
	for _, form := range []string{"native", "json"} {
		r := tend(t, "plan", "--local", "-o", "json", "--var=root="+root, "../../testdata/e2e/syntax/"+form)
		if r.code != 0 {
			t.Fatalf("%s: %s", form, r)
		}
		var p map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
			t.Fatal(err)
		}
		delete(p, "started")
		delete(p, "duration_ms")
		for _, h := range p["hosts"].([]any) {
			delete(h.(map[string]any), "duration_ms")
			delete(h.(map[string]any), "started")
		}
		b, _ := json.MarshalIndent(p, "", " ")
		plans[form] = string(b)
	}
	if plans["native"] != plans["json"] {
		t.Errorf("plans differ:\n--- native:\n%s\n--- json:\n%s", plans["native"], plans["json"])
	}
	for _, want := range []string{`file.site[\"shop\"]`, `file.site[\"blog\"]`, "symlink[current]", "listen 8081"} {
		if !strings.Contains(plans["native"], want) {
			t.Errorf("plan lacks %s:\n%s", want, plans["native"])
		}
	}
}

// TestGraphEdgeKinds: tend graph draws depends_on, references and implicit
// directory edges apart, and Graphviz accepts the result.
func TestGraphEdgeKinds(t *testing.T) {
	r := tend(t, "graph", "--local", "--var=root=/srv/tend-graph", "../../testdata/e2e/syntax/native")
	if r.code != 0 {
		t.Fatalf("graph: %s", r)
	}
	for _, want := range []string{
		`"directory[root]" -> "symlink[current]";`,                                   // depends_on
		`"file.site[\"shop\"]" -> "symlink[current]" [color="grey50"];`,              // reference
		`"directory[root]" -> "file.site[\"blog\"]" [style=dotted, label="inside"];`, // path
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("graph lacks %s\n%s", want, r.stdout)
		}
	}
	cmd := exec.Command("dot", "-Tsvg")
	cmd.Stdin = strings.NewReader(r.stdout)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dot: %v\n%s", err, out)
	}
}

// TestEnvironments plans the example repository's staging and production
// hosts: the same specs, values from each environment's vars_files, a canary
// group overriding production's version.
func TestEnvironments(t *testing.T) {
	base := "../../testdata/environments"
	for _, tc := range []struct{ env, host, version, level string }{
		{"staging", "", "1.5.0", "debug"},
		{"production", "prod-app1", "1.4.2", "warn"},
		{"production", "prod-canary1", "1.5.0", "warn"},
	} {
		inv := base + "/environments/" + tc.env + "/inventory.hcl"
		args := []string{"plan", "-i", inv, base + "/specs"}
		host := tc.host
		if host == "" {
			host = "stg-app1"
		}
		// --local plans the one selected host against this machine; its
		// paths live under /tmp/tend-environments (host.vars.root).
		args = append(args, "--local", "--limit", host)
		r := tend(t, args...)
		if r.code != 0 {
			t.Fatalf("%s %s: %s", tc.env, host, r)
		}
		for _, want := range []string{
			"+version   = \"" + tc.version + "\"",
			"+log_level = \"" + tc.level + "\"",
			"environment " + tc.env,
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%s %s: plan lacks %q:\n%s", tc.env, host, want, r.stdout)
			}
		}
	}
}
