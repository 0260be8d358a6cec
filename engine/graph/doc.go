// Package graph owns the generic dependency graph the engine plans and
// applies with: nodes of any ordered key type, edges "from depends on to",
// cycle detection with members in a stable order, a deterministic
// topological order, and a bounded parallel walk that skips the dependents
// of a failed node instead of running them.
//
// Start reading at Graph in graph.go; Walk is in walk.go.
//
// Everything is deterministic: where several nodes are equally eligible,
// the smaller key (cmp.Compare order) comes first, so orders, cycles and the
// reasons nodes were skipped are the same on every run.
package graph
