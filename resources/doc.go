// Package resources holds the resource kinds tend manages (file, directory,
// symlink, ...) and the one batched probe that observes them.
//
// Every kind follows the same contract, written down on Resource: Observe
// says what to look at, Diff compares desired and observed state without any
// I/O, Apply changes the host, and the engine probes again to verify. Start
// reading at resource.go (the contract and the kind registry), then probe.go
// (how one remote execution observes a whole host), then one kind, file.go.
//
// Kinds register themselves in init with Register; the spec loader finds
// them with Lookup and builds resources from evaluated blocks with Kind.New.
package resources
