// Package agent is tend's daemon: it follows a Git source, keeps every host
// of an inventory converged to it, and answers an HTTP API. It owns the
// agent.hcl file (LoadConfig), the reconcile loop (Agent.Run), self-heal,
// sync windows, the API and the webhooks (Agent.Handler). The Git source and
// the history database are handed in through the Source and History
// interfaces; cmd/tend wires the concrete engine/source and agent/store.
//
// Start reading at Agent.Run. Its lifecycle:
//
//  1. poll the source every poll_interval (±10% jitter), or at once when a
//     webhook arrives;
//  2. on a new revision, compile the specs and plan every host: each is
//     Synced or OutOfSync ("new revision");
//  3. hosts whose policy is auto (the agent's, or one of their roles') are
//     applied inside the sync windows and the sync is recorded;
//  4. every drift_interval, plan the hosts against the revision they were
//     applied at; a difference is a drift, recorded and, with self_heal,
//     corrected;
//  5. on shutdown, no new sync starts and the one running finishes.
//
// The web UI (ui.go, the page under ui/) is served by Handler at /: it
// logs in with a session cookie (session.go), reads each host's last graph
// and run (hostview.go, kept by recordRun after every engine run) and
// follows the agent's events (events.go) as server-sent events.
//
// Errors have a class: a spec that does not compile or a revision that is
// not trusted waits for the next commit; a source that cannot be reached is
// retried with backoff while drift keeps being corrected from the last
// snapshot.
//
// What happens (syncs, drift, source errors, status changes) is published
// on an event bus (events.go). While Run runs, the Prometheus metrics
// (metrics.go, served at /metrics) and the webhook notifications
// (notify.go, the notification blocks of agent.hcl) follow it.
package agent
