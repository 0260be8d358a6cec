package resources

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// runProbe runs the probe's command with this machine's sh, with extra
// environment env and, when asNobody, as uid/gid 65534 through setpriv(1).
// It returns the parsed reply; a parse error fails the test.
func runProbe(t *testing.T, p *Probe, asNobody bool, env ...string) *Observed {
	t.Helper()
	c := p.Cmd()
	args := c.Args
	if asNobody {
		if os.Getuid() != 0 {
			t.Fatal("this test switches to uid 65534 with setpriv: run it as root")
		}
		if _, err := exec.LookPath("setpriv"); err != nil {
			t.Fatal("setpriv not found: apt-get install -y util-linux")
		}
		args = append([]string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"}, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin = c.Stdin
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = "/"
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("probe: %v (ctx %v)\nstderr: %s", err, ctx.Err(), stderr.Bytes())
	}
	o, err := ParseProbe(p, out)
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, out)
	}
	return o
}

// awkwardNames are file names the probe must carry as data, never as code.
var awkwardNames = []string{
	"with space", "two  spaces", "trailing space ", " leading space",
	"quote'single", `quote"double`, "dollar$HOME", "$(touch pwned)", "`touch pwned2`",
	`back\slash`, `back\cslash`, `\n`, `ends\`, "-n", "-e", "--", "-rf",
	"ünïcödé 文件", "tab\tname", "star*", "brace{a,b}", "semi;colon", "pipe|x", "amp&x",
	"percent%s%d", "hash#x", "tilde~", "bang!x", "lt<gt>", "question?", "[bracket]",
}

func TestProbeAwkwardNames(t *testing.T) {
	dir := t.TempDir()
	p := NewProbe()
	for _, n := range awkwardNames {
		path := filepath.Join(dir, n)
		if err := os.WriteFile(path, []byte(n), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(n, path+".link"); err != nil {
			t.Fatal(err)
		}
		p.Path(path, true)
		p.Path(path+".link", true)
		p.Path(path+".missing", true)
		p.Path(filepath.Join(dir, "d "+n), false) // missing too
	}
	o := runProbe(t, p, false)
	for _, n := range awkwardNames {
		path := filepath.Join(dir, n)
		s, err := o.Path(path)
		if err != nil {
			t.Errorf("%q: %v", n, err)
			continue
		}
		if !s.Exists || s.Type != TypeFile || s.Size != int64(len(n)) || s.SHA256 != HashOf([]byte(n)) || s.Mode != 0o640 {
			t.Errorf("%q: state %+v", n, s)
		}
		if s, err := o.Path(path + ".link"); err != nil || s.Type != TypeSymlink || s.Target != n || s.SHA256 != "" {
			t.Errorf("%q.link: %+v, %v", n, s, err)
		}
		for _, m := range []string{path + ".missing", filepath.Join(dir, "d "+n)} {
			if s, err := o.Path(m); err != nil || s.Exists {
				t.Errorf("%q: %+v, %v; want absent", m, s, err)
			}
		}
	}
	for _, pwned := range []string{"pwned", "pwned2", "/pwned", "/pwned2"} {
		if _, err := os.Lstat(filepath.Join(dir, pwned)); err == nil {
			t.Errorf("a file name was run as a command: %s exists", pwned)
		}
	}
}

func TestProbeFileTypes(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, mode fs.FileMode, data string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	empty := mk("empty", 0o644, "")
	setuid := mk("setuid", 0o755|fs.ModeSetuid, "#!/bin/sh\n")
	regular := mk("regular", 0o644, "hello\n")
	orphan := mk("orphan", 0o600, "x")
	if err := os.Chown(orphan, 4242, 4343); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sub, 0o775|fs.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	sticky := filepath.Join(dir, "sticky")
	if err := os.Mkdir(sticky, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sticky, 0o777|fs.ModeSticky); err != nil {
		t.Fatal(err)
	}
	dirLink := filepath.Join(dir, "to-dir")
	if err := os.Symlink(sub, dirLink); err != nil {
		t.Fatal(err)
	}
	fileLink := filepath.Join(dir, "to-file")
	if err := os.Symlink("regular", fileLink); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(dir, "dangling")
	if err := os.Symlink("/nonexistent/tend/x y", dangling); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}

	p := NewProbe()
	for _, path := range []string{empty, setuid, regular, orphan, sub, sticky, dirLink, fileLink, dangling, fifo, "/dev/null"} {
		p.Path(path, true) // hash asked for all: only regular files get one
	}
	underFile := filepath.Join(regular, "child")
	p.Path(underFile, true)
	p.Path(filepath.Join(underFile, "deeper", "still"), false)
	p.Path(filepath.Join(dirLink, "through-link"), false)
	p.Path("/", false)
	p.User("root")
	p.User("nobody")
	p.User("tend-no-such-user")
	p.Group("nogroup")
	p.Group("r.ot") // a regexp would match root
	p.Group("tend-no-such-group")

	start := time.Now()
	o := runProbe(t, p, false)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("probe of a FIFO took %v: was it read?", d)
	}
	want := map[string]PathState{
		empty:    {Exists: true, Type: TypeFile, Mode: 0o644, Owner: "root", Group: "root", SHA256: hashEmpty},
		setuid:   {Exists: true, Type: TypeFile, Mode: 0o755 | fs.ModeSetuid, Owner: "root", Group: "root", Size: 10, SHA256: HashOf([]byte("#!/bin/sh\n"))},
		regular:  {Exists: true, Type: TypeFile, Mode: 0o644, Owner: "root", Group: "root", Size: 6, SHA256: hashHello},
		orphan:   {Exists: true, Type: TypeFile, Mode: 0o600, UID: 4242, GID: 4343, Owner: "4242", Group: "4343", Size: 1, SHA256: hashX},
		sub:      {Exists: true, Type: TypeDir, Mode: 0o775 | fs.ModeSetgid, Owner: "root", Group: "root"},
		sticky:   {Exists: true, Type: TypeDir, Mode: 0o777 | fs.ModeSticky, Owner: "root", Group: "root"},
		dirLink:  {Exists: true, Type: TypeSymlink, Mode: 0o777, Owner: "root", Group: "root", Size: int64(len(sub)), Target: sub},
		fileLink: {Exists: true, Type: TypeSymlink, Mode: 0o777, Owner: "root", Group: "root", Size: 7, Target: "regular"},
		dangling: {Exists: true, Type: TypeSymlink, Mode: 0o777, Owner: "root", Group: "root", Size: int64(len("/nonexistent/tend/x y")), Target: "/nonexistent/tend/x y"},
		fifo:     {Exists: true, Type: TypeOther, Mode: 0o644, Owner: "root", Group: "root"},
	}
	for path, w := range want {
		s, err := o.Path(path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		got := *s
		if got.Type == TypeDir {
			got.Size = 0 // depends on the file system
		}
		got.hasTarget = false
		if got != w {
			t.Errorf("%s:\n got %+v\nwant %+v", filepath.Base(path), got, w)
		}
	}
	if s, err := o.Path("/dev/null"); err != nil || s.Type != TypeOther || s.SHA256 != "" {
		t.Errorf("/dev/null: %+v, %v", s, err)
	}
	if s, err := o.Path("/"); err != nil || s.Type != TypeDir {
		t.Errorf("/: %+v, %v", s, err)
	}
	for _, path := range []string{underFile, filepath.Join(underFile, "deeper", "still")} {
		if s, err := o.Path(path); err != nil || s.Exists {
			t.Errorf("a path under a regular file (ENOTDIR) must be absent: %+v, %v", s, err)
		}
	}
	if s, err := o.Path(filepath.Join(dirLink, "through-link")); err != nil || s.Exists {
		t.Errorf("through-link: %+v, %v", s, err)
	}
	for name, w := range map[string]Account{"root": {Exists: true}, "nobody": {Exists: true, ID: 65534, GID: 65534}, "tend-no-such-user": {}} {
		if a, err := o.User(name); err != nil || *a != w {
			t.Errorf("user %s = %+v, %v; want %+v", name, a, err, w)
		}
	}
	for name, w := range map[string]Account{"nogroup": {Exists: true, ID: 65534}, "r.ot": {}, "tend-no-such-group": {}} {
		if a, err := o.Group(name); err != nil || *a != w {
			t.Errorf("group %s = %+v, %v; want %+v", name, a, err, w)
		}
	}
	if o.Facts.User != "root" || o.Facts.UID != 0 || o.Facts.Hostname == "" || o.Facts.OSID == "" {
		t.Errorf("facts = %+v", o.Facts)
	}
}

// TestProbeAsNobody runs the probe as an unprivileged user, which is where
// paths the host cannot answer come from: a directory it may not search and
// a file it may not read must be errors, never "absent", and must not break
// the framing of the other answers (even with a backslash in the path, which
// dash's echo would have interpreted).
func TestProbeAsNobody(t *testing.T) {
	base, err := os.MkdirTemp("", "tend-probe-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	locked := filepath.Join(base, `locked \c dir`)
	if err := os.Mkdir(locked, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(locked, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(base, "secret")
	if err := os.WriteFile(secret, []byte("s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	public := filepath.Join(base, `pub\nlic`)
	if err := os.WriteFile(public, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	p := NewProbe()
	p.Path(filepath.Join(locked, "f"), true)
	p.Path(filepath.Join(locked, `a\cb`, "deeper"), false)
	p.Path(secret, true)
	p.Path(public, true)
	p.Path(filepath.Join(base, "missing"), true)
	o := runProbe(t, p, true)

	for _, path := range []string{filepath.Join(locked, "f"), filepath.Join(locked, `a\cb`, "deeper")} {
		if s, err := o.Path(path); err == nil || !strings.Contains(err.Error(), "permission denied") || !strings.Contains(err.Error(), locked) {
			t.Errorf("%s under a directory nobody may not search: %+v, %v; want a permission error naming %s", path, s, err, locked)
		}
	}
	if s, err := o.Path(secret); err == nil || !strings.Contains(err.Error(), "Permission denied") {
		t.Errorf("unreadable file: %+v, %v; want the error of sha256sum", s, err)
	}
	if s, err := o.Path(public); err != nil || s.SHA256 != hashHello {
		t.Errorf("readable file next to an unreadable one: %+v, %v", s, err)
	}
	if s, err := o.Path(filepath.Join(base, "missing")); err != nil || s.Exists {
		t.Errorf("missing: %+v, %v", s, err)
	}
	if o.Facts.User != "nobody" || o.Facts.UID != 65534 {
		t.Errorf("facts = %+v", o.Facts)
	}

	// The kinds turn such errors into Diff errors, never into a plan.
	for _, r := range []Resource{
		build(t, "file", filepath.Join(locked, "f"), map[string]cty.Value{"content": str("x")}),
		build(t, "file", filepath.Join(locked, "f"), map[string]cty.Value{"state": str("absent")}),
		build(t, "directory", filepath.Join(locked, `a\cb`, "deeper"), map[string]cty.Value{}),
		build(t, "file", secret, map[string]cty.Value{"content": str("s3cret")}),
	} {
		if c, err := r.Diff(o); err == nil {
			t.Errorf("%s: Diff = %+v, want an error", r.Addr(), c)
		}
	}
}

// TestProbeManyPaths probes 500 paths in one execution. The script must not
// fork per path: it runs stat and sha256sum once each (counted through
// wrappers that log every call), readlink once per symlink, and the whole
// probe takes well under a second.
func TestProbeManyPaths(t *testing.T) {
	dir := t.TempDir()
	p := NewProbe()
	want := map[string]FileType{}
	for i := 0; i < 500; i++ {
		path := filepath.Join(dir, fmt.Sprintf("n %03d", i))
		switch i % 5 {
		case 0, 1:
			if err := os.WriteFile(path, []byte(path), 0o644); err != nil {
				t.Fatal(err)
			}
			want[path] = TypeFile
		case 2:
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
			want[path] = TypeDir
		case 3:
			if i%10 == 3 {
				if err := os.Symlink(dir, path); err != nil {
					t.Fatal(err)
				}
				want[path] = TypeSymlink
			} else {
				want[path] = "" // missing
			}
		case 4:
			path = filepath.Join(dir, fmt.Sprintf("n %03d", i-4), "under-a-file")
			want[path] = "" // ENOTDIR
		}
		p.Path(path, true)
	}
	if p.Len() != 500 {
		t.Fatalf("probe has %d queries", p.Len())
	}

	// How long it takes is measured by BenchmarkProbeShell, not here: a
	// timed assertion fails on a loaded machine and proves nothing.
	o := runProbe(t, p, false)
	for path, typ := range want {
		s, err := o.Path(path)
		switch {
		case err != nil:
			t.Errorf("%s: %v", path, err)
		case typ == "" && s.Exists, typ != "" && s.Type != typ:
			t.Errorf("%s: %+v, want %q", path, s, typ)
		case typ == TypeFile && s.SHA256 != HashOf([]byte(path)):
			t.Errorf("%s: sha %s", path, s.SHA256)
		case typ == TypeSymlink && s.Target != dir:
			t.Errorf("%s: target %q", path, s.Target)
		}
	}

	// Count the external programs the script starts.
	shims, log := t.TempDir(), filepath.Join(t.TempDir(), "calls")
	for _, prog := range []string{"stat", "sha256sum", "readlink", "id", "getent", "cat", "uname"} {
		real, err := exec.LookPath(prog)
		if err != nil {
			t.Fatalf("%s not found: apt-get install -y coreutils", prog)
		}
		script := fmt.Sprintf("#!/bin/sh\necho %s >> \"$TEND_SHIM_LOG\"\nexec %s \"$@\"\n", prog, real)
		if err := os.WriteFile(filepath.Join(shims, prog), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	runProbe(t, p, false, "PATH="+shims+":"+os.Getenv("PATH"), "TEND_SHIM_LOG="+log)
	calls, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, c := range strings.Fields(string(calls)) {
		count[c]++
	}
	if count["stat"] != 1 || count["sha256sum"] != 1 || count["readlink"] != 50 {
		t.Errorf("programs started for 500 paths: %v; want stat and sha256sum once, readlink once per symlink (50)", count)
	}
}

// TestProbeShells runs one probe with every POSIX shell this machine has
// (the transport runs "sh", which is dash on Debian and bash or busybox
// elsewhere): the replies must be the same, byte for byte.
func TestProbeShells(t *testing.T) {
	dir := t.TempDir()
	p := NewProbe()
	for i, n := range awkwardNames {
		path := filepath.Join(dir, n)
		if err := os.WriteFile(path, []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(n, path+".link"); err != nil {
			t.Fatal(err)
		}
		p.Path(path, i%2 == 0)
		p.Path(path+".link", true)
		p.Path(filepath.Join(path, "below a file"), true)
		// Content queries: the known content, other content, none.
		switch i % 3 {
		case 0:
			p.ContentUnless(path, HashOf([]byte(n)), textOf(n))
		case 1:
			p.ContentUnless(path, HashOf([]byte("other")), textOf("other"))
		default:
			p.Content(path)
		}
	}
	p.User("root")
	p.Group("root")
	var shells [][]string
	for _, sh := range [][]string{{"dash"}, {"bash", "--posix"}, {"busybox", "sh"}} {
		if _, err := exec.LookPath(sh[0]); err == nil {
			shells = append(shells, sh)
		}
	}
	if len(shells) < 2 {
		t.Fatalf("found only %v: apt-get install -y dash bash", shells)
	}
	var first []byte
	for _, sh := range shells {
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
			t.Fatalf("%v: %v", sh, err)
		}
		for i, n := range awkwardNames {
			path := filepath.Join(dir, n)
			got, exists, err := o.Content(path)
			if err != nil || !exists || string(got) != n || o.ContentSame(path) != (i%3 == 0) {
				t.Errorf("%v: content of %q: %q, %v, same %v, %v", sh, n, got, exists, o.ContentSame(path), err)
			}
		}
		// The apt cache age may tick between two runs.
		out = stableReply(out)
		if first == nil {
			first = out
		} else if !bytes.Equal(out, first) {
			t.Errorf("%v replies differently from %v:\n%s\n---\n%s", sh, shells[0], out, first)
		}
	}
}

// TestProbeAccountLookupFailure makes getent fail as it does when a
// directory service is down: the accounts are errors, not absent, and the
// paths of the same probe are still answered.
func TestProbeAccountLookupFailure(t *testing.T) {
	shims := t.TempDir()
	script := "#!/bin/sh\necho 'getent: NSS lookup failed' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(shims, "getent"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	p := NewProbe()
	p.Path("/", false)
	p.User("root")
	p.Group("root")
	o := runProbe(t, p, false, "PATH="+shims+":"+os.Getenv("PATH"))
	if a, err := o.User("root"); err == nil || !strings.Contains(err.Error(), "NSS lookup failed") {
		t.Errorf("user: %+v, %v; want the lookup error", a, err)
	}
	if a, err := o.Group("root"); err == nil || !strings.Contains(err.Error(), "status 1") {
		t.Errorf("group: %+v, %v; want the lookup error", a, err)
	}
	if s, err := o.Path("/"); err != nil || s.Type != TypeDir {
		t.Errorf("/: %+v, %v", s, err)
	}
	// Applying an owner by name then fails instead of guessing.
	var pr perms
	pr.owner = "root"
	if _, _, _, err := pr.ids(o, -1, -1); err == nil {
		t.Error("ids resolved an owner whose lookup failed")
	}
}

// TestProbeScales probes 4000 existing files and checks the answers; that
// the shell's work stays linear (appending each path to "$@" once made this
// take about 8 s in dash) is measured by BenchmarkProbeShell.
func TestProbeScales(t *testing.T) {
	dir := t.TempDir()
	p := NewProbe()
	for i := 0; i < 4000; i++ {
		path := filepath.Join(dir, fmt.Sprintf("some/longer name/file-%04d.conf", i))
		if i%500 == 0 {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(path, []byte{byte(i)}, 0o644); err != nil {
			t.Fatal(err)
		}
		p.Path(path, true)
	}
	o := runProbe(t, p, false)
	if s, err := o.Path(filepath.Join(dir, "some/longer name/file-3999.conf")); err != nil || s.SHA256 != HashOf([]byte{byte(3999 % 256)}) {
		t.Errorf("last file: %+v, %v", s, err)
	}
}
