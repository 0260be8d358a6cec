package agent

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/tendhq/tend/agent/store"
	"github.com/tendhq/tend/engine"
	"github.com/tendhq/tend/engine/source"
	"github.com/tendhq/tend/inventory"
)

// Source is the Git source the agent follows (engine/source.Source).
type Source interface {
	// Fetch updates from the remote and returns the followed ref's
	// revision. Its errors wrap source.ErrUnreachable when the remote could
	// not be reached, or are a *source.SignatureError for an untrusted
	// revision.
	Fetch(ctx context.Context) (*source.Snapshot, error)
	// At returns the tree of a commit fetched before, without the network.
	At(ctx context.Context, hash string) (*source.Snapshot, error)
	// Head returns the revision the last successful Fetch resolved.
	Head() (source.Revision, bool)
}

// History is where syncs, drift events and the agent's state are recorded
// (agent/store.Store). Its methods are called from the loop and the API,
// one sync at a time; errors are logged and returned to API callers.
type History interface {
	// BeginSync assigns x.ID and records it as running.
	BeginSync(x *store.Sync) error
	// EndSync records x in its final state.
	EndSync(x *store.Sync) error
	// Syncs returns the newest syncs first, at most limit.
	Syncs(limit int) ([]*store.Sync, error)
	// Sync returns one sync by ID.
	Sync(id uint64) (*store.Sync, error)
	// AddDrift records a drift event and assigns d.ID.
	AddDrift(d *store.Drift) error
	// Drifts returns the newest drift events first, at most limit.
	Drifts(limit int) ([]*store.Drift, error)
	// SetState stores v (JSON) under key.
	SetState(key string, v any) error
	// GetState reads key into v; false when it was never set.
	GetState(key string, v any) (bool, error)
}

// Options are what an Agent is built from.
type Options struct {
	Config  *Config
	Source  Source
	History History
	// Dial opens a host's transport (SSH; tests use inventory/local).
	Dial engine.DialFunc
	// SelectHosts, when set, narrows each revision's inventory to the hosts
	// this agent converges: one host in pull mode, a shard in push mode.
	// An error (the host is not in the inventory) is a spec error: the
	// agent waits for a commit that fixes it.
	SelectHosts func([]*inventory.Host) ([]*inventory.Host, error)
	Log         *zap.Logger
	// Now is the clock sync windows are checked against (default
	// time.Now).
	Now func() time.Time
}

// Host statuses.
const (
	StatusUnknown     = "Unknown"
	StatusSynced      = "Synced"
	StatusOutOfSync   = "OutOfSync"
	StatusFailed      = "Failed"
	StatusUnreachable = "Unreachable"
)

// Reasons for StatusOutOfSync.
const (
	ReasonNewRevision = "new revision"
	ReasonDrift       = "drift"
	ReasonRollback    = "rollback"
)

// HostStatus is what the agent knows about one host.
type HostStatus struct {
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
	// Groups are the inventory groups the host is in, ancestors included.
	Groups []string `json:"groups,omitempty"`
	Status string   `json:"status"`
	Reason string   `json:"reason,omitempty"`
	Error  string   `json:"error,omitempty"`
	// Applied is the revision last applied (main@sha1:<hex>), Target the
	// one the host should be at (the head).
	Applied  string    `json:"applied_revision,omitempty"`
	Target   string    `json:"target_revision,omitempty"`
	LastSync time.Time `json:"last_sync,omitzero"`
	// Changes is the number of resources the last plan would change.
	Changes int `json:"changes"`
}

// Status is the agent's state as the API shows it.
type Status struct {
	Source   string           `json:"source"` // the URL without credentials
	Ref      string           `json:"ref,omitempty"`
	Head     *source.Revision `json:"head,omitempty"`
	Policy   Policy           `json:"policy"`
	SelfHeal bool             `json:"self_heal"`
	// Paused lists the roles whose auto-sync is suspended; "*" is all.
	Paused      []string     `json:"paused,omitempty"`
	SourceError string       `json:"source_error,omitempty"`
	SpecError   string       `json:"spec_error,omitempty"`
	SyncAllowed bool         `json:"sync_window_open"`
	Hosts       []HostStatus `json:"hosts"`
}

// applied is the persisted record of what a host was converged to.
type applied struct {
	Revision string    `json:"revision"`
	Hash     string    `json:"hash"`
	Time     time.Time `json:"time"`
}

// State keys in History.
const (
	stateApplied = "applied"
	statePaused  = "paused"
)

// ErrShuttingDown is returned for a sync asked for after shutdown began.
var ErrShuttingDown = errors.New("the agent is shutting down")

// Agent keeps hosts converged to a Git source. Create it with New, run its
// loop with Run and serve Handler.
type Agent struct {
	cfg  *Config
	src  Source
	hist History
	dial engine.DialFunc
	// selectHosts is Options.SelectHosts (nil: every host).
	selectHosts func([]*inventory.Host) ([]*inventory.Host, error)
	log         *zap.Logger
	now         func() time.Time

	// applyCtx is the context of engine runs: not cancelled by shutdown,
	// so that an apply in flight finishes.
	applyCtx context.Context
	// kick asks the loop to fetch at once (webhooks).
	kick chan store.Trigger
	// syncMu serialises engine runs: one plan or apply at a time.
	syncMu sync.Mutex
	// events fans out what happens to subscribers (events.go).
	events eventBus
	// metrics are served at /metrics (metrics.go); notify posts the
	// notifications (notify.go), nil without notification blocks. Both
	// follow the events while Run runs.
	metrics *metrics
	notify  *notifier
	// views are the hosts' last graphs and runs (hostview.go), sessions
	// the web UI's logins (session.go).
	views    hostViews
	sessions sessions

	mu         sync.Mutex // guards the fields below
	closing    bool
	head       *source.Snapshot
	reconciled string // the head hash the loop last planned
	hosts      map[string]*HostStatus
	applied    map[string]applied
	paused     map[string]bool
	srcErr     string
	srcDown    time.Time
	specErr    string
	refused    map[string]bool // hashes refused (spec error, untrusted)
	driftSeen  map[string]string
}

// New builds an Agent and reads its persisted state (applied revisions,
// paused roles) from the history.
func New(o Options) (*Agent, error) {
	if o.Config == nil || o.Source == nil || o.History == nil || o.Dial == nil {
		return nil, errors.New("new agent: Config, Source, History and Dial are required")
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	a := &Agent{
		cfg: o.Config, src: o.Source, hist: o.History, dial: o.Dial, log: o.Log, now: o.Now,
		selectHosts: o.SelectHosts,
		applyCtx:    context.Background(),
		kick:        make(chan store.Trigger, 1),
		hosts:       map[string]*HostStatus{},
		applied:     map[string]applied{},
		paused:      map[string]bool{},
		refused:     map[string]bool{},
		driftSeen:   map[string]string{},
	}
	if _, err := a.hist.GetState(stateApplied, &a.applied); err != nil {
		return nil, fmt.Errorf("read applied revisions: %w", err)
	}
	var paused []string
	if _, err := a.hist.GetState(statePaused, &paused); err != nil {
		return nil, fmt.Errorf("read paused roles: %w", err)
	}
	for _, r := range paused {
		a.paused[r] = true
	}
	for name, ap := range a.applied {
		a.hosts[name] = &HostStatus{Name: name, Status: StatusUnknown, Applied: ap.Revision, LastSync: ap.Time}
	}
	a.metrics = newMetrics(a.Status)
	a.notify = newNotifier(a.cfg, a.log)
	return a, nil
}

// Run is the reconcile loop: it polls the source, plans and auto-syncs new
// revisions, and checks for drift, until ctx is cancelled. Then it starts
// no new sync, waits for the one in flight to finish, and returns nil.
func (a *Agent) Run(ctx context.Context) error {
	a.log.Info("agent started", zap.String("source", redactURL(a.cfg.Source.URL)),
		zap.Duration("poll_interval", a.cfg.PollInterval), zap.Duration("drift_interval", a.cfg.DriftInterval))
	poll := time.NewTimer(0)
	drift := time.NewTimer(jitter(a.cfg.DriftInterval))
	defer poll.Stop()
	defer drift.Stop()
	// The metrics and notifications follow the events until the loop
	// returns; notifications still being sent get a few seconds more.
	stopConsumers := a.startConsumers(5 * time.Second)
	defer stopConsumers()
	fails := 0
	for {
		trigger := store.TriggerAuto
		select {
		case <-ctx.Done():
			a.shutdown()
			return nil
		case <-drift.C:
			a.driftStep(ctx)
			drift.Reset(jitter(a.cfg.DriftInterval))
			continue
		case trigger = <-a.kick:
		case <-poll.C:
		}
		wait := jitter(a.cfg.PollInterval)
		if err := a.pollStep(ctx, trigger); err != nil {
			// A transient error: back off, doubling up to 5 minutes (or
			// the poll interval when it is longer).
			fails++
			wait = backoff(a.cfg.PollInterval, fails)
			a.log.Warn("poll failed", zap.Error(err), zap.Int("failures", fails), zap.Duration("retry_in", wait))
		} else {
			fails = 0
		}
		poll.Reset(wait)
	}
}

// shutdown stops new syncs and waits for the running one.
func (a *Agent) shutdown() {
	a.mu.Lock()
	a.closing = true
	a.mu.Unlock()
	a.syncMu.Lock()
	//nolint:staticcheck // an empty critical section: waiting is the point
	a.syncMu.Unlock()
	a.log.Info("agent stopped")
}

// Trigger asks the loop to fetch at once, as a webhook does.
func (a *Agent) Trigger(t store.Trigger) {
	select {
	case a.kick <- t:
	default:
	}
}

// isClosing reports whether shutdown began.
func (a *Agent) isClosing() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.closing
}

// jitter spreads d by ±10%.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return d + time.Duration((rand.Float64()*0.2-0.1)*float64(d))
}

// backoff is the wait after fails transient failures in a row.
func backoff(poll time.Duration, fails int) time.Duration {
	limit := max(poll, 5*time.Minute)
	d := poll
	for i := 1; i < fails && d < limit; i++ {
		d *= 2
	}
	return jitter(min(d, limit))
}

// redactURL drops the credentials of a URL for logs and the API.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return source.Redact(s)
	}
	u.User = nil
	return u.String()
}

// Status returns a copy of the agent's state.
func (a *Agent) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := Status{
		Source: redactURL(a.cfg.Source.URL), Ref: a.cfg.Source.Ref,
		Policy: a.cfg.Policy, SelfHeal: a.cfg.SelfHeal,
		SourceError: a.srcErr, SpecError: a.specErr,
		SyncAllowed: Allowed(a.cfg.Windows, a.now()),
	}
	if a.head != nil {
		rev := a.head.Revision
		st.Head = &rev
	}
	for r := range a.paused {
		st.Paused = append(st.Paused, r)
	}
	sort.Strings(st.Paused)
	for _, h := range a.hosts {
		c := *h
		c.Roles = slices.Clone(h.Roles)
		c.Groups = slices.Clone(h.Groups)
		st.Hosts = append(st.Hosts, c)
	}
	sort.Slice(st.Hosts, func(i, j int) bool { return st.Hosts[i].Name < st.Hosts[j].Name })
	return st
}
