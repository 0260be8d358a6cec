package graph

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// recorder remembers when each call of fn started and ended, as positions in
// one sequence of events.
type recorder struct {
	mu     sync.Mutex
	seq    int
	start  map[string]int
	end    map[string]int
	called []string
}

func newRecorder() *recorder {
	return &recorder{start: map[string]int{}, end: map[string]int{}}
}

func (r *recorder) began(k string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	r.start[k] = r.seq
	r.called = append(r.called, k)
}

func (r *recorder) ended(k string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	r.end[k] = r.seq
}

func TestWalkRunsDependenciesFirst(t *testing.T) {
	// a wide graph with layers so that ordering and parallelism both matter
	g := New[string]()
	for i := 0; i < 6; i++ {
		for j := 0; j < 4; j++ {
			k := fmt.Sprintf("n%d-%d", i, j)
			g.Add(k)
			if i > 0 {
				g.Connect(k, fmt.Sprintf("n%d-%d", i-1, j))
				g.Connect(k, fmt.Sprintf("n%d-%d", i-1, (j+1)%4))
			}
		}
	}
	r := newRecorder()
	res := g.Walk(context.Background(), 3, func(ctx context.Context, k string) error {
		r.began(k)
		time.Sleep(time.Millisecond)
		r.ended(k)
		return nil
	})
	if len(res) != g.Len() {
		t.Fatalf("got %d results, want %d", len(res), g.Len())
	}
	for k, err := range res {
		if err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	for _, k := range g.Nodes() {
		for _, d := range g.DependsOn(k) {
			if r.end[d] == 0 || r.end[d] > r.start[k] {
				t.Errorf("%s started at %d before its dependency %s ended at %d", k, r.start[k], d, r.end[d])
			}
		}
	}
	if len(r.called) != g.Len() {
		t.Errorf("fn called %d times, want %d", len(r.called), g.Len())
	}
}

func TestWalkBoundedParallelism(t *testing.T) {
	for _, parallel := range []int{1, 3, 8} {
		t.Run(fmt.Sprint(parallel), func(t *testing.T) {
			g := New[int]()
			for i := 0; i < 40; i++ {
				g.Add(i)
			}
			var cur, peak atomic.Int32
			g.Walk(context.Background(), parallel, func(ctx context.Context, k int) error {
				n := cur.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				time.Sleep(2 * time.Millisecond)
				cur.Add(-1)
				return nil
			})
			if got := peak.Load(); got > int32(parallel) {
				t.Errorf("peak concurrency %d exceeds parallel=%d", got, parallel)
			}
			if parallel > 1 && peak.Load() < 2 {
				t.Errorf("peak concurrency %d: independent nodes never ran together", peak.Load())
			}
		})
	}
}

func TestWalkIndependentNodesRunTogether(t *testing.T) {
	// Each call waits until all four are running: this only completes if
	// Walk really runs independent nodes at the same time.
	g := New[string]()
	for _, k := range []string{"a", "b", "c", "d"} {
		g.Add(k)
	}
	var arrived sync.WaitGroup
	arrived.Add(4)
	all := make(chan struct{})
	go func() { arrived.Wait(); close(all) }()
	res := g.Walk(context.Background(), 4, func(ctx context.Context, k string) error {
		arrived.Done()
		select {
		case <-all:
			return nil
		case <-time.After(5 * time.Second):
			return errors.New("the other nodes never started")
		}
	})
	for k, err := range res {
		if err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
}

func TestWalkSkipsDependentsOfFailure(t *testing.T) {
	// app -> cfg -> dir; app -> pkg; web -> app; other is independent.
	g := build([][2]string{{"app", "cfg"}, {"cfg", "dir"}, {"app", "pkg"}, {"web", "app"}}, "other")
	boom := errors.New("boom")
	r := newRecorder()
	res := g.Walk(context.Background(), 2, func(ctx context.Context, k string) error {
		r.began(k)
		if k == "cfg" {
			return boom
		}
		return nil
	})
	want := map[string]string{
		"dir":   "",
		"pkg":   "",
		"other": "",
		"cfg":   "boom",
		"app":   "skipped because cfg failed",
		"web":   "skipped because cfg failed",
	}
	got := map[string]string{}
	for k, err := range res {
		got[k] = ""
		if err != nil {
			got[k] = err.Error()
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	var se *SkippedError[string]
	if !errors.As(res["web"], &se) || se.Because != "cfg" {
		t.Errorf("web: %#v, want *SkippedError{Because: cfg}", res["web"])
	}
	for _, k := range r.called {
		if k == "app" || k == "web" {
			t.Errorf("fn called for %s although a dependency failed", k)
		}
	}
}

func TestWalkSkipReasonIsDeterministic(t *testing.T) {
	// top depends on a (fails late) and on z (fails at once) through mid.
	// Because must be "a", the smallest failed node, whatever the timing.
	g := build([][2]string{{"top", "a"}, {"top", "mid"}, {"mid", "z"}})
	for i := 0; i < 20; i++ {
		res := g.Walk(context.Background(), 4, func(ctx context.Context, k string) error {
			switch k {
			case "a":
				time.Sleep(3 * time.Millisecond)
				return errors.New("a broke")
			case "z":
				return errors.New("z broke")
			}
			return nil
		})
		var se *SkippedError[string]
		if !errors.As(res["top"], &se) || se.Because != "a" {
			t.Fatalf("top: %v, want skipped because a failed", res["top"])
		}
		if !errors.As(res["mid"], &se) || se.Because != "z" {
			t.Fatalf("mid: %v, want skipped because z failed", res["mid"])
		}
	}
}

func TestWalkCancel(t *testing.T) {
	// first cancels the walk while it runs; nothing after it may start.
	g := build([][2]string{{"second", "first"}, {"third", "second"}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := newRecorder()
	res := g.Walk(ctx, 2, func(ctx context.Context, k string) error {
		r.began(k)
		if k == "first" {
			cancel()
		}
		return nil
	})
	if diff := cmp.Diff([]string{"first"}, r.called); diff != "" {
		t.Errorf("called (-want +got):\n%s", diff)
	}
	if res["first"] != nil {
		t.Errorf("first: %v, want nil", res["first"])
	}
	for _, k := range []string{"second", "third"} {
		if !errors.Is(res[k], context.Canceled) {
			t.Errorf("%s: %v, want context.Canceled", k, res[k])
		}
	}
}

func TestWalkCancelledBeforeStart(t *testing.T) {
	g := build([][2]string{{"b", "a"}}, "c")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var calls atomic.Int32
	res := g.Walk(ctx, 2, func(ctx context.Context, k string) error {
		calls.Add(1)
		return nil
	})
	if calls.Load() != 0 {
		t.Errorf("fn called %d times after cancel", calls.Load())
	}
	for _, k := range []string{"a", "b", "c"} {
		if !errors.Is(res[k], context.Canceled) {
			t.Errorf("%s: %v, want context.Canceled", k, res[k])
		}
	}
}

func TestWalkFailureBeatsCancel(t *testing.T) {
	// c depends on a (fails) and b (not started after the cancel): it is
	// reported as skipped, the more useful reason.
	g := build([][2]string{{"c", "a"}, {"c", "b"}, {"b", "x"}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res := g.Walk(ctx, 1, func(ctx context.Context, k string) error {
		if k == "a" {
			return errors.New("a broke")
		}
		if k == "x" {
			cancel()
		}
		return nil
	})
	var se *SkippedError[string]
	if !errors.As(res["c"], &se) || se.Because != "a" {
		t.Errorf("c: %v, want skipped because a failed", res["c"])
	}
	if !errors.Is(res["b"], context.Canceled) {
		t.Errorf("b: %v, want context.Canceled", res["b"])
	}
}

func TestWalkCycleDoesNotDeadlock(t *testing.T) {
	g := build([][2]string{{"a", "b"}, {"b", "a"}, {"d", "a"}}, "c")
	r := newRecorder()
	done := make(chan map[string]error)
	go func() {
		done <- g.Walk(context.Background(), 2, func(ctx context.Context, k string) error {
			r.began(k)
			return nil
		})
	}()
	var res map[string]error
	select {
	case res = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Walk on a cyclic graph did not return")
	}
	if diff := cmp.Diff([]string{"c"}, r.called); diff != "" {
		t.Errorf("called (-want +got):\n%s", diff)
	}
	for _, k := range []string{"a", "b", "d"} {
		var ce *CycleError[string]
		if !errors.As(res[k], &ce) {
			t.Errorf("%s: %v, want *CycleError", k, res[k])
		}
	}
}

func TestWalkPanicIsAnError(t *testing.T) {
	g := build([][2]string{{"b", "a"}})
	res := g.Walk(context.Background(), 1, func(ctx context.Context, k string) error {
		if k == "a" {
			panic("kaboom")
		}
		return nil
	})
	if res["a"] == nil || !strings.Contains(res["a"].Error(), "kaboom") {
		t.Errorf("a: %v, want an error naming the panic", res["a"])
	}
	var se *SkippedError[string]
	if !errors.As(res["b"], &se) {
		t.Errorf("b: %v, want skipped", res["b"])
	}
}

func TestWalkStartsInKeyOrder(t *testing.T) {
	g := build(nil, "d", "b", "a", "c")
	r := newRecorder()
	g.Walk(context.Background(), 1, func(ctx context.Context, k string) error {
		r.began(k)
		return nil
	})
	if diff := cmp.Diff([]string{"a", "b", "c", "d"}, r.called); diff != "" {
		t.Errorf("start order (-want +got):\n%s", diff)
	}
}
