package agent

import (
	"sync"
	"time"

	"github.com/tendhq/tend/agent/store"
)

// Event types the agent publishes.
const (
	// EventSyncStarted: a sync began (Sync holds its revision, trigger,
	// roles and hosts).
	EventSyncStarted = "sync-started"
	// EventSyncFinished: a sync ended (Sync holds its result and the
	// per-host results); a rollback is a sync with Trigger rollback.
	EventSyncFinished = "sync-finished"
	// EventDrift: a drift was found on a host (Drift).
	EventDrift = "drift"
	// EventSourceError: the Git source could not be fetched (Error);
	// published on each failed fetch.
	EventSourceError = "source-error"
	// EventSourceOK: a fetch succeeded after failures, or a new revision
	// arrived (Revision).
	EventSourceOK = "source-ok"
	// EventStatus: host statuses changed (a plan, an apply, a pause);
	// subscribers read Agent.Status for the new state.
	EventStatus = "status"
)

// Event is something that happened in the agent. Subscribers (the web UI's
// live updates, the metrics, the notifications) receive every event
// published after they subscribed, in order.
type Event struct {
	Type     string
	Time     time.Time
	Sync     *store.Sync  // sync events
	Drift    *store.Drift // drift events
	Revision string       // source events: the revision fetched
	Error    string       // source errors
}

// eventBus fans events out to subscribers. Its zero value is ready.
type eventBus struct {
	mu   sync.Mutex
	next int
	subs map[int]*subscriber
}

// subscriber is one subscription: an unbounded queue drained into C by
// its own goroutine, so that a slow subscriber never blocks the agent and
// never loses an event.
type subscriber struct {
	c      chan Event
	mu     sync.Mutex
	queue  []Event
	wake   chan struct{}
	closed bool
}

// Subscribe returns a channel that receives every event published from now
// on, and a function that ends the subscription (and closes the channel).
func (a *Agent) Subscribe() (<-chan Event, func()) {
	b := &a.events
	s := &subscriber{c: make(chan Event), wake: make(chan struct{}, 1)}
	b.mu.Lock()
	if b.subs == nil {
		b.subs = map[int]*subscriber{}
	}
	id := b.next
	b.next++
	b.subs[id] = s
	b.mu.Unlock()
	done := make(chan struct{})
	go s.pump(done)
	var once sync.Once
	return s.c, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs, id)
			b.mu.Unlock()
			s.mu.Lock()
			s.closed = true
			s.mu.Unlock()
			close(done)
		})
	}
}

// pump delivers the queue in order until done.
func (s *subscriber) pump(done chan struct{}) {
	defer close(s.c)
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.mu.Unlock()
			select {
			case <-s.wake:
				continue
			case <-done:
				return
			}
		}
		e := s.queue[0]
		s.queue = s.queue[1:]
		s.mu.Unlock()
		select {
		case s.c <- e:
		case <-done:
			return
		}
	}
}

// publish sends e to every subscriber; it never blocks.
func (a *Agent) publish(e Event) {
	if e.Time.IsZero() {
		e.Time = a.now()
	}
	b := &a.events
	b.mu.Lock()
	subs := make([]*subscriber, 0, len(b.subs))
	for _, s := range b.subs {
		subs = append(subs, s)
	}
	b.mu.Unlock()
	for _, s := range subs {
		s.mu.Lock()
		if !s.closed {
			s.queue = append(s.queue, e)
		}
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}
