package report

import (
	"time"

	"github.com/tendhq/tend/resources"
)

// This file builds the runs of the rollout golden tests: a release change
// with a headline and steps, a rollout that is planned, one that stopped
// after its first batch, and a run whose prepare phase failed.

// releaseChange returns a planned (or applied) release update from v1 to
// v2 with the steps its plan lists.
func releaseChange(st Status) *Resource {
	r := res("release", "shop", resources.Update, st, attr("version", "v1", "v2"))
	r.Change.Headline = "v1 -> v2"
	r.Change.Steps = []string{
		"upload shop-v2.tar.gz (2.1 MB) to /opt/shop/releases/v2",
		"unpack, link shared log and data",
		"run bin/shop migrate",
		"switch current -> releases/v2",
		"restart service[shop], health check http://127.0.0.1:8080/healthz",
	}
	return r
}

// webRollout returns the rollout of role web over web-1..3, one per batch.
func webRollout(status ...BatchStatus) *Rollout {
	ro := &Rollout{Role: "web", BatchSize: 1, Pause: 10 * time.Second}
	for i, h := range []string{"web-1", "web-2", "web-3"} {
		b := &Batch{Hosts: []string{h}, Status: BatchPlanned}
		if i < len(status) {
			b.Status = status[i]
		}
		ro.Batches = append(ro.Batches, b)
	}
	return ro
}

// rolloutPlan is a plan of a release over three web hosts in batches of
// one, and a worker host of no rollout.
func rolloutPlan() *Run {
	r := &Run{Mode: ModePlan, Started: started, Duration: 900 * time.Millisecond}
	for i, h := range []string{"web-1", "web-2", "web-3"} {
		r.Hosts = append(r.Hosts, &Host{Name: h, Duration: 300 * time.Millisecond, Rollout: "web", Batch: i + 1,
			Started: started.Add(time.Duration(i) * 10 * time.Millisecond), Resources: []*Resource{releaseChange(StatusPlanned)}})
	}
	r.Hosts = append(r.Hosts, &Host{Name: "worker", Duration: 200 * time.Millisecond, Started: started,
		Resources: unchanged(1)})
	pct := &Rollout{Role: "api", BatchSize: 2, MaxFailed: 50, MaxFailedPercent: true, Pause: 90 * time.Second,
		Batches: []*Batch{{Hosts: []string{"api-1", "api-2"}, MaxFailed: 1, Status: BatchPlanned}, {Hosts: []string{"api-3"}, Status: BatchPlanned}}}
	r.Rollouts = []*Rollout{webRollout(), pct}
	return r
}

// rolloutStopped is an apply whose first batch failed its health check:
// the rollout stopped and web-2, web-3 were not started.
func rolloutStopped() *Run {
	fail := releaseChange(StatusFailed)
	fail.Error = "health check http://127.0.0.1:8080/healthz: 503 after 30s; rolled back to v1"
	const reason = "rollout of role web stopped after batch 1: web-1 failed"
	r := &Run{Mode: ModeApply, Started: started, Duration: 31500 * time.Millisecond, Hosts: []*Host{
		{Name: "web-1", Address: "10.0.0.11", Rollout: "web", Batch: 1, Started: started.Add(120 * time.Millisecond),
			Duration: 31200 * time.Millisecond, Connect: 100 * time.Millisecond, Probe: 50 * time.Millisecond, Apply: 31 * time.Second,
			Resources: []*Resource{fail}},
		{Name: "web-2", Address: "10.0.0.12", Rollout: "web", Batch: 2, NotStarted: true, Error: reason},
		{Name: "web-3", Address: "10.0.0.13", Rollout: "web", Batch: 3, NotStarted: true, Error: reason},
		{Name: "worker", Address: "10.0.0.21", Started: started.Add(110 * time.Millisecond), Duration: 400 * time.Millisecond,
			Connect: 100 * time.Millisecond, Probe: 50 * time.Millisecond, Resources: unchanged(2)},
	}}
	ro := webRollout(BatchFailed, BatchNotStarted, BatchNotStarted)
	ro.Batches[0].Started, ro.Batches[0].Duration, ro.Batches[0].Failed = started.Add(120*time.Millisecond), 31200*time.Millisecond, []string{"web-1"}
	ro.Stopped = "stopped after batch 1: web-1 failed"
	r.Rollouts = []*Rollout{ro}
	return r
}

// rolloutOK is an apply whose three batches succeeded one after the other,
// a pause of 10s between them.
func rolloutOK() *Run {
	r := &Run{Mode: ModeApply, Started: started, Duration: 23 * time.Second}
	ro := webRollout(BatchOK, BatchOK, BatchOK)
	for i, h := range []string{"web-1", "web-2", "web-3"} {
		at := started.Add(time.Duration(i)*11*time.Second + 50*time.Millisecond)
		r.Hosts = append(r.Hosts, &Host{Name: h, Rollout: "web", Batch: i + 1, Started: at, Duration: time.Second,
			Resources: []*Resource{releaseChange(StatusApplied)}})
		ro.Batches[i].Started, ro.Batches[i].Duration = at, time.Second
	}
	r.Rollouts = []*Rollout{ro}
	return r
}

// prepareFailed is a run whose prepare phase failed: no host was
// contacted.
func prepareFailed() *Run {
	const reason = "the run stopped before any host was contacted"
	r := &Run{Mode: ModeApply, Started: started, Duration: 1500 * time.Millisecond,
		Error: "prepare release[shop] (web-1, web-2): artifact https://artifacts.example.com/shop-v2.tar.gz: sha256 is 9f86d0…, the spec says 2c26b4…"}
	for i, h := range []string{"web-1", "web-2"} {
		r.Hosts = append(r.Hosts, &Host{Name: h, Rollout: "web", Batch: i + 1, NotStarted: true, Error: reason})
	}
	ro := webRollout(BatchNotStarted, BatchNotStarted)
	ro.Batches = ro.Batches[:2]
	ro.Stopped = "stopped before batch 1: the prepare phase failed"
	r.Rollouts = []*Rollout{ro}
	return r
}
