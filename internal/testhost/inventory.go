package testhost

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// WriteInventory writes an HCL inventory file for hosts into a temp dir of t
// and returns its path. A defaults block sets user, identity_file and
// known_hosts; each host block sets address, port and vars.app_port. extra is
// appended verbatim (groups, more variables).
//
// Hosts of several Boot calls may be mixed: the file then points at a
// known_hosts file with all their lines, and hosts whose client key differs
// from the first host's get their own identity_file.
func WriteInventory(t testing.TB, hosts []*Host, extra string) string {
	t.Helper()
	if len(hosts) == 0 {
		t.Fatal("write test inventory: no hosts")
	}
	dir := t.TempDir()
	knownHosts := hosts[0].KnownHostsFile
	for _, h := range hosts[1:] {
		if h.KnownHostsFile != knownHosts {
			knownHosts = filepath.Join(dir, "known_hosts")
			if err := writeKnownHosts(knownHosts, hosts); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "defaults {\n  user          = \"root\"\n  identity_file = %s\n  known_hosts   = %s\n}\n",
		hclString(hosts[0].ClientKeyFile), hclString(knownHosts))
	for _, h := range hosts {
		fmt.Fprintf(&b, "\nhost %s {\n  address = \"127.0.0.1\"\n  port    = %d\n", hclString(h.Name), h.Port)
		if h.ClientKeyFile != hosts[0].ClientKeyFile {
			fmt.Fprintf(&b, "  identity_file = %s\n", hclString(h.ClientKeyFile))
		}
		fmt.Fprintf(&b, "  vars    = { app_port = %d }\n}\n", h.AppPort)
	}
	if extra != "" {
		b.WriteString("\n" + extra)
		if !strings.HasSuffix(extra, "\n") {
			b.WriteString("\n")
		}
	}
	path := filepath.Join(dir, "inventory.hcl")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatalf("write test inventory %s: %v", path, err)
	}
	return path
}

// hclString quotes s as an HCL string literal: Go's escapes, plus "${" and
// "%{" doubled so that they stay literal.
func hclString(s string) string {
	q := strconv.Quote(s)
	q = strings.ReplaceAll(q, "${", "$${")
	return strings.ReplaceAll(q, "%{", "%%{")
}
