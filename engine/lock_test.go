package engine_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"go.uber.org/zap/zaptest"

	"github.com/tendhq/tend/engine"
	"github.com/tendhq/tend/engine/config"
	"github.com/tendhq/tend/engine/report"
	"github.com/tendhq/tend/internal/sshtest"
	"github.com/tendhq/tend/inventory"
	"github.com/tendhq/tend/inventory/local"
	"github.com/tendhq/tend/inventory/ssh"
	"github.com/tendhq/tend/resources"
)

// slowApply is a test kind that always differs and whose Apply takes a
// while, recording its interval in applyLog under its run label.
type slowApply struct {
	addr resources.Addr
	run  string
}

// interval is one Apply call of a slowApply.
type interval struct {
	run        string
	start, end time.Time
}

var (
	applyMu  sync.Mutex
	applyLog []interval
)

func init() {
	resources.Register(&resources.Kind{
		Name:       "test_slow",
		Attributes: []hcl.AttributeSchema{{Name: "run", Required: true}},
		New: func(b *resources.Block) (resources.Resource, hcl.Diagnostics) {
			return &slowApply{addr: b.Addr, run: b.Attrs["run"].Value.AsString()}, nil
		},
	})
}

func (r *slowApply) Addr() resources.Addr       { return r.addr }
func (r *slowApply) Observe(p *resources.Probe) {}
func (r *slowApply) Diff(o *resources.Observed) (*resources.Change, error) {
	return &resources.Change{Addr: r.addr, Action: resources.Update}, nil
}

func (r *slowApply) Apply(ctx context.Context, t *resources.Target, c *resources.Change) error {
	start := time.Now()
	time.Sleep(150 * time.Millisecond)
	applyMu.Lock()
	applyLog = append(applyLog, interval{r.run, start, time.Now()})
	applyMu.Unlock()
	return nil
}

// recording wraps a transport and keeps the argv of every Run.
type recording struct {
	inventory.Transport
	mu   sync.Mutex
	args [][]string
	// onLock, when set, is called as the lock command starts.
	onLock func()
}

func (r *recording) Run(ctx context.Context, cmd inventory.Cmd) (*inventory.Result, error) {
	r.mu.Lock()
	r.args = append(r.args, cmd.Args)
	r.mu.Unlock()
	if r.onLock != nil && strings.Contains(strings.Join(cmd.Args, " "), "flock") {
		r.onLock()
	}
	return r.Transport.Run(ctx, cmd)
}

// lockCmds counts the lock commands among the recorded executions.
func (r *recording) lockCmds() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, a := range r.args {
		if strings.Contains(strings.Join(a, " "), "flock") {
			n++
		}
	}
	return n
}

// recordingDial dials the local transport and keeps every transport in
// *out.
func recordingDial(t *testing.T, out *[]*recording, mu *sync.Mutex) engine.DialFunc {
	return recordingDialWith(t, out, mu, nil)
}

// recordingDialWith is recordingDial through dial (the local transport when
// nil).
func recordingDialWith(t *testing.T, out *[]*recording, mu *sync.Mutex, dial func(context.Context) (inventory.Transport, error)) engine.DialFunc {
	return func(ctx context.Context, h *inventory.Host) (inventory.Transport, error) {
		var tr inventory.Transport = local.New(local.Options{Name: h.Name, Log: zaptest.NewLogger(t)})
		if dial != nil {
			var err error
			if tr, err = dial(ctx); err != nil {
				return nil, err
			}
		}
		r := &recording{Transport: tr}
		mu.Lock()
		*out = append(*out, r)
		mu.Unlock()
		return r, nil
	}
}

func slowSpec(run string) string {
	return fmt.Sprintf(`role "r" {
  hosts = ["*"]
  test_slow "a" {
    run = %q
  }
  test_slow "b" {
    run = %q
  }
}
`, run, run)
}

// Two applies on one host at once take turns: every Apply of one run ends
// before any Apply of the other starts.
func TestLockSerialisesApplies(t *testing.T) {
	t.Run("local", func(t *testing.T) { testLockSerialises(t, nil) })
	t.Run("ssh", func(t *testing.T) {
		srv := sshtest.Start(t, 1)[0]
		testLockSerialises(t, func(ctx context.Context) (inventory.Transport, error) {
			return ssh.Dial(ctx, srv.Host("h"), ssh.Options{Log: zaptest.NewLogger(t)})
		})
	})
}

// testLockSerialises runs two applies at once through dial (the local
// transport when nil).
func testLockSerialises(t *testing.T, dial func(context.Context) (inventory.Transport, error)) {
	state := t.TempDir()
	applyMu.Lock()
	applyLog = nil
	applyMu.Unlock()
	var (
		trs []*recording
		mu  sync.Mutex
	)
	var wg sync.WaitGroup
	runs := make([]*report.Run, 2)
	for i, label := range []string{"one", "two"} {
		graphs := compile(t, slowSpec(label), t.TempDir())
		wg.Add(1)
		go func() {
			defer wg.Done()
			runs[i] = engine.Run(context.Background(), graphs, engine.Options{
				Apply: true, Dial: recordingDialWith(t, &trs, &mu, dial), StateDir: state, Log: zaptest.NewLogger(t),
			})
		}()
	}
	wg.Wait()
	for _, run := range runs {
		if h := run.Hosts[0]; h.Error != "" {
			t.Fatalf("run failed: %s", h.Error)
		}
	}
	applyMu.Lock()
	log := append([]interval(nil), applyLog...)
	applyMu.Unlock()
	if len(log) != 4 {
		t.Fatalf("%d applies recorded, want 4", len(log))
	}
	span := map[string][2]time.Time{}
	for _, iv := range log {
		s, ok := span[iv.run]
		if !ok || iv.start.Before(s[0]) {
			s[0] = iv.start
		}
		if !ok || iv.end.After(s[1]) {
			s[1] = iv.end
		}
		span[iv.run] = s
	}
	a, b := span["one"], span["two"]
	if a[0].Before(b[1]) && b[0].Before(a[1]) {
		t.Errorf("the applies of two runs interleaved: one %v..%v, two %v..%v",
			a[0].Format("15:04:05.000"), a[1].Format("15:04:05.000"), b[0].Format("15:04:05.000"), b[1].Format("15:04:05.000"))
	}
	for i, tr := range trs {
		if n := tr.lockCmds(); n != 1 {
			t.Errorf("run %d ran %d lock commands, want 1", i, n)
		}
	}
	if _, err := os.Stat(filepath.Join(state, "lock.local")); err != nil {
		t.Errorf("the lock file: %v", err)
	}
}

// holdLock takes lockfile with a flock process of the test's and returns
// a function that releases it (killing the process); cleanup calls it too.
func holdLock(t *testing.T, lockfile string) (release func()) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(lockfile), 0o700); err != nil {
		t.Fatal(err)
	}
	holder := exec.Command("flock", lockfile, "sleep", "60")
	holder.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := holder.Start(); err != nil {
		t.Fatalf("start flock (apt-get install -y util-linux): %v", err)
	}
	pid := holder.Process.Pid
	var once sync.Once
	release = func() {
		once.Do(func() { _ = syscall.Kill(-pid, syscall.SIGKILL); _ = holder.Wait() })
	}
	t.Cleanup(release)
	// Wait until the holder has the lock.
	for i := 0; ; i++ {
		if err := exec.Command("flock", "-n", lockfile, "true").Run(); err != nil {
			break
		}
		if i == 100 {
			t.Fatal("the test's flock did not take the lock within 5s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return release
}

// A lock held by someone else makes a run wait LockTimeout, then fail the
// host with a message naming the lock file; nothing is applied.
func TestLockHeldElsewhere(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	lockfile := filepath.Join(state, "lock.local")
	holdLock(t, lockfile)

	applyMu.Lock()
	applyLog = nil
	applyMu.Unlock()
	graphs := compile(t, slowSpec("held"), t.TempDir())
	start := time.Now()
	run := engine.Run(context.Background(), graphs, engine.Options{
		Apply: true, Dial: localDial(t), StateDir: state, LockTimeout: 700 * time.Millisecond, Log: zaptest.NewLogger(t),
	})
	took := time.Since(start)
	h := run.Hosts[0]
	if want := "host is locked by another tend run (" + lockfile + ")"; h.Error != want {
		t.Errorf("host error %q, want %q", h.Error, want)
	}
	if took < 700*time.Millisecond || took > 10*time.Second {
		t.Errorf("the run gave up after %v, want about 700ms", took)
	}
	applyMu.Lock()
	defer applyMu.Unlock()
	if len(applyLog) != 0 {
		t.Errorf("%d resources applied without the lock", len(applyLog))
	}
	for _, r := range h.Resources {
		if r.Status == report.StatusApplied {
			t.Errorf("%s applied without the lock", r.Addr)
		}
	}
}

// A run with nothing to apply takes no lock: its only execution is the
// probe. The run that applied took exactly one.
func TestNoOpTakesNoLock(t *testing.T) {
	root, state := t.TempDir(), t.TempDir()
	graphs := compile(t, `role "r" {
  hosts = ["*"]
  file "f" {
    path    = "${host.vars.root}/f"
    content = "x\n"
  }
}
`, root)
	var (
		trs []*recording
		mu  sync.Mutex
	)
	for i := range 2 {
		run := engine.Run(context.Background(), graphs, engine.Options{
			Apply: true, Dial: recordingDial(t, &trs, &mu), StateDir: state, Log: zaptest.NewLogger(t),
		})
		if h := run.Hosts[0]; h.Failed() {
			t.Fatalf("run %d failed: %s %+v", i, h.Error, h.Resources[0])
		}
	}
	if n := trs[0].lockCmds(); n != 1 {
		t.Errorf("the applying run ran %d lock commands, want 1", n)
	}
	if n := trs[1].lockCmds(); n != 0 {
		t.Errorf("the no-op run ran %d lock commands, want 0", n)
	}
	if s := trs[1].Stats(); s.Execs != 1 {
		t.Errorf("the no-op run made %d executions, want 1 (the probe): %q", s.Execs, trs[1].args)
	}
}

// A host without flock fails clearly, naming the missing program.
func TestLockWithoutFlock(t *testing.T) {
	bin := t.TempDir()
	// A PATH with sh and the probe's tools but no flock.
	for _, p := range []string{"sh", "cat", "mkdir", "chmod", "stat", "readlink", "sha256sum", "uname", "id", "head", "od", "tr", "wc", "printf", "env", "test", "ls", "find", "hostname", "nproc", "sed", "awk", "base64", "dd", "grep", "cut", "tail", "sort", "getent", "true", "false", "dirname", "basename", "mktemp", "rm", "mv", "ln", "touch", "chown"} {
		if full, err := exec.LookPath(p); err == nil {
			if err := os.Symlink(full, filepath.Join(bin, p)); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Setenv("PATH", bin)
	graphs := compile(t, slowSpec("noflock"), t.TempDir())
	run := engine.Run(context.Background(), graphs, engine.Options{Apply: true, Dial: localDial(t), StateDir: t.TempDir()})
	if h := run.Hosts[0]; !strings.Contains(h.Error, "flock is not installed on this host") {
		t.Errorf("host error %q, want it to say flock is missing", h.Error)
	}
}

// changedWhileWaiting applies a spec of two files, f and g, while another
// run holds the host's lock: once the run planned and waits for the lock
// (the first time only), someone writes f by hand and releases the lock.
// It returns the run's host report and the dials it made, and what a new
// run of the same spec needs.
func changedWhileWaiting(t *testing.T, replan int) (h *report.Host, dials int, again waited) {
	t.Helper()
	root, state := t.TempDir(), t.TempDir()
	release := holdLock(t, filepath.Join(state, "lock.local"))
	graphs := compile(t, `role "r" {
  hosts = ["*"]
  file "f" {
    path    = "${host.vars.root}/f"
    content = "from tend\n"
  }
  file "g" {
    path    = "${host.vars.root}/g"
    content = "g\n"
  }
}
`, root)
	f := filepath.Join(root, "f")
	var mu sync.Mutex
	dial := func(ctx context.Context, h *inventory.Host) (inventory.Transport, error) {
		r := &recording{Transport: local.New(local.Options{Name: h.Name})}
		mu.Lock()
		defer mu.Unlock()
		dials++
		if dials > 1 {
			return r, nil
		}
		r.onLock = func() {
			// Planned, now waiting for the lock: someone else writes f
			// and releases the lock a moment later.
			if err := os.WriteFile(f, []byte("by hand\n"), 0o644); err != nil {
				t.Error(err)
			}
			go func() {
				time.Sleep(300 * time.Millisecond)
				release()
			}()
		}
		return r, nil
	}
	run := engine.Run(context.Background(), graphs, engine.Options{Apply: true, Dial: dial, StateDir: state, Replan: replan, Log: zaptest.NewLogger(t)})
	mu.Lock()
	defer mu.Unlock()
	return run.Hosts[0], dials, waited{graphs: graphs, root: root, state: state}
}

// waited is the spec, the files' directory and the state directory of a
// changedWhileWaiting run.
type waited struct {
	graphs      []*config.HostGraph
	root, state string
}

// A host changed while the run waited for the lock is refused, not
// overwritten with a stale plan: the run must be planned again.
func TestChangedWhileWaitingIsRefused(t *testing.T) {
	h, dials, w := changedWhileWaiting(t, 0)
	f := filepath.Join(w.root, "f")
	if want := "the host changed since it was planned (file[f]): re-plan"; h.Error != want {
		t.Errorf("host error %q, want %q", h.Error, want)
	}
	if dials != 1 || h.Replans != 0 {
		t.Errorf("%d dials and %d replans without Replan, want 1 and 0", dials, h.Replans)
	}
	if b, _ := os.ReadFile(f); string(b) != "by hand\n" {
		t.Errorf("f = %q: the stale plan was applied", b)
	}
	if _, err := os.Stat(filepath.Join(w.root, "g")); !os.IsNotExist(err) {
		t.Errorf("g was created by a refused run: %v", err)
	}
	// Planned again, the same spec converges.
	run := engine.Run(context.Background(), w.graphs, engine.Options{Apply: true, Dial: localDial(t), StateDir: w.state})
	if h := run.Hosts[0]; h.Failed() {
		t.Fatalf("second run failed: %s", h.Error)
	}
	if b, _ := os.ReadFile(f); string(b) != "from tend\n" {
		t.Errorf("f = %q after the second run", b)
	}
}

// With Options.Replan (the agent's), the host changed while the run waited
// for the lock is planned again from a new probe, in the same run, and
// converged: the refused attempt applied nothing, the second one applies
// the new plan.
func TestChangedWhileWaitingIsPlannedAgain(t *testing.T) {
	h, dials, w := changedWhileWaiting(t, 2)
	if h.Failed() {
		t.Fatalf("host failed with Replan: %s", h.Error)
	}
	if dials != 2 || h.Replans != 1 {
		t.Errorf("%d dials and %d replans, want 2 and 1", dials, h.Replans)
	}
	for name, want := range map[string]string{"f": "from tend\n", "g": "g\n"} {
		if b, err := os.ReadFile(filepath.Join(w.root, name)); err != nil || string(b) != want {
			t.Errorf("%s = %q (%v), want %q", name, b, err, want)
		}
	}
}
