package agent

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tendhq/tend/agent/store"
	"github.com/tendhq/tend/engine/report"
	"github.com/tendhq/tend/resources"
)

// metrics are the agent's Prometheus series, on a registry of its own (so
// that an embedding program's default registry is neither read nor
// changed). Sync, drift and source counters follow the event bus
// (consume); the engine's per-host timings are observed where the engine
// returns (observeRun); the hosts gauge is read from Status at each
// scrape, so it is never stale.
type metrics struct {
	reg          *prometheus.Registry
	syncs        *prometheus.CounterVec
	syncSeconds  *prometheus.HistogramVec
	applySeconds prometheus.Histogram
	probeSeconds prometheus.Histogram
	changed      *prometheus.CounterVec
	drifts       *prometheus.CounterVec
	fetchErrors  prometheus.Counter
	lastFetch    prometheus.Gauge
}

// durationBuckets spread from 0.1 s to about 40 minutes: a sync or a
// host's apply.
var durationBuckets = prometheus.ExponentialBuckets(0.1, 2.5, 12)

// probeBuckets spread from 5 ms to about 10 s: one batched probe.
var probeBuckets = prometheus.ExponentialBuckets(0.005, 2, 12)

// newMetrics builds the registry; status is read at each scrape for the
// hosts gauge.
func newMetrics(status func() Status) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tend_agent_syncs_total",
			Help: "Syncs that ended, by result (succeeded, failed, refused) and trigger (auto, manual, webhook, self-heal, rollback).",
		}, []string{"result", "trigger"}),
		syncSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tend_agent_sync_duration_seconds",
			Help:    "How long syncs took, from start to the last host verified, by result.",
			Buckets: durationBuckets,
		}, []string{"result"}),
		applySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tend_agent_host_apply_duration_seconds",
			Help:    "How long one host took in a sync (connect, probe, apply and verify).",
			Buckets: durationBuckets,
		}),
		probeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tend_agent_probe_duration_seconds",
			Help:    "Round-trip time of the batched probe of one host, in plans, drift checks and syncs.",
			Buckets: probeBuckets,
		}),
		changed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tend_agent_resources_changed_total",
			Help: "Resources changed and verified by syncs, by kind and action (create, update, delete).",
		}, []string{"kind", "action"}),
		drifts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tend_agent_drift_events_total",
			Help: "Drift events recorded, by host.",
		}, []string{"host"}),
		fetchErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tend_agent_source_fetch_errors_total",
			Help: "Fetches of the Git source that failed.",
		}),
		lastFetch: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tend_agent_source_last_fetch_success_timestamp_seconds",
			Help: "When the Git source was last fetched successfully, in seconds since the Unix epoch (0: never).",
		}),
	}
	m.reg.MustRegister(m.syncs, m.syncSeconds, m.applySeconds, m.probeSeconds, m.changed, m.drifts,
		m.fetchErrors, m.lastFetch, &hostsCollector{status: status},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Every result a sync can end with is exported from the start, at 0,
	// so that rate() and alerts see the first failure.
	for _, r := range []store.Result{store.ResultSucceeded, store.ResultFailed} {
		for _, t := range []store.Trigger{store.TriggerAuto, store.TriggerManual, store.TriggerWebhook, store.TriggerSelfHeal, store.TriggerRollback} {
			m.syncs.WithLabelValues(string(r), string(t))
		}
	}
	return m
}

// handler serves the registry in the Prometheus exposition formats.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// consume updates the counters from one event.
func (m *metrics) consume(e Event) {
	switch e.Type {
	case EventSyncFinished:
		s := e.Sync
		if s == nil {
			return
		}
		m.syncs.WithLabelValues(string(s.Result), string(s.Trigger)).Inc()
		// A refused revision never ran: it has no duration.
		if s.Result != store.ResultRefused && !s.Started.IsZero() && !s.Ended.IsZero() {
			m.syncSeconds.WithLabelValues(string(s.Result)).Observe(s.Ended.Sub(s.Started).Seconds())
		}
		// Changed means applied and verified: failed, skipped and
		// not-converged resources are in the sync's result instead.
		for _, h := range s.Hosts {
			for _, r := range h.Resources {
				if r.Status == string(report.StatusApplied) && r.Action != resources.NoOp.String() {
					m.changed.WithLabelValues(kindOf(r.Address), r.Action).Inc()
				}
			}
		}
	case EventDrift:
		if e.Drift != nil {
			m.drifts.WithLabelValues(e.Drift.Host).Inc()
		}
	case EventSourceError:
		// Published once per failed fetch (the successful ones are
		// recorded by fetched: no event is published for each).
		m.fetchErrors.Inc()
	}
}

// fetched records a successful fetch of the source.
func (m *metrics) fetched(t time.Time) {
	m.lastFetch.Set(float64(t.UnixNano()) / 1e9)
}

// observeRun records the engine's timings of one run: the probe of every
// host reached, and with apply the whole time of every host started.
func (m *metrics) observeRun(run *report.Run, apply bool) {
	if run == nil {
		return
	}
	for _, h := range run.Hosts {
		// An unreachable host was never probed: Probe is 0.
		if h.Probe > 0 {
			m.probeSeconds.Observe(h.Probe.Seconds())
		}
		if apply && !h.NotStarted && h.Duration > 0 {
			m.applySeconds.Observe(h.Duration.Seconds())
		}
	}
}

// kindOf is the kind of a resource address: "file" for "file[/etc/motd]".
func kindOf(addr string) string {
	if k, _, ok := strings.Cut(addr, "["); ok {
		return k
	}
	return addr
}

// hostsCollector exports tend_agent_hosts: how many hosts have each
// status, read from the agent's state when scraped.
type hostsCollector struct {
	status func() Status
}

var hostsDesc = prometheus.NewDesc("tend_agent_hosts",
	"Hosts by sync status (Synced, OutOfSync, Failed, Unreachable, Unknown).", []string{"status"}, nil)

// Describe sends the one descriptor of the collector.
func (c *hostsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- hostsDesc }

// Collect counts the hosts of each status; every status is sent, at 0 when
// no host has it.
func (c *hostsCollector) Collect(ch chan<- prometheus.Metric) {
	counts := map[string]int{StatusSynced: 0, StatusOutOfSync: 0, StatusFailed: 0, StatusUnreachable: 0, StatusUnknown: 0}
	for _, h := range c.status().Hosts {
		counts[h.Status]++
	}
	for s, n := range counts {
		ch <- prometheus.MustNewConstMetric(hostsDesc, prometheus.GaugeValue, float64(n), s)
	}
}

// consumeEvents feeds the metrics and the notifications from the event
// bus until stop is closed; then it handles what was published before
// stop (the last sync of a shutdown) and returns.
func (a *Agent) consumeEvents(ch <-chan Event, unsubscribe func(), stop <-chan struct{}) {
	defer unsubscribe()
	// Both consumers are quick: the metrics update counters, the
	// notifier only queues.
	handle := func(e Event) {
		a.metrics.consume(e)
		if a.notify != nil {
			a.notify.consume(e)
		}
	}
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				return
			}
			handle(e)
		case <-stop:
			// The bus delivers what is queued at once: wait a moment for
			// it, no longer.
			for {
				select {
				case e, ok := <-ch:
					if !ok {
						return
					}
					handle(e)
				case <-time.After(50 * time.Millisecond):
					return
				}
			}
		}
	}
}

// startConsumers subscribes the metrics and the notifications to the
// event bus and returns the function that stops them: it waits for the
// events already published, then at most grace for the notifications
// still being delivered.
func (a *Agent) startConsumers(grace time.Duration) func() {
	ch, unsubscribe := a.Subscribe()
	stop, done := make(chan struct{}), make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	if a.notify != nil {
		a.notify.start(ctx)
	}
	go func() {
		defer close(done)
		a.consumeEvents(ch, unsubscribe, stop)
	}()
	return func() {
		close(stop)
		<-done
		if a.notify != nil {
			a.notify.drain(grace)
		}
		cancel()
		if a.notify != nil {
			a.notify.wait()
		}
	}
}

// metricsHandler serves /metrics: without a token, or with any API token
// when metrics_require_token is set.
func (a *Agent) metricsHandler() http.Handler {
	h := a.metrics.handler()
	if !a.cfg.MetricsRequireToken {
		return h
	}
	return a.auth(func(w http.ResponseWriter, r *http.Request, _ string) { h.ServeHTTP(w, r) })
}
