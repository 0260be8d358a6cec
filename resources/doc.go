// Package resources holds the resource kinds tend manages (file, directory,
// symlink, package, service, user, group, exec) and the one batched probe
// that observes them all.
//
// Every kind follows the same contract, written down on Resource: Observe
// says what to look at, Diff compares desired and observed state without any
// I/O, Apply changes the host, and the engine probes again to verify. Start
// reading at resource.go (the contract and the kind registry), then probe.go
// (how one remote execution observes a whole host), then one kind, file.go.
//
// Optional contracts: BatchResource (package changes of a host in one
// call), Notifiable (service restart, refresh_only exec), Identified and
// PathResource (duplicates), Requirer (implicit dependencies, identity.go),
// Prunable (how a resource that left the spec is undone, prune.go). The
// probe also reads tend's own small files (Probe.Content, probe_content.go).
//
// Kinds register themselves in init with Register; the spec loader finds
// them with Lookup and builds resources from evaluated blocks with Kind.New.
package resources
