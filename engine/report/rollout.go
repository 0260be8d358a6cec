package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// clockFormat is how batch start times print: the clock time with tenths
// of a second, enough to see batches follow each other.
const clockFormat = "15:04:05.0"

// rolloutTitle returns "Rollout of role web: 3 batches of 1 (max_failed 0,
// pause 10s)".
func rolloutTitle(ro *Rollout) string {
	return fmt.Sprintf("Rollout of role %s: %s of %d (max_failed %s, pause %s)",
		ro.Role, plural(len(ro.Batches), "batch", "batches"), ro.BatchSize, maxFailedText(ro), shortDuration(ro.Pause))
}

// maxFailedText returns max_failed as the spec wrote it: "1" or "25%".
func maxFailedText(ro *Rollout) string {
	if ro.MaxFailedPercent {
		return strconv.Itoa(ro.MaxFailed) + "%"
	}
	return strconv.Itoa(ro.MaxFailed)
}

// rolloutLines returns the rollout section of Text: its title, one line per
// batch with its hosts (and after an apply its start, duration and result),
// and the reason it stopped:
//
//	Rollout of role web: 3 batches of 1 (max_failed 0, pause 10s)
//	  batch 1: web-1   15:04:05.0  1.20s  1 failed: web-1
//	  batch 2: web-2   not started
//	  ! stopped after batch 1: web-1 failed
func rolloutLines(ro *Rollout) []line {
	out := []line{{text: rolloutTitle(ro)}}
	heads := make([]string, len(ro.Batches))
	width := 0
	for i, b := range ro.Batches {
		heads[i] = fmt.Sprintf("batch %d: %s", i+1, strings.Join(b.Hosts, ", "))
		width = max(width, len(heads[i]))
	}
	for i, b := range ro.Batches {
		result := batchResult(b)
		if result == "" {
			out = append(out, line{indent: indentResource, text: heads[i]})
			continue
		}
		text := fmt.Sprintf("%-*s   %s", width, heads[i], result)
		l := line{indent: indentResource, text: text}
		if b.Status == BatchFailed {
			l.color, l.whole = ansiRed, true
		}
		out = append(out, l)
	}
	if ro.Stopped != "" {
		out = append(out, line{indent: indentResource, mark: '!', text: " " + ro.Stopped, color: ansiRed})
	}
	return out
}

// batchResult returns what happened to b after an apply: "15:04:05.0
// 1.20s  ok", "... 2 failed: web-1, web-2" or "not started"; "" in a plan.
func batchResult(b *Batch) string {
	switch b.Status {
	case BatchPlanned, "":
		return ""
	case BatchNotStarted:
		return "not started"
	}
	return fmt.Sprintf("%s  %s  %s", batchClock(b), seconds(b.Duration), batchOutcome(b))
}

// batchClock returns when b started as clock time, or "-" if unknown.
func batchClock(b *Batch) string {
	if b.Started.IsZero() {
		return "-"
	}
	return b.Started.Format(clockFormat)
}

// batchOutcome returns "ok", "1 failed: web-1" or "not started".
func batchOutcome(b *Batch) string {
	switch {
	case b.Status == BatchNotStarted:
		return "not started"
	case b.Status == BatchPlanned:
		return "planned"
	case len(b.Failed) > 0:
		return fmt.Sprintf("%d failed: %s", len(b.Failed), strings.Join(b.Failed, ", "))
	}
	return "ok"
}

// runErrorLines returns the lines Text prints first when the run stopped
// before any host was contacted.
func runErrorLines(msg string) []line {
	out := []line{{mark: '!', text: " The run stopped before any host was contacted:", color: ansiRed}}
	for _, s := range strings.Split(strings.TrimRight(msg, "\n"), "\n") {
		out = append(out, line{indent: indentResource, text: s})
	}
	return out
}

// shortDuration prints d as time.Duration does, without the zero units
// at its end: "10s", "2m", "1h30m", "0s".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
