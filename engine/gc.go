package engine

import (
	"os"
	"runtime/debug"
)

// The garbage collector's settings for one-shot runs (tend plan, tend
// apply). Go's default (GOGC=100, no memory limit) collects whenever the
// heap doubles: while the graphs of thousands of hosts are built, the heap
// grows steadily and every collection marks all of it again, a fifth of
// the CPU of a large plan (issue 7). A one-shot run lets the heap grow to
// five times what is live instead, and a soft memory limit makes the
// collector work harder only when the heap nears it. The agent, which runs
// for weeks, keeps Go's defaults.
const (
	batchGCPercent = 400
	// batchMemoryLimit is the soft limit. A run whose live heap exceeds it
	// (far beyond 5,000 hosts x 100 resources) is not failed, but the
	// collector then runs often, up to half the CPU: set GOMEMLIMIT higher
	// for such fleets.
	batchMemoryLimit = 1536 << 20
)

// TuneGC sets the collector for a one-shot run, unless GOGC or GOMEMLIMIT
// is set in the environment (then the user's choice stands), and returns
// the function that restores the previous settings.
func TuneGC() (restore func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	limit := debug.SetMemoryLimit(batchMemoryLimit)
	percent := debug.SetGCPercent(batchGCPercent)
	return func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}
}
