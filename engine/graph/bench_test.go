package graph

import (
	"context"
	"fmt"
	"testing"
)

// benchEdges is a fixed graph of n nodes shaped like a host's resource
// graph: addresses as keys, about one and a half dependencies per node, all
// pointing at nodes declared earlier (so it is acyclic), a few hubs (the
// directories and users many resources depend on).
func benchEdges(n int) (keys []string, edges [][2]string) {
	keys = make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("file.r%03d[%d]", (i*37)%n, i%3)
	}
	for i := 1; i < n; i++ {
		edges = append(edges, [2]string{keys[i], keys[i/4]})
		if i%2 == 0 {
			edges = append(edges, [2]string{keys[i], keys[(i*7)%i]})
		}
	}
	return keys, edges
}

// BenchmarkBuild100 builds a 100-node graph with about 150 edges the way
// the compiler does, then asks what it asks: Cycles, Order, Nodes and
// DependsOn and Dependents of every node.
func BenchmarkBuild100(b *testing.B) {
	keys, edges := benchEdges(100)
	b.ReportAllocs()
	for range b.N {
		g := New[string]()
		for _, k := range keys {
			g.Add(k)
		}
		for _, e := range edges {
			g.Connect(e[0], e[1])
		}
		if len(g.Cycles()) != 0 {
			b.Fatal("cycles in an acyclic graph")
		}
		if _, err := g.Order(); err != nil {
			b.Fatal(err)
		}
		for _, k := range g.Nodes() {
			_ = g.DependsOn(k)
			_ = g.Dependents(k)
		}
	}
}

// BenchmarkCyclic100 is Cycles and Order on a 100-node graph where every
// tenth node closes a cycle back to a node before it.
func BenchmarkCyclic100(b *testing.B) {
	keys, edges := benchEdges(100)
	g := New[string]()
	for _, e := range edges {
		g.Connect(e[0], e[1])
	}
	for i := 10; i < len(keys); i += 10 {
		g.Connect(keys[i/4], keys[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if len(g.Cycles()) == 0 {
			b.Fatal("no cycles found")
		}
		if _, err := g.Order(); err == nil {
			b.Fatal("Order of a cyclic graph succeeded")
		}
	}
}

// BenchmarkWalk100 walks the 100-node graph with a no-op function.
func BenchmarkWalk100(b *testing.B) {
	keys, edges := benchEdges(100)
	g := New[string]()
	for _, k := range keys {
		g.Add(k)
	}
	for _, e := range edges {
		g.Connect(e[0], e[1])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		res := g.Walk(context.Background(), 4, func(context.Context, string) error { return nil })
		if len(res) != len(keys) {
			b.Fatalf("%d results, want %d", len(res), len(keys))
		}
	}
}
