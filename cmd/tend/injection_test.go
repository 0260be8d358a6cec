package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/testhost"
)

// The bad-input tests of the CLI against a real host: names built to inject
// shell commands reach the host as data, never as code; names the language
// refuses are refused with their position before any host is touched; and a
// managed path below a symbolic link planted by an unprivileged user is not
// written through. docs/security.md states these guarantees.

// injectionMarker returns a fresh marker name: every payload tries to
// create a file of that name (relative or under /tmp), which must exist
// nowhere afterwards.
func injectionMarker(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "tend-injected-" + hex.EncodeToString(b)
}

// componentPayloads are names for one path component (no slash): each tries
// to run `touch MARKER` in the shell of whoever would mishandle it, and the
// last ones carry unicode, glob characters and a backslash.
func componentPayloads(marker string) []string {
	return []string{
		"$(touch " + marker + ")",
		"'; touch " + marker + "; '",
		`"; touch ` + marker + `; "`,
		"`touch " + marker + "`",
		"a b;touch " + marker,
		"${IFS}touch${IFS}" + marker,
		"x|touch " + marker + "&",
		`ünïcødé ✓ 日本 \ * ? [a]`,
	}
}

// argPayloads are whole values (arguments, environment values, symlink
// targets): the same tricks with an absolute marker, a newline, and an
// option-looking word.
func argPayloads(marker string) []string {
	m := "/tmp/" + marker
	return []string{
		"$(touch " + m + ")",
		"'; touch " + m + "; '",
		`"; touch ` + m + `; "`,
		"`touch " + m + "`",
		"a b; touch " + m + " #",
		"line one\n$(touch " + m + ")\nline three",
		"-rf --help",
		"ünïcødé ✓ $HOME \\ *",
	}
}

// hclQuote quotes s as an HCL string literal whose value is exactly s.
func hclQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "${", "$${", "%{", "%%{")
	return `"` + r.Replace(s) + `"`
}

// hclList quotes ss as an HCL list of strings.
func hclList(ss ...string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = hclQuote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// noMarker fails t when a file called marker exists anywhere on the host
// (every file system but /proc, /sys and /dev) or in the places of this
// machine where a command tend ran by mistake would have created it.
func noMarker(t *testing.T, h *testhost.Host, marker string) {
	t.Helper()
	out, stderr, err := h.Run("find", "/", "(", "-path", "/proc", "-o", "-path", "/sys", "-o", "-path", "/dev", ")",
		"-prune", "-o", "-name", marker+"*", "-print")
	if err != nil && out == "" {
		t.Fatalf("%s: search for the marker: %v\n%s", h.Name, err, stderr)
	}
	if out != "" {
		t.Errorf("%s: an injected command ran on the host: %s", h.Name, out)
	}
	cwd, _ := os.Getwd()
	home, _ := os.UserHomeDir()
	for _, dir := range []string{"/tmp", "/", cwd, home, testStateDir(t)} {
		if m, _ := filepath.Glob(filepath.Join(dir, marker+"*")); len(m) > 0 {
			t.Errorf("an injected command ran on this machine: %v", m)
		}
	}
}

// TestInjectionNamesAreData applies a spec whose paths, symlink targets,
// exec arguments, working directory, environment, guards, user and group
// names and file owner are built to inject a command, on a Debian host over
// SSH. Every name must arrive exactly as written, nothing may run, and a
// second plan must find nothing to do (the probe sees the same names).
func TestInjectionNamesAreData(t *testing.T) {
	hosts := testhost.Boot(t, 1)
	h := hosts[0]
	inv := testhost.WriteInventory(t, hosts, "")
	marker := injectionMarker(t)
	comps, args := componentPayloads(marker), argPayloads(marker)
	const root = "/srv/tend-inj"
	const account = "tend-inj$" // a valid name (Samba machine accounts end in $)

	var b strings.Builder
	fmt.Fprintf(&b, "role \"inj\" {\n  hosts = [\"*\"]\n\n")
	fmt.Fprintf(&b, "  group %s {}\n\n", hclQuote(account))
	fmt.Fprintf(&b, "  user %s {\n    group = %s\n    shell = \"/bin/sh\"\n  }\n\n", hclQuote(account), hclQuote(account))
	fmt.Fprintf(&b, "  directory %s {\n    mode = \"0755\"\n  }\n\n", hclQuote(root))
	want := map[string]string{} // path under root -> "dir", "file:CONTENT" or "link:TARGET"
	for i, c := range comps {
		dir, file := root+"/"+c, root+"/"+c+"/"+c
		fmt.Fprintf(&b, "  directory %s {\n    owner = %s\n    depends_on = [user[%s]]\n  }\n\n", hclQuote(dir), hclQuote(account), hclQuote(account))
		content := args[i%len(args)] + "\n"
		fmt.Fprintf(&b, "  file %s {\n    content = %s\n  }\n\n", hclQuote(file), hclQuote(content))
		fmt.Fprintf(&b, "  symlink %s {\n    target = %s\n  }\n\n", hclQuote(fmt.Sprintf("%s/link-%d", root, i)), hclQuote(file))
		// A target is one line: the newline payload is left out here.
		target := strings.ReplaceAll(args[i%len(args)], "\n", " ")
		fmt.Fprintf(&b, "  symlink %s {\n    target = %s\n  }\n\n", hclQuote(fmt.Sprintf("%s/dangling-%d", root, i)), hclQuote(target))
		want[c], want[c+"/"+c] = "dir", "file:"+content
		want[fmt.Sprintf("link-%d", i)] = "link:" + file
		want[fmt.Sprintf("dangling-%d", i)] = "link:" + target
		// A guard whose argument is the payload: the exec runs while the
		// guard file is missing and makes it.
		guard := fmt.Sprintf("%s/guard-%d %s", root, i, c)
		fmt.Fprintf(&b, "  exec %s {\n    command = %s\n    unless = %s\n    only_if = %s\n    depends_on = [directory[%s]]\n  }\n\n",
			hclQuote(fmt.Sprintf("guard-%d", i)), hclList("touch", "--", guard), hclList("test", "-e", guard),
			hclList("test", "-n", c), hclQuote(root))
		want[strings.TrimPrefix(guard, root+"/")] = "file:"
	}
	// One exec gets every payload as arguments, one as its working
	// directory's name, one in its environment; it records what it got.
	out := root + "/" + comps[0] + "/args.out"
	envVal := args[0] + " " + args[3]
	fmt.Fprintf(&b, "  exec \"args\" {\n    command = %s\n    cwd = %s\n    environment = { TEND_INJ = %s }\n    creates = %s\n    depends_on = [directory[%s], directory[%s]]\n  }\n\n",
		hclList(append([]string{"/bin/sh", "-c", `{ pwd; printf '%s\n' "$TEND_INJ" "$@"; } > "$0"`, out}, args...)...),
		hclQuote(root+"/"+comps[1]), hclQuote(envVal), hclQuote(out), hclQuote(root+"/"+comps[0]), hclQuote(root+"/"+comps[1]))
	want[comps[0]+"/args.out"] = "file:" + root + "/" + comps[1] + "\n" + envVal + "\n" + strings.Join(args, "\n") + "\n"
	// One runs as the user whose name has a $, and says who it is.
	who := root + "/" + comps[2] + "/whoami"
	fmt.Fprintf(&b, "  exec \"as-user\" {\n    command = %s\n    user = %s\n    creates = %s\n    depends_on = [user[%s], directory[%s]]\n  }\n",
		hclList("/bin/sh", "-c", `id -un > "$0"`, who), hclQuote(account), hclQuote(who), hclQuote(account), hclQuote(root+"/"+comps[2]))
	want[comps[2]+"/whoami"] = "file:" + account + "\n"
	b.WriteString("}\n")
	spec := t.TempDir()
	writeFile(t, filepath.Join(spec, "main.hcl"), b.String())

	if r := tend(t, "apply", "-i", inv, spec); r.code != 0 {
		t.Fatalf("apply:\n%s\nspec:\n%s", r, b.String())
	}
	noMarker(t, h, marker)

	// What the host has, read from its root file system on this machine:
	// no shell between the test and the names.
	base := filepath.Join(h.Root, root)
	var got []string
	err := filepath.Walk(base, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if p != base {
			got = append(got, strings.TrimPrefix(p, base+"/"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range want {
		names = append(names, n)
	}
	slices.Sort(names)
	slices.Sort(got)
	if !slices.Equal(got, names) {
		t.Errorf("%s holds\n  %q\nwant exactly\n  %q", root, got, names)
	}
	t.Logf("%d paths under %s, each named exactly as written", len(got), root)
	for n, w := range want {
		p := filepath.Join(base, n)
		kind, val, _ := strings.Cut(w, ":")
		fi, err := os.Lstat(p)
		if err != nil {
			t.Errorf("%q: %v", n, err)
			continue
		}
		switch kind {
		case "dir":
			if !fi.IsDir() {
				t.Errorf("%q is %v, want a directory", n, fi.Mode())
			}
		case "file":
			if b, err := os.ReadFile(p); err != nil || !fi.Mode().IsRegular() || string(b) != val {
				t.Errorf("%q = %q (%v, %v), want the file %q", n, b, fi.Mode(), err, val)
			}
		case "link":
			if target, err := os.Readlink(p); err != nil || target != val {
				t.Errorf("%q -> %q (%v), want %q", n, target, err, val)
			}
		}
	}
	if pw := h.Exec(t, "getent", "passwd", account); !strings.HasPrefix(pw, account+":") {
		t.Errorf("getent passwd %q = %q", account, pw)
	}
	if owner := strings.TrimSpace(h.Exec(t, "stat", "-c", "%U", root+"/"+comps[3])); owner != account {
		t.Errorf("owner of %q = %q, want %q", comps[3], owner, account)
	}

	// The probe sees the same names: nothing left to do.
	if r := tend(t, "plan", "--detailed-exitcode", "-i", inv, spec); r.code != 0 {
		t.Errorf("plan after apply (want no changes):\n%s", r)
	}
	noMarker(t, h, marker)
}

// TestInjectionInvalidNamesRefused: names the host's tools would read as
// something else (package, service, user and group names with shell
// characters; paths, targets, guards, working directories and environment
// values with a newline) are refused with a diagnostic at their position,
// every one of them, before the host is contacted.
func TestInjectionInvalidNamesRefused(t *testing.T) {
	hosts := testhost.Boot(t, 1)
	h := hosts[0]
	inv := testhost.WriteInventory(t, hosts, "")
	marker := injectionMarker(t)
	m := "/tmp/" + marker
	const root = "/srv/tend-inj-bad"

	// Each block's bad line is marked with "!": its diagnostic must point
	// at that line.
	q, l := hclQuote, hclList
	blocks := [][]string{
		{"!package " + q("$(touch "+m+")") + " {}"},
		{"!package " + q("bash; touch "+m) + " {}"},
		{"!service " + q("ssh'; touch "+m+"; '") + " {}"},
		{"!service " + q("a b.service") + " {}"},
		{"!user " + q("a b") + " {}"},
		{"!user " + q("`touch "+m+"`") + " {}"},
		{"!group " + q("$(touch "+m+")") + " {}"},
		{"!group " + q("ops\n$(touch "+m+")") + " {}"},
		{"!file " + q(root+"/a\n$(touch "+m+")") + " {", "  content = \"x\"", "}"},
		{"!directory " + q(root+"/b\nc") + " {}"},
		{"file " + q(root+"/owned") + " {", "!  owner = " + q("root; touch "+m), "}"},
		{"file " + q(root+"/grouped") + " {", "!  group = " + q("$(touch "+m+")"), "}"},
		{"symlink " + q(root+"/l") + " {", "!  target = " + q("/etc\n$(touch "+m+")"), "}"},
		{"exec \"unless\" {", "  command = [\"true\"]", "!  unless = " + l("test", "-e", "a\n$(touch "+m+")"), "}"},
		{"exec \"only_if\" {", "  command = [\"true\"]", "!  only_if = " + l("$(touch "+m+")\n", "x"), "}"},
		{"exec \"cwd\" {", "  command = [\"true\"]", "!  cwd = " + q("/tmp\n$(touch "+m+")"), "}"},
		{"exec \"env-name\" {", "  command = [\"true\"]", "!  environment = { " + q("A;touch "+m) + " = \"x\" }", "}"},
		{"exec \"env-value\" {", "  command = [\"true\"]", "!  environment = { A = " + q("x\n$(touch "+m+")") + " }", "}"},
		{"exec \"user\" {", "  command = [\"true\"]", "!  user = " + q("root; touch "+m), "}"},
		{"exec \"program\" {", "!  command = " + l("A=$(touch "+m+")", "x"), "}"},
	}
	var b strings.Builder
	b.WriteString("role \"bad\" {\n  hosts = [\"*\"]\n")
	line := 2
	var bad []int // the line of each block's bad line
	for _, bl := range blocks {
		b.WriteString("\n")
		line++
		for _, s := range bl {
			line++
			if strings.HasPrefix(s, "!") {
				s = s[1:]
				bad = append(bad, line)
			}
			b.WriteString("  " + s + "\n")
		}
	}
	b.WriteString("}\n")
	spec := t.TempDir()
	writeFile(t, filepath.Join(spec, "main.hcl"), b.String())

	for _, args := range [][]string{{"validate", spec}, {"plan", "-i", inv, spec}, {"apply", "-i", inv, spec}} {
		r := tend(t, args...)
		if r.code != 1 {
			t.Errorf("%v: exit %d, want 1\n%s", args, r.code, r)
		}
		for i, bl := range blocks {
			if at := fmt.Sprintf("main.hcl:%d:", bad[i]); !strings.Contains(r.stderr, at) {
				t.Errorf("%v: no diagnostic at %s for\n  %s\n%s", args, at, strings.Join(bl, "\n  "), r.stderr)
			}
		}
		if strings.Contains(r.stdout, "Plan:") {
			t.Errorf("%v: a plan was made from an invalid spec:\n%s", args, r.stdout)
		}
	}
	if _, err := os.Lstat(filepath.Join(h.Root, root)); !os.IsNotExist(err) {
		t.Errorf("%s was touched on the host: %v", root, err)
	}
	if out, _, _ := h.Run("getent", "group", "a b"); out != "" {
		t.Errorf("group created: %s", out)
	}
	noMarker(t, h, marker)
}

// TestSymlinkedParentRefused: a managed path below a directory that an
// unprivileged user of the host replaced with a symbolic link to /etc is
// refused, with an error naming the path and the link, and /etc is left
// exactly as it was; a link that root (here: the spec itself) made is
// followed, as a release's current link is.
func TestSymlinkedParentRefused(t *testing.T) {
	hosts := testhost.Boot(t, 1)
	h := hosts[0]
	inv := testhost.WriteInventory(t, hosts, "")
	// nobody owns /srv/alice and puts conf -> /etc in it.
	h.Exec(t, "mkdir", "-p", "/srv/alice")
	h.Exec(t, "chown", "nobody", "/srv/alice")
	h.Exec(t, "runuser", "-u", "nobody", "--", "ln", "-s", "/etc", "/srv/alice/conf")
	before := h.Exec(t, "sh", "-c", "ls -la --time-style=full-iso /etc; sha256sum /etc/hostname /etc/motd")

	spec := t.TempDir()
	writeFile(t, filepath.Join(spec, "main.hcl"), `role "trick" {
  hosts = ["*"]

  file "/srv/alice/conf/tend-evil" {
    content = "evil\n"
  }

  file "/srv/alice/conf/hostname" {
    content = "pwned\n"
  }

  file "/srv/alice/conf/motd" {
    state = "absent"
  }

  directory "/srv/alice/conf/tend-evil.d" {}

  directory "/srv/alice/conf/cron.d" {
    mode = "0777"
  }
}
`)
	r := tend(t, "apply", "-i", inv, spec)
	if r.code == 0 {
		t.Fatalf("apply through a symlink owned by nobody succeeded:\n%s", r)
	}
	for _, p := range []string{"/srv/alice/conf/tend-evil", "/srv/alice/conf/hostname", "/srv/alice/conf/motd", "/srv/alice/conf/tend-evil.d", "/srv/alice/conf/cron.d"} {
		want := "refuse to change " + p + ": /srv/alice/conf is a symbolic link to /etc owned by uid 65534"
		if !strings.Contains(r.stdout+r.stderr, want) {
			t.Errorf("no error %q in\n%s", want, r)
		}
	}
	if after := h.Exec(t, "sh", "-c", "ls -la --time-style=full-iso /etc; sha256sum /etc/hostname /etc/motd"); after != before {
		t.Errorf("/etc changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// Declaring the link in the spec does not make it trusted: its owner
	// can still point it anywhere. (The probe observes it: no extra check.)
	writeFile(t, filepath.Join(spec, "main.hcl"), `role "trick" {
  hosts = ["*"]

  symlink "/srv/alice/conf" {
    target = "/etc"
  }

  file "/srv/alice/conf/tend-evil" {
    content    = "evil\n"
    depends_on = [symlink["/srv/alice/conf"]]
  }
}
`)
	r = tend(t, "apply", "-i", inv, spec)
	want := "refuse to change /srv/alice/conf/tend-evil: /srv/alice/conf is a symbolic link to /etc owned by uid 65534"
	if r.code == 0 || !strings.Contains(r.stdout+r.stderr, want) {
		t.Errorf("declared link: no error %q (exit %d) in\n%s", want, r.code, r)
	}
	if after := h.Exec(t, "sh", "-c", "ls -la --time-style=full-iso /etc; sha256sum /etc/hostname /etc/motd"); after != before {
		t.Errorf("/etc changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// The spec's own link (made by tend as root) is followed.
	writeFile(t, filepath.Join(spec, "main.hcl"), `role "release" {
  hosts = ["*"]

  directory "/srv/app/releases/v1" {}

  symlink "/srv/app/current" {
    target     = "/srv/app/releases/v1"
    depends_on = [directory["/srv/app/releases/v1"]]
  }

  file "/srv/app/current/config" {
    content    = "ok\n"
    depends_on = [symlink["/srv/app/current"]]
  }
}
`)
	// Pruning what the refused run recorded (the manifest lists the paths
	// that existed, through the link) is refused the same way.
	r = tend(t, "apply", "--prune", "-i", inv, spec)
	for _, p := range []string{"/srv/alice/conf/hostname", "/srv/alice/conf/cron.d"} {
		want := "refuse to change " + p + ": /srv/alice/conf is a symbolic link to /etc owned by uid 65534"
		if r.code == 0 || !strings.Contains(r.stdout+r.stderr, want) {
			t.Errorf("prune: no error %q (exit %d) in\n%s", want, r.code, r)
		}
	}
	if after := h.Exec(t, "sh", "-c", "ls -la --time-style=full-iso /etc; sha256sum /etc/hostname /etc/motd"); after != before {
		t.Errorf("/etc changed by prune:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if got := readFile(t, filepath.Join(h.Root, "/srv/app/releases/v1/config")); got != "ok\n" {
		t.Errorf("config through the link = %q", got)
	}
	// (Orphans the refused runs recorded may be listed: they are no change.)
	if r := tend(t, "plan", "-i", inv, spec); r.code != 0 ||
		!strings.Contains(r.stdout, "No changes.") && !strings.Contains(r.stdout, "0 to create, 0 to update, 0 to delete") {
		t.Errorf("plan after apply (want no changes):\n%s", r)
	}
}
