package agent

import (
	"time"

	"github.com/robfig/cron/v3"
)

// WindowKind says whether a window allows or denies automatic syncs.
type WindowKind string

// The window kinds.
const (
	WindowAllow WindowKind = "allow"
	WindowDeny  WindowKind = "deny"
)

// Window is a recurring period, starting at each activation of a cron
// schedule and lasting Duration. Automatic syncs and self-heal run only
// inside an allow window (when there are any) and never inside a deny
// window; manual syncs ignore windows.
type Window struct {
	Spec     string // the cron schedule as written
	Duration time.Duration
	Kind     WindowKind
	schedule cron.Schedule
}

// NewWindow parses a standard five-field cron schedule.
func NewWindow(spec string, d time.Duration, kind WindowKind) (Window, error) {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return Window{}, err
	}
	return Window{Spec: spec, Duration: d, Kind: kind, schedule: s}, nil
}

// Active reports whether t is inside one of w's periods: the schedule fired
// in (t-Duration, t].
func (w Window) Active(t time.Time) bool {
	return !w.schedule.Next(t.Add(-w.Duration)).After(t)
}

// Allowed reports whether automatic syncs may run at t under ws.
func Allowed(ws []Window, t time.Time) bool {
	allow, anyAllow := false, false
	for _, w := range ws {
		switch w.Kind {
		case WindowDeny:
			if w.Active(t) {
				return false
			}
		default:
			anyAllow = true
			allow = allow || w.Active(t)
		}
	}
	return allow || !anyAllow
}
