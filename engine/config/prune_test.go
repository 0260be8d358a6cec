package config

import (
	"testing"
)

// TestRolePrune decodes a role's prune attribute: true, false, absent (false),
// from HCL and from JSON, and a value that is not a bool, which is a
// diagnostic at the value.
func TestRolePrune(t *testing.T) {
	c := loadString(t, map[string]string{"roles.hcl": `
role "pruned" {
  hosts = ["*"]
  prune = true
}
role "kept" {
  hosts = ["*"]
  prune = false
}
role "default" {
  hosts = ["*"]
}
`, "more.hcl.json": `{"role": {"json": {"hosts": ["*"], "prune": true}}}`})
	got := map[string]bool{}
	for _, r := range c.Roles() {
		got[r.Name] = r.Prune
	}
	want := map[string]bool{"pruned": true, "kept": false, "default": false, "json": true}
	for n, w := range want {
		if p, ok := got[n]; !ok || p != w {
			t.Errorf("role %s: prune %v (declared %v), want %v", n, p, ok, w)
		}
	}

	fsys := mapFS(map[string]string{"bad.hcl": "role \"bad\" {\n  hosts = [\"*\"]\n  prune = \"sometimes\"\n}\n"})
	_, diags := Load(fsys, ".")
	if !diags.HasErrors() {
		t.Fatal("prune = \"sometimes\" was accepted")
	}
	d := diags[0]
	if d.Summary != "Invalid prune" || d.Subject == nil || d.Subject.Start.Line != 3 || d.Subject.Start.Column != 11 {
		t.Errorf("diagnostic = %s at %v, want Invalid prune at bad.hcl:3,11", d.Summary, d.Subject)
	}
}
