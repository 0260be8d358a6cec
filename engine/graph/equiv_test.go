package graph

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// pair is the graph under test and the reference implementation
// (reference_test.go), built with the same calls.
type pair[K int | string] struct {
	g   *Graph[K]
	ref *refGraph[K]
}

func (p pair[K]) add(k K)            { p.g.Add(k); p.ref.Add(k) }
func (p pair[K]) connect(from, to K) { p.g.Connect(from, to); p.ref.Connect(from, to) }

// same fails the test unless every read method of the two graphs agrees.
func (p pair[K]) same(t *testing.T, what string) {
	t.Helper()
	if p.g.Len() != p.ref.Len() {
		t.Fatalf("%s: Len %d, reference %d", what, p.g.Len(), p.ref.Len())
	}
	nodes := p.ref.Nodes()
	if diff := cmp.Diff(nodes, p.g.Nodes()); diff != "" {
		t.Fatalf("%s: Nodes (-reference +got):\n%s", what, diff)
	}
	for _, k := range nodes {
		if !p.g.Has(k) {
			t.Fatalf("%s: Has(%v) = false", what, k)
		}
		if diff := cmp.Diff(p.ref.DependsOn(k), p.g.DependsOn(k)); diff != "" {
			t.Fatalf("%s: DependsOn(%v) (-reference +got):\n%s", what, k, diff)
		}
		if diff := cmp.Diff(p.ref.Dependents(k), p.g.Dependents(k)); diff != "" {
			t.Fatalf("%s: Dependents(%v) (-reference +got):\n%s", what, k, diff)
		}
	}
	if diff := cmp.Diff(p.ref.Cycles(), p.g.Cycles()); diff != "" {
		t.Fatalf("%s: Cycles (-reference +got):\n%s", what, diff)
	}
	wantOrder, wantErr := p.ref.Order()
	gotOrder, gotErr := p.g.Order()
	if diff := cmp.Diff(wantOrder, gotOrder); diff != "" {
		t.Fatalf("%s: Order (-reference +got):\n%s", what, diff)
	}
	if errString(wantErr) != errString(gotErr) {
		t.Fatalf("%s: Order error %v, reference %v", what, gotErr, wantErr)
	}
}

// errString describes a result of Order or Walk, naming its type, so that
// the two implementations' results can be compared.
func errString(err error) string {
	if err == nil {
		return "ok"
	}
	var name string
	switch err.(type) {
	case *CycleError[string], *CycleError[int], *refCycleError[string], *refCycleError[int]:
		name = "cycle"
	case *SkippedError[string], *SkippedError[int], *refSkippedError[string], *refSkippedError[int]:
		name = "skipped"
	default:
		if errors.Is(err, context.Canceled) {
			return "canceled"
		}
		name = "error"
	}
	return name + ": " + err.Error()
}

// randomPair builds a random graph of up to n nodes, checking the read
// methods in the middle of the building too (the compiler reads and then
// adds edges). Dense draws have cycles, sparse ones mostly not.
func randomPair[K int | string](t *testing.T, r *rand.Rand, n int, key func(int) K) pair[K] {
	t.Helper()
	p := pair[K]{New[K](), newRef[K]()}
	edges := r.IntN(3 * (n + 1))
	forward := r.IntN(2) == 0 // edges only to smaller numbers: acyclic
	for i := range edges {
		a, b := r.IntN(n+1), r.IntN(n+1)
		if forward && a <= b {
			a, b = b+1, a
		}
		switch r.IntN(6) {
		case 0:
			p.add(key(a))
		default:
			p.connect(key(a), key(b))
		}
		if i == edges/2 {
			p.same(t, "half built")
		}
	}
	return p
}

func TestMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for i := range 2000 {
		n := 1 + r.IntN(25)
		if i%2 == 0 {
			// string keys whose order differs from the order they are added in
			p := randomPair(t, r, n, func(i int) string { return fmt.Sprintf("k%d", (i*7)%(n+3)) })
			p.same(t, fmt.Sprintf("strings #%d", i))
		} else {
			p := randomPair(t, r, n, func(i int) int { return (n - i) * 3 })
			p.same(t, fmt.Sprintf("ints #%d", i))
		}
	}
}

func TestWalkMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	for i := range 500 {
		n := 1 + r.IntN(20)
		p := randomPair(t, r, n, func(i int) string { return fmt.Sprintf("n%02d", (i*5)%(n+2)) })
		failing := map[string]bool{}
		cancelAt := ""
		for _, k := range p.ref.Nodes() {
			switch r.IntN(8) {
			case 0:
				failing[k] = true
			case 1:
				if cancelAt == "" && i%3 == 0 {
					cancelAt = k
				}
			}
		}
		walk := func(w func(context.Context, int, func(context.Context, string) error) map[string]error) ([]string, map[string]string) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var called []string
			res := w(ctx, 1, func(ctx context.Context, k string) error {
				called = append(called, k)
				if k == cancelAt {
					cancel()
				}
				if failing[k] {
					return errors.New(k + " broke")
				}
				return nil
			})
			out := map[string]string{}
			for k, err := range res {
				out[k] = errString(err)
			}
			return called, out
		}
		wantCalled, wantRes := walk(p.ref.Walk)
		gotCalled, gotRes := walk(p.g.Walk)
		if diff := cmp.Diff(wantCalled, gotCalled); diff != "" {
			t.Fatalf("#%d: calls (-reference +got):\n%s", i, diff)
		}
		if diff := cmp.Diff(wantRes, gotRes); diff != "" {
			t.Fatalf("#%d: results (-reference +got):\n%s", i, diff)
		}
	}
}

func TestConcurrentReads(t *testing.T) {
	// The read methods and Walk share the graph: under -race this fails if
	// any of them writes to it.
	g := build([][2]string{{"a", "b"}, {"b", "c"}, {"c", "b"}, {"d", "a"}, {"e", "f"}}, "g")
	want := g.Cycles()
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if !cmp.Equal(want, g.Cycles()) {
					errs <- fmt.Sprintf("Cycles = %v, want %v", g.Cycles(), want)
					return
				}
				_, _ = g.Order()
				_ = g.DependsOn("a")
				_ = g.Dependents("b")
				_ = g.Nodes()
				res := g.Walk(context.Background(), 2, func(context.Context, string) error { return nil })
				if res["f"] != nil || res["a"] == nil {
					errs <- fmt.Sprintf("Walk results f=%v a=%v, want f ok and a on a cycle", res["f"], res["a"])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
