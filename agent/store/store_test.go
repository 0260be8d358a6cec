package store

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

func open(t *testing.T, path string, retain int) *Store {
	t.Helper()
	s, err := Open(path, retain)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestSyncRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.db")
	s := open(t, path, 0)
	date := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	x := &Sync{
		Revision: "main@sha1:abc", Hash: "abc", Author: "Ada", Date: date, Message: "tune nginx",
		Trigger: TriggerWebhook, By: "ci", Roles: []string{"web"},
	}
	if err := s.BeginSync(x); err != nil {
		t.Fatal(err)
	}
	if x.ID != 1 || x.Result != ResultRunning || x.Started.IsZero() {
		t.Fatalf("BeginSync: ID %d, result %q, started %v; want 1, running, set", x.ID, x.Result, x.Started)
	}
	got, err := s.Sync(x.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Result != ResultRunning {
		t.Fatalf("stored result %q, want running", got.Result)
	}
	x.Result = ResultFailed
	x.Reason = "web-2 failed"
	x.Hosts = []HostResult{
		{Name: "web-1", Result: ResultSucceeded, Resources: []ResourceResult{{Address: "file[/etc/motd]", Action: "update", Status: "applied"}}},
		{Name: "web-2", Result: ResultFailed, Error: "unreachable"},
	}
	if err := s.EndSync(x); err != nil {
		t.Fatal(err)
	}
	if x.Ended.IsZero() {
		t.Fatal("EndSync did not set Ended")
	}
	// Survives a reopen, byte for byte (times compared as instants).
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path, 0)
	got, err = s.Sync(x.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(x, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Fatalf("sync after reopen (-want +got):\n%s", diff)
	}
	if _, err := s.Sync(99); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Sync(99): %v, want ErrNotFound", err)
	}
	if err := s.EndSync(&Sync{ID: 99}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("EndSync of an unknown sync: %v, want ErrNotFound", err)
	}
	if err := s.EndSync(&Sync{}); err == nil {
		t.Fatal("EndSync without an ID succeeded")
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestNewestFirstAndRetention(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "h.db"), 5)
	for i := range 12 {
		x := &Sync{Message: fmt.Sprint(i)}
		if err := s.BeginSync(x); err != nil {
			t.Fatal(err)
		}
		if x.ID != uint64(i+1) {
			t.Fatalf("sync %d got ID %d", i, x.ID)
		}
		x.Result = ResultSucceeded
		if err := s.EndSync(x); err != nil {
			t.Fatal(err)
		}
		if err := s.AddDrift(&Drift{Host: fmt.Sprint("h", i)}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.Syncs(0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	for _, x := range all {
		ids = append(ids, x.ID)
	}
	if diff := cmp.Diff([]uint64{12, 11, 10, 9, 8}, ids); diff != "" {
		t.Fatalf("kept syncs (-want +got):\n%s", diff)
	}
	two, err := s.Syncs(2)
	if err != nil {
		t.Fatal(err)
	}
	if len(two) != 2 || two[0].ID != 12 || two[1].ID != 11 || two[0].Message != "11" {
		t.Fatalf("Syncs(2) = %+v", two)
	}
	if _, err := s.Sync(7); !errors.Is(err, ErrNotFound) {
		t.Fatalf("dropped sync 7: %v, want ErrNotFound", err)
	}
	drifts, err := s.Drifts(0)
	if err != nil {
		t.Fatal(err)
	}
	var hosts []string
	for _, d := range drifts {
		hosts = append(hosts, d.Host)
		if d.Time.IsZero() {
			t.Fatalf("drift %d has no time", d.ID)
		}
	}
	if diff := cmp.Diff([]string{"h11", "h10", "h9", "h8", "h7"}, hosts); diff != "" {
		t.Fatalf("kept drifts (-want +got):\n%s", diff)
	}
	d := drifts[0]
	d.Corrected, d.SyncID = true, 12
	if err := s.UpdateDrift(d); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Drifts(1); !got[0].Corrected || got[0].SyncID != 12 {
		t.Fatalf("updated drift = %+v", got[0])
	}
	if err := s.UpdateDrift(&Drift{ID: 1}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("UpdateDrift of a dropped event: %v, want ErrNotFound", err)
	}
}

func TestState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	s := open(t, path, 0)
	var paused []string
	if ok, err := s.GetState("paused", &paused); ok || err != nil {
		t.Fatalf("GetState of a missing key = %v, %v", ok, err)
	}
	if err := s.SetState("paused", []string{"web", "db"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetState("applied/web-1", "main@sha1:abc"); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	s = open(t, path, 0)
	if ok, err := s.GetState("paused", &paused); !ok || err != nil || !cmp.Equal(paused, []string{"web", "db"}) {
		t.Fatalf("GetState(paused) = %v, %v, %v", ok, err, paused)
	}
	var rev string
	if ok, err := s.GetState("applied/web-1", &rev); !ok || err != nil || rev != "main@sha1:abc" {
		t.Fatalf("GetState(applied/web-1) = %v, %v, %q", ok, err, rev)
	}
	var n int
	if _, err := s.GetState("paused", &n); err == nil {
		t.Fatal("decoding a list into an int succeeded")
	}
	if err := s.DeleteState("paused"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.GetState("paused", &paused); ok {
		t.Fatal("deleted state is still there")
	}
	if err := s.SetState("bad", func() {}); err == nil {
		t.Fatal("SetState of a func succeeded")
	}
}

func TestInterruptedOnReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	s := open(t, path, 0)
	done := &Sync{Message: "done"}
	running := &Sync{Message: "running", Hosts: []HostResult{{Name: "a", Result: ResultRunning}, {Name: "b", Result: ResultSucceeded}}}
	for _, x := range []*Sync{done, running} {
		if err := s.BeginSync(x); err != nil {
			t.Fatal(err)
		}
	}
	done.Result = ResultSucceeded
	if err := s.EndSync(done); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	before := time.Now()
	s = open(t, path, 0)
	got, err := s.Sync(running.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Result != ResultInterrupted || got.Reason != "the agent stopped during this sync" || got.Ended.Before(before) {
		t.Fatalf("running sync after reopen: result %q, reason %q, ended %v", got.Result, got.Reason, got.Ended)
	}
	if got.Hosts[0].Result != ResultInterrupted || got.Hosts[1].Result != ResultSucceeded {
		t.Fatalf("hosts after reopen: %+v", got.Hosts)
	}
	if got, _ := s.Sync(done.ID); got.Result != ResultSucceeded || got.Reason != "" {
		t.Fatalf("finished sync changed on reopen: %+v", got)
	}
	// IDs keep growing after a reopen.
	x := &Sync{}
	if err := s.BeginSync(x); err != nil {
		t.Fatal(err)
	}
	if x.ID != 3 {
		t.Fatalf("ID after reopen = %d, want 3", x.ID)
	}
}

func TestLockedByAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	open(t, path, 0)
	// A second bbolt handle in this process takes the same flock and so
	// stands for another agent.
	start := time.Now()
	_, err := Open(path, 0)
	if err == nil || !strings.Contains(err.Error(), "locked by another agent?") {
		t.Fatalf("second Open: %v, want a lock error", err)
	}
	if d := time.Since(start); d < OpenTimeout-time.Second || d > OpenTimeout+5*time.Second {
		t.Fatalf("second Open gave up after %v, want about %v", d, OpenTimeout)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	s := open(t, path, 0)
	err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, []byte("99")) })
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	if _, err := Open(path, 0); err == nil || !strings.Contains(err.Error(), "newer agent") {
		t.Fatalf("Open of a newer schema: %v", err)
	}
}

func TestConcurrentReadersAndWriter(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "h.db"), 50)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 8)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				list, err := s.Syncs(10)
				if err != nil {
					errs <- err
					return
				}
				for i := 1; i < len(list); i++ {
					if list[i].ID >= list[i-1].ID {
						errs <- fmt.Errorf("not newest first: %d before %d", list[i-1].ID, list[i].ID)
						return
					}
				}
				if len(list) > 0 {
					if _, err := s.Sync(list[0].ID); err != nil && !errors.Is(err, ErrNotFound) {
						errs <- err
						return
					}
				}
				if _, err := s.Drifts(5); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range 200 {
		x := &Sync{Message: fmt.Sprint(i)}
		if err := s.BeginSync(x); err != nil {
			t.Fatal(err)
		}
		x.Result = ResultSucceeded
		if err := s.EndSync(x); err != nil {
			t.Fatal(err)
		}
		if err := s.AddDrift(&Drift{Host: "h"}); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if all, _ := s.Syncs(0); len(all) != 50 || all[0].ID != 200 {
		t.Fatalf("after 200 syncs with retain 50: %d kept, newest %d", len(all), all[0].ID)
	}
}

// crashChildEnv makes the test binary a writer that loops until killed.
const crashChildEnv = "TEND_STORE_CRASH_CHILD"

// TestCrashChild is the writer TestCrashRecovery kills; it does nothing in
// a normal run.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		return
	}
	s, err := Open(path, 30)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	for i := 0; ; i++ {
		x := &Sync{Message: strings.Repeat("x", i%2000), Hosts: []HostResult{{Name: "web", Result: ResultRunning}}}
		if err := s.BeginSync(x); err != nil {
			os.Exit(4)
		}
		if i == 0 {
			fmt.Println("open") // the parent kills only after this
		}
		if i%3 == 0 {
			continue // left running
		}
		x.Result = ResultSucceeded
		if err := s.EndSync(x); err != nil {
			os.Exit(5)
		}
		if err := s.AddDrift(&Drift{Host: "web", Resources: []DriftedResource{{Address: "file[/x]", Summary: strings.Repeat("y", i%500)}}}); err != nil {
			os.Exit(6)
		}
		if err := s.SetState("count", i); err != nil {
			os.Exit(7)
		}
	}
}

func TestCrashRecovery(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		return
	}
	path := filepath.Join(t.TempDir(), "h.db")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var lastID uint64
	for round := range 20 {
		cmd := exec.Command(exe, "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pid := cmd.Process.Pid
		t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL); _ = cmd.Wait() })
		// Wait until it has the file open, then let it write for a random
		// while before the kill.
		buf := make([]byte, 5)
		if _, err := out.Read(buf); err != nil || string(buf[:4]) != "open" {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("round %d: the writer did not open the store: %q %v", round, buf, err)
		}
		time.Sleep(time.Duration(5+rand.IntN(150)) * time.Millisecond)
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()

		s, err := Open(path, 30)
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		if err := s.Check(); err != nil {
			t.Fatalf("round %d: bbolt check after SIGKILL: %v", round, err)
		}
		syncs, err := s.Syncs(0)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		drifts, err := s.Drifts(0)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if len(syncs) == 0 || len(syncs) > 30 || len(drifts) > 30 {
			t.Fatalf("round %d: %d syncs and %d drifts, want 1..30 and at most 30", round, len(syncs), len(drifts))
		}
		if syncs[0].ID <= lastID {
			t.Fatalf("round %d: newest ID %d, not past the last round's %d", round, syncs[0].ID, lastID)
		}
		lastID = syncs[0].ID
		for i, x := range syncs {
			if x.Result == ResultRunning {
				t.Fatalf("round %d: sync %d still running after reopen", round, x.ID)
			}
			if i > 0 && x.ID != syncs[i-1].ID-1 {
				t.Fatalf("round %d: gap between syncs %d and %d", round, syncs[i-1].ID, x.ID)
			}
		}
		interrupted := 0
		for _, x := range syncs {
			if x.Result == ResultInterrupted {
				interrupted++
				if x.Reason == "" || x.Ended.IsZero() || x.Hosts[0].Result != ResultInterrupted {
					t.Fatalf("round %d: interrupted sync %d: %+v", round, x.ID, x)
				}
			}
		}
		if interrupted == 0 {
			t.Fatalf("round %d: no interrupted sync, yet every third is left running", round)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
