package resources

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestParseProbeSections: the batched sections are parsed as strictly as
// the records.
func TestParseProbeSections(t *testing.T) {
	p := NewProbe()
	p.Package("bash")
	p.Unit("ssh.service")
	for _, tc := range []struct {
		name, reply, want string
	}{
		{"unknown section", "D foo x\nB pkg dpkg-query 0\nB svc none 0\n", `unknown section "foo"`},
		{"line after the end", "B pkg dpkg-query 0\nD pkg x\nB svc none 0\n", "line of section pkg after its end"},
		{"two ends", "B pkg dpkg-query 0\nB pkg dpkg-query 0\nB svc none 0\n", "section pkg ends twice"},
		{"bad end", "B pkg dpkg-query zero\nB svc none 0\n", "bad status"},
		{"missing section", "B pkg dpkg-query 0\n", "no complete svc section"},
		{"unasked section", "B pkg dpkg-query 0\nB svc none 0\nB cand apt-cache 0\n", "cand section nobody asked for"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseProbe(p, []byte("T tend-probe 1\n"+tc.reply+"E 2\n"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseProbe error = %v; want %q", err, tc.want)
			}
		})
	}
}

// TestParseProbeSystemRecords: the records of the system queries.
func TestParseProbeSystemRecords(t *testing.T) {
	p := NewProbe()
	p.AuthorizedKeys("alice") // U 0, k 1
	p.UserGroups("bob")       // U 2, G 3
	for _, tc := range []struct {
		name, reply, want string
	}{
		{"key count", "R 0 passwd alice:x:1:1::/home/alice:/bin/sh\nR 1 key a\nR 1 keys 2\nR 2 absent\nR 3 absent\n", "has 1 authorized_keys lines of user alice, announced 2"},
		{"no keys end", "R 0 passwd alice:x:1:1::/home/alice:/bin/sh\nR 1 key a\nR 2 absent\nR 3 absent\n", "no answer for k alice"},
		{"key after end", "R 0 absent\nR 1 keys 0\nR 1 key a\nR 2 absent\nR 3 absent\n", "after its end"},
		{"passwd of another user", "R 0 passwd bob:x:1:1::/home/bob:/bin/sh\nR 1 absent\nR 2 absent\nR 3 absent\n", "bad passwd record"},
		{"short passwd", "R 0 passwd alice:x:1:1\nR 1 absent\nR 2 absent\nR 3 absent\n", "bad passwd record"},
		{"empty groups", "R 0 absent\nR 1 absent\nR 2 absent\nR 3 groups \n", "empty groups record"},
		{"bad fact", "F cpus many\nR 0 absent\nR 1 absent\nR 2 absent\nR 3 absent\n", `fact cpus: "many" is not a number`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseProbe(p, []byte("T tend-probe 1\n"+tc.reply+"E 4\n"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseProbe error = %v; want %q", err, tc.want)
			}
		})
	}
	o, err := ParseProbe(p, []byte("T tend-probe 1\nF cpus 4\nF memory_mb 7962\nF apt_cache_age 120\n"+
		"R 0 passwd alice:x:1001:1002:Alice A.,,,:/home/alice:/bin/bash\nR 1 key "+keyA+"\r\nR 1 key # old\nR 1 keys 2\n"+
		"R 2 passwd bob:x:1003:1003::/home/bob:/bin/sh\nR 3 groups bob sudo adm\nE 4\n"))
	if err != nil {
		t.Fatal(err)
	}
	if o.Facts.CPUs != 4 || o.Facts.MemoryMB != 7962 || o.Facts.AptCacheAge != 120 {
		t.Errorf("facts %+v", o.Facts)
	}
	if e, err := o.Passwd("alice"); err != nil || *e != (PasswdEntry{Exists: true, Name: "alice", UID: 1001, GID: 1002, GECOS: "Alice A.,,,", Home: "/home/alice", Shell: "/bin/bash"}) {
		t.Errorf("alice = %+v, %v", e, err)
	}
	if k, err := o.AuthorizedKeys("alice"); err != nil || !k.Exists || len(k.Lines) != 2 || k.Lines[0] != keyA {
		t.Errorf("keys = %+v, %v", k, err)
	}
	if g, ok, err := o.UserGroups("bob"); err != nil || !ok || strings.Join(g, ",") != "bob,sudo,adm" {
		t.Errorf("groups = %v, %v, %v", g, ok, err)
	}
	// Without the fact, the apt cache age is unknown.
	o, err = ParseProbe(NewProbe(), []byte("T tend-probe 1\nE 0\n"))
	if err != nil || o.Facts.AptCacheAge != -1 {
		t.Errorf("AptCacheAge = %d, %v", o.Facts.AptCacheAge, err)
	}
}

// TestProbeAccountsBatched probes many accounts: one getent per database,
// one id for all groups, answers matched in order, missing names absent.
func TestProbeAccountsBatched(t *testing.T) {
	p := NewProbe()
	p.User("root")
	p.User("tend-no-such-user-1")
	p.UserGroups("root")
	p.Passwd("daemon")
	p.User("daemon")
	p.UserGroups("tend-no-such-user-2")
	p.AuthorizedKeys("tend-no-such-user-3")
	p.Group("tend-no-such-group")
	p.Group("root")
	p.Group("daemon")
	shims, log := t.TempDir(), filepath.Join(t.TempDir(), "calls")
	for _, prog := range []string{"getent", "id"} {
		real, err := exec.LookPath(prog)
		if err != nil {
			t.Fatalf("%s not found: apt-get install -y libc-bin coreutils", prog)
		}
		script := fmt.Sprintf("#!/bin/sh\necho %s >> \"$TEND_SHIM_LOG\"\nexec %s \"$@\"\n", prog, real)
		if err := os.WriteFile(filepath.Join(shims, prog), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	o := runProbe(t, p, false, "PATH="+shims+":"+os.Getenv("PATH"), "TEND_SHIM_LOG="+log)
	calls, _ := os.ReadFile(log)
	if n := strings.Count(string(calls), "getent"); n != 2 {
		t.Errorf("getent ran %d times, want 2 (passwd and group)", n)
	}
	if n := strings.Count(string(calls), "id"); n != 3 { // id -un and id -u for the facts
		t.Errorf("id ran %d times, want 3", n)
	}
	if a, err := o.User("root"); err != nil || !a.Exists || a.ID != 0 {
		t.Errorf("root: %+v, %v", a, err)
	}
	if a, err := o.User("tend-no-such-user-1"); err != nil || a.Exists {
		t.Errorf("missing user: %+v, %v", a, err)
	}
	if a, err := o.User("daemon"); err != nil || !a.Exists || a.ID != 1 {
		t.Errorf("daemon: %+v, %v", a, err)
	}
	if e, err := o.Passwd("daemon"); err != nil || !e.Exists || e.UID != 1 || e.Home == "" {
		t.Errorf("daemon passwd: %+v, %v", e, err)
	}
	if g, ok, err := o.UserGroups("root"); err != nil || !ok || g[0] != "root" {
		t.Errorf("root groups: %v %v %v", g, ok, err)
	}
	if g, ok, err := o.UserGroups("tend-no-such-user-2"); err != nil || ok || g != nil {
		t.Errorf("missing user's groups: %v %v %v", g, ok, err)
	}
	if k, err := o.AuthorizedKeys("tend-no-such-user-3"); err != nil || k.Exists {
		t.Errorf("missing user's keys: %+v %v", k, err)
	}
	for name, want := range map[string]Account{"tend-no-such-group": {}, "root": {Exists: true}, "daemon": {Exists: true, ID: 1}} {
		if a, err := o.Group(name); err != nil || *a != want {
			t.Errorf("group %s = %+v, %v", name, a, err)
		}
	}
}

// TestProbeAccountsOutOfOrder: a getent that answers in another order than
// asked (a directory service that canonicalises names) makes every account
// of that database an error, never a wrong match.
func TestProbeAccountsOutOfOrder(t *testing.T) {
	shims := t.TempDir()
	script := "#!/bin/sh\nprintf 'daemon:x:1:1::/usr/sbin:/bin/sh\\nroot:x:0:0::/root:/bin/sh\\n'\n"
	if err := os.WriteFile(filepath.Join(shims, "getent"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	p := NewProbe()
	p.User("root")
	p.UserGroups("daemon")
	o := runProbe(t, p, false, "PATH="+shims+":"+os.Getenv("PATH"))
	if a, err := o.User("root"); err == nil || !strings.Contains(err.Error(), "out of order") {
		t.Errorf("root: %+v, %v", a, err)
	}
	if _, _, err := o.UserGroups("daemon"); err == nil || !strings.Contains(err.Error(), "out of order") {
		t.Errorf("daemon's groups: %v", err)
	}
}

// TestProbePackagesLocal runs the package and candidate queries on this
// machine (Debian): one dpkg-query and one apt-cache for all packages.
func TestProbePackagesLocal(t *testing.T) {
	if _, err := exec.LookPath("dpkg-query"); err != nil {
		t.Fatal("dpkg-query not found: these tests run on Debian")
	}
	p := NewProbe()
	for _, n := range []string{"bash", "coreutils", "tend-no-such-package", "dash"} {
		p.Package(n)
	}
	p.PackageCandidate("bash")
	p.PackageCandidate("tend-no-such-package")
	o := runLocal(t, p)
	if o.Facts.PkgManager != "apt-get" || o.Facts.CPUs < 1 || o.Facts.MemoryMB < 1 {
		t.Errorf("facts %+v", o.Facts)
	}
	for _, n := range []string{"bash", "coreutils", "dash"} {
		if s, err := o.Package(n); err != nil || !s.Installed || s.Version == "" {
			t.Errorf("%s: %+v, %v", n, s, err)
		}
	}
	if s, err := o.Package("tend-no-such-package"); err != nil || s.Installed {
		t.Errorf("missing package: %+v, %v", s, err)
	}
	if c, err := o.Candidate("bash"); err != nil || c == "" {
		t.Errorf("bash candidate %q, %v", c, err)
	}
	if c, err := o.Candidate("tend-no-such-package"); err != nil || c != "" {
		t.Errorf("missing package candidate %q, %v", c, err)
	}
}

// TestProbeSystemShells runs the system queries with every POSIX shell
// this machine has: the replies must be the same, byte for byte.
func TestProbeSystemShells(t *testing.T) {
	dir := t.TempDir()
	p := NewProbe()
	p.Package("bash")
	p.PackageCandidate("dash")
	p.Package("tend-no-such-package")
	p.UserGroups("root")
	p.AuthorizedKeys("nobody")
	p.User("tend-no-such-user")
	p.Group("root")
	p.Unit("ssh.service")
	p.Command(Guard{Argv: []string{"sh", "-c", "exit 5"}, Timeout: 5 * time.Second})
	p.Command(Guard{Argv: []string{"test", "-d", "."}, Cwd: dir})
	p.Command(Guard{Argv: []string{"true"}, Cwd: dir + "/missing"})
	p.Path(dir, false)
	var first []byte
	n := 0
	for _, sh := range [][]string{{"dash"}, {"bash", "--posix"}, {"busybox", "sh"}} {
		if _, err := exec.LookPath(sh[0]); err != nil {
			continue
		}
		n++
		c := p.Cmd()
		args := append(append([]string{}, sh...), c.Args[1:]...)
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdin = c.Stdin
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v: %v", sh, err)
		}
		o, err := ParseProbe(p, out)
		if err != nil {
			t.Fatalf("%v: %v\n%s", sh, err, out)
		}
		// The answers are right, not only alike: the guards ran before the
		// account lookups and must not disturb them.
		if a, err := o.Group("root"); err != nil || !a.Exists || a.ID != 0 {
			t.Errorf("%v: group root = %+v, %v", sh, a, err)
		}
		if g, ok, err := o.UserGroups("root"); err != nil || !ok || g[0] != "root" {
			t.Errorf("%v: groups of root = %v, %v, %v", sh, g, ok, err)
		}
		if r, err := o.Guard(Guard{Argv: []string{"sh", "-c", "exit 5"}, Timeout: 5 * time.Second}); err != nil || r.ExitCode != 5 {
			t.Errorf("%v: guard = %+v, %v", sh, r, err)
		}
		if s, err := o.Package("bash"); err != nil || !s.Installed {
			t.Errorf("%v: bash = %+v, %v", sh, s, err)
		}
		out = stableReply(out)
		if first == nil {
			first = out
		} else if string(out) != string(first) {
			t.Errorf("%v replies differently:\n%s\n---\n%s", sh, out, first)
		}
	}
	if n < 2 {
		t.Fatal("found fewer than two shells: apt-get install -y dash bash")
	}
}

// stableReply drops the facts of a reply that change from one second to
// the next (the apt cache age), for comparing two runs.
func stableReply(out []byte) []byte {
	var keep []string
	for _, l := range strings.SplitAfter(string(out), "\n") {
		if !strings.HasPrefix(l, "F apt_cache_age ") {
			keep = append(keep, l)
		}
	}
	return []byte(strings.Join(keep, ""))
}
