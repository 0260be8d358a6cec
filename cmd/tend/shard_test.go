package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tendhq/tend/inventory"
)

// TestShardFlagSplitsPlan runs `tend plan --shard i/3` over an inventory of
// 12 hosts that refuse connections: each run plans exactly the hosts of
// its part (the report names them, unreachable), and the three runs
// together plan every host once.
func TestShardFlagSplitsPlan(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "specs", "main.hcl"), "role \"all\" {\n  hosts = [\"*\"]\n  file \"/tmp/tend-shard-test\" {\n    content = \"x\"\n  }\n}\n")
	var inv strings.Builder
	var names []string
	for i := 1; i <= 12; i++ {
		name := fmt.Sprintf("node-%02d", i)
		names = append(names, name)
		// Port 1 on 127.0.0.1 refuses at once; no key is needed to fail.
		fmt.Fprintf(&inv, "host %q {\n  address        = \"127.0.0.1\"\n  port           = 1\n  identity_files = []\n  ssh_agent      = false\n}\n", name)
	}
	invPath := filepath.Join(dir, "inventory.hcl")
	writeFile(t, invPath, inv.String())
	planned := regexp.MustCompile(`(?m)^host (node-\d\d) `)
	seen := map[string]int{}
	for i := 1; i <= 3; i++ {
		r := tend(t, "plan", "-i", invPath, "--shard", fmt.Sprintf("%d/3", i), filepath.Join(dir, "specs"))
		var got []string
		for _, m := range planned.FindAllStringSubmatch(r.stdout, -1) {
			got = append(got, m[1])
			seen[m[1]]++
		}
		var want []string
		for _, n := range names {
			if inventory.ShardOf(n, 3) == i {
				want = append(want, n)
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("plan --shard %d/3 planned %v, want %v\n%s", i, got, want, r)
		}
	}
	for _, n := range names {
		if seen[n] != 1 {
			t.Errorf("%s was planned %d times by the three shards, want once", n, seen[n])
		}
	}
	for _, bad := range []string{"0/3", "4/3", "x"} {
		if r := tend(t, "plan", "-i", invPath, "--shard", bad, filepath.Join(dir, "specs")); r.code != 1 || !strings.Contains(r.stderr, "--shard: parse shard") {
			t.Errorf("plan --shard %s: want exit 1 naming the flag:\n%s", bad, r)
		}
	}
	if r := tend(t, "plan", "--local", "--shard", "1/2", filepath.Join(dir, "specs")); r.code != 1 || !strings.Contains(r.stderr, "--shard splits an inventory") {
		t.Errorf("plan --local --shard without an inventory:\n%s", r)
	}
}

// TestPullSelect checks how pull mode finds its host in the inventory: by
// the exact name, else by the first label of the name, else an error.
func TestPullSelect(t *testing.T) {
	hosts := []*inventory.Host{{Name: "web-1"}, {Name: "web-1.example.com"}, {Name: "db-1"}}
	for _, tc := range []struct{ name, want string }{
		{"web-1", "web-1"},
		{"web-1.example.com", "web-1.example.com"},
		{"db-1.example.com", "db-1"},
		{"cache-1.example.com", ""},
		{"web", ""},
	} {
		got, err := pullSelect(tc.name)(hosts)
		switch {
		case tc.want == "" && (err == nil || !strings.Contains(err.Error(), fmt.Sprintf("no host %q", tc.name))):
			t.Errorf("pullSelect(%q) = %v, %v; want an error naming it", tc.name, got, err)
		case tc.want != "" && (err != nil || len(got) != 1 || got[0].Name != tc.want):
			t.Errorf("pullSelect(%q) = %v, %v; want %s", tc.name, got, err, tc.want)
		}
	}
	sel, err := agentSelect(false, "", "2/3")
	if err != nil || sel == nil {
		t.Fatalf("agentSelect --shard 2/3: %v", err)
	}
	got, _ := sel(hosts)
	for _, h := range got {
		if inventory.ShardOf(h.Name, 3) != 2 {
			t.Errorf("--shard 2/3 kept %s of part %d", h.Name, inventory.ShardOf(h.Name, 3))
		}
	}
	if sel, err := agentSelect(false, "", ""); sel != nil || err != nil {
		t.Errorf("agentSelect without flags = %v, %v; want every host (nil)", sel != nil, err)
	}
}
