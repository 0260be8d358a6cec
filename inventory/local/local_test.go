package local

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tendhq/tend/inventory"
)

func runT(t *testing.T, tr *Transport, cmd inventory.Cmd) *inventory.Result {
	t.Helper()
	res, err := tr.Run(context.Background(), cmd)
	if err != nil {
		t.Fatalf("Run %q: %v", cmd.Args, err)
	}
	return res
}

func TestRun(t *testing.T) {
	tr := New(Options{Log: zaptest.NewLogger(t)})
	args := []string{"two words", "", "it's", "$(touch MARKER)", "a;b", "line1\nline2", "*", "-n"}
	res := runT(t, tr, inventory.Cmd{Args: append([]string{"printf", `%s\n`}, args...)})
	if want := strings.Join(args, "\n") + "\n"; string(res.Stdout) != want {
		t.Errorf("printf: got %q, want %q", res.Stdout, want)
	}

	res = runT(t, tr, inventory.Cmd{Args: []string{"sh", "-c", `printf %s "$TEND_X"`}, Env: []string{"TEND_X=a b'c"}})
	if string(res.Stdout) != "a b'c" {
		t.Errorf("env: %q", res.Stdout)
	}
	res = runT(t, tr, inventory.Cmd{Args: []string{"cat"}, Stdin: strings.NewReader("in\nput")})
	if string(res.Stdout) != "in\nput" {
		t.Errorf("stdin: %q", res.Stdout)
	}
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"sh", "-c", "echo oops >&2; exit 3"}, 3, "oops\n"},
		{[]string{"tend-no-such-program"}, 127, "tend-no-such-program: command not found"},
		{[]string{"/nonexistent/program"}, 127, "/nonexistent/program"},
		{[]string{"sh", "-c", "kill -9 $$"}, 137, ""},
	} {
		res := runT(t, tr, inventory.Cmd{Args: tc.args})
		if res.ExitCode != tc.code || !strings.Contains(string(res.Stderr), tc.stderr) {
			t.Errorf("%q: exit %d stderr %q, want %d and %q", tc.args, res.ExitCode, res.Stderr, tc.code, tc.stderr)
		}
	}
	if got := tr.Stats(); got != (inventory.Stats{Connections: 0, Execs: 7}) {
		t.Errorf("Stats() = %+v, want 0 connections, 7 execs", got)
	}
	for _, bad := range []inventory.Cmd{{}, {Args: []string{"true"}, Env: []string{"NOEQUALS"}}} {
		if _, err := tr.Run(context.Background(), bad); err == nil {
			t.Errorf("Run(%+v) gave no error", bad)
		}
	}
	if err := tr.Close(); err != nil {
		t.Error(err)
	}
	if err := tr.Close(); err != nil {
		t.Error(err)
	}
}

func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || !bytes.HasPrefix(bytes.TrimSpace(b[i+1:]), []byte("Z"))
}

func TestRunCancelKillsTheTree(t *testing.T) {
	tr := New(Options{})
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	// The background sleep is a grandchild that also holds stdout open.
	res, err := tr.Run(ctx, inventory.Cmd{Args: []string{"sh", "-c", `sleep 30 & echo $! > "$1"; wait`, "sh", pidFile}})
	if !errors.Is(err, context.DeadlineExceeded) || res != nil {
		t.Fatalf("Run = %v, %v; want nil, DeadlineExceeded", res, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Run took %s to give up", d)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	deadline := time.Now().Add(2 * time.Second)
	for alive(pid) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if alive(pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("the grandchild %d survived the cancel", pid)
	}
}

func TestBecome(t *testing.T) {
	if _, err := exec.LookPath("sudo"); err != nil {
		t.Fatal("sudo not found: apt-get install -y sudo")
	}
	if os.Geteuid() != 0 {
		t.Fatal("the become test runs as root (sudo -n must not ask for a password)")
	}
	tr := New(Options{Become: true, BecomeUser: "nobody"})
	res := runT(t, tr, inventory.Cmd{Args: []string{"id", "-un"}})
	if got := strings.TrimSpace(string(res.Stdout)); got != "nobody" {
		t.Errorf("id -un under become = %q (%s), want nobody", got, res.Stderr)
	}
	res = runT(t, tr, inventory.Cmd{Args: []string{"sh", "-c", `printf %s "$TEND_X"`}, Env: []string{"TEND_X=kept"}})
	if string(res.Stdout) != "kept" {
		t.Errorf("env under sudo: %q (%s)", res.Stdout, res.Stderr)
	}
	res = runT(t, tr, inventory.Cmd{Args: []string{"id", "-un"}, NoBecome: true})
	if got := strings.TrimSpace(string(res.Stdout)); got != "root" {
		t.Errorf("id -un with NoBecome = %q, want root", got)
	}
	if tr := New(Options{Become: true}); tr.become != "" {
		t.Errorf("become root as root uses sudo -u %s", tr.become)
	}
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode() & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky)
}

func TestFS(t *testing.T) {
	old := syscall.Umask(0o077) // modes must come out exact regardless
	defer syscall.Umask(old)
	tr := New(Options{Name: "here"})
	fsys, err := tr.FS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tmp := filepath.Join(dir, ".f.tmp")
	w, err := fsys.CreateExclusive(tmp, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("data")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, tmp); m != 0o644 {
		t.Errorf("created with %v under umask 077, want 0644", m)
	}
	_, err = fsys.CreateExclusive(tmp, 0o644)
	if !errors.Is(err, os.ErrExist) || !strings.Contains(err.Error(), "create "+tmp+" on here") {
		t.Errorf("CreateExclusive on an existing file: %v", err)
	}
	if err := fsys.Chmod(tmp, 0o4750); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, tmp); m != 0o750|os.ModeSetuid {
		t.Errorf("after Chmod(04750): %v", m)
	}
	if err := fsys.Chmod(tmp, 0o640|os.ModeSetgid|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, tmp); m != 0o640|os.ModeSetgid|os.ModeSticky {
		t.Errorf("after Chmod(setgid|sticky|0640): %v", m)
	}
	final := filepath.Join(dir, "f")
	if err := os.WriteFile(final, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Rename(tmp, final); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(final); string(b) != "data" {
		t.Errorf("after Rename: %q", b)
	}
	link := filepath.Join(dir, "link")
	if err := fsys.Symlink(final, link); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Lchown(link, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Lstat(link)
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65534 || st.Gid != 65534 {
		t.Errorf("link owned by %d:%d", st.Uid, st.Gid)
	}
	fi, _ = os.Stat(final)
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != uint32(os.Getuid()) {
		t.Errorf("Lchown followed the link: target owned by %d", st.Uid)
	}
	sub := filepath.Join(dir, "sub")
	if err := fsys.Mkdir(sub, 0o775); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, sub); m != 0o775 {
		t.Errorf("Mkdir mode %v under umask 077, want 0775", m)
	}
	if err := os.WriteFile(filepath.Join(sub, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(final, filepath.Join(sub, "out")); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := fsys.RemoveAll(sub); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(sub); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("RemoveAll left %s", sub)
	}
	if _, err := os.Stat(final); err != nil {
		t.Errorf("RemoveAll or Remove followed a symlink: %v", err)
	}
	if err := fsys.RemoveAll(sub); err != nil {
		t.Errorf("RemoveAll of a missing path: %v", err)
	}
	if err := fsys.RemoveAll("/"); err == nil {
		t.Error("RemoveAll(/) was not refused")
	}
	if err := fsys.Remove(link); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Remove of a missing path: %v", err)
	}
	if got := tr.Stats(); got != (inventory.Stats{}) {
		t.Errorf("FS operations counted as execs: %+v", got)
	}
}
