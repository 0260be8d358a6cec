package graph

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// build returns a graph with the given edges "from depends on to" and any
// extra isolated nodes.
func build(edges [][2]string, extra ...string) *Graph[string] {
	g := New[string]()
	for _, n := range extra {
		g.Add(n)
	}
	for _, e := range edges {
		g.Connect(e[0], e[1])
	}
	return g
}

func TestNodesAndDependsOn(t *testing.T) {
	g := build([][2]string{{"c", "b"}, {"c", "a"}, {"b", "a"}}, "z", "a")
	if diff := cmp.Diff([]string{"a", "b", "c", "z"}, g.Nodes()); diff != "" {
		t.Errorf("Nodes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a", "b"}, g.DependsOn("c")); diff != "" {
		t.Errorf("DependsOn(c) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"b", "c"}, g.Dependents("a")); diff != "" {
		t.Errorf("Dependents(a) (-want +got):\n%s", diff)
	}
	if got := g.DependsOn("z"); len(got) != 0 {
		t.Errorf("DependsOn(z) = %v, want none", got)
	}
	if !g.Has("z") || g.Has("nope") || g.Len() != 4 {
		t.Errorf("Has/Len wrong: Has(z)=%v Has(nope)=%v Len=%d", g.Has("z"), g.Has("nope"), g.Len())
	}
}

func TestOrder(t *testing.T) {
	tests := []struct {
		name  string
		edges [][2]string
		extra []string
		want  []string
	}{
		{"empty", nil, nil, []string{}},
		{"isolated sorted", nil, []string{"c", "a", "b"}, []string{"a", "b", "c"}},
		{"chain", [][2]string{{"a", "b"}, {"b", "c"}}, nil, []string{"c", "b", "a"}},
		{
			// d depends on b and c, both on a; ties broken by key order
			"diamond", [][2]string{{"d", "b"}, {"d", "c"}, {"b", "a"}, {"c", "a"}}, nil,
			[]string{"a", "b", "c", "d"},
		},
		{
			// a is smallest but waits for z; b has no dependencies
			"dependency before smaller key", [][2]string{{"a", "z"}}, []string{"b"},
			[]string{"b", "z", "a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := 0; i < 20; i++ { // map iteration must not leak into the order
				got, err := build(tt.edges, tt.extra...).Order()
				if err != nil {
					t.Fatalf("Order: %v", err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Fatalf("Order (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestOrderCyclic(t *testing.T) {
	g := build([][2]string{{"a", "b"}, {"b", "a"}, {"c", "d"}})
	got, err := g.Order()
	var ce *CycleError[string]
	if !errors.As(err, &ce) {
		t.Fatalf("Order err = %v, want *CycleError", err)
	}
	if diff := cmp.Diff([][]string{{"a", "b"}}, ce.Cycles); diff != "" {
		t.Errorf("cycles (-want +got):\n%s", diff)
	}
	if want := "dependency cycle: a -> b -> a"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
	if diff := cmp.Diff([]string{"d", "c"}, got); diff != "" {
		t.Errorf("partial order (-want +got):\n%s", diff)
	}
}

func TestCycles(t *testing.T) {
	tests := []struct {
		name  string
		edges [][2]string
		want  [][]string
	}{
		{"acyclic", [][2]string{{"a", "b"}, {"b", "c"}, {"a", "c"}}, nil},
		{"self edge", [][2]string{{"a", "a"}, {"b", "a"}}, [][]string{{"a"}}},
		{
			// c -> a -> b -> c, reported from the smallest member along the edges
			"three", [][2]string{{"c", "a"}, {"a", "b"}, {"b", "c"}, {"x", "a"}},
			[][]string{{"a", "b", "c"}},
		},
		{
			// the direction matters: a depends on c here
			"three reversed", [][2]string{{"a", "c"}, {"c", "b"}, {"b", "a"}},
			[][]string{{"a", "c", "b"}},
		},
		{
			"two cycles sorted by first member",
			[][2]string{{"y", "x"}, {"x", "y"}, {"b", "c"}, {"c", "b"}, {"x", "b"}},
			[][]string{{"b", "c"}, {"x", "y"}},
		},
		{
			// one component that is not a simple cycle: every member once
			"figure eight", [][2]string{{"a", "b"}, {"b", "a"}, {"a", "c"}, {"c", "a"}},
			[][]string{{"a", "b", "c"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := 0; i < 20; i++ {
				got := build(tt.edges).Cycles()
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Fatalf("Cycles (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestIntKeys(t *testing.T) {
	g := New[int]()
	g.Connect(10, 2)
	g.Connect(2, 1)
	g.Add(5)
	got, err := g.Order()
	if err != nil {
		t.Fatal(err)
	}
	// numeric, not lexical, order: 1 and 5 are ready first
	if diff := cmp.Diff([]int{1, 2, 5, 10}, got); diff != "" {
		t.Errorf("Order (-want +got):\n%s", diff)
	}
}
