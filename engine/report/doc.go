// Package report renders the outcome of a run (a plan or an apply over a set
// of hosts) for people and for tools. It owns no state: every renderer is a
// pure function of a *Run, written to an io.Writer in one Write.
//
// Start reading at model.go (the data model: Run, Host, Resource, Status),
// then text.go, whose line model the Markdown renderer reuses:
//
//   - Text prints a Terraform-like plan, host by host, with unified diffs of
//     file content, and a final "Plan:" or "No changes." line.
//   - Markdown prints the same plan for a pull-request comment: a summary
//     heading, a table of hosts and a collapsed diff block per host.
//   - JSON prints a versioned, documented schema (SCHEMA.md) for tools.
//   - Summary prints one line per host after an apply, with phase timings,
//     and NOT STARTED for the hosts a stopped rollout never contacted.
//
// rollout.go renders the rollouts (Run.Rollouts: a role's hosts applied in
// batches) for Text and Markdown: the batches, and after an apply when each
// started, how long it took, its result and why the rollout stopped. A
// run-level Error (the prepare phase failed, no host was contacted) is
// printed by every renderer.
//
// Redaction is a hard rule here: no renderer prints the content, hash or size
// of a file whose ContentChange is Sensitive, nor the values of an AttrChange
// marked Sensitive. The tests plant a marker in every sensitive field and
// look for it in the output of every renderer.
package report
