package report

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Summary writes the outcome of an apply: one line per host, sorted by
// name, with its status, resource counts and phase timings (or its error),
// then a total line:
//
//	web1  ok       2 changed, 28 unchanged   1.20s (connect 0.10s, probe 0.05s, apply 0.90s, verify 0.15s)
//	db1   FAILED   unreachable: connect db1 ...: i/o timeout
//	Apply: 2 hosts, 1 ok, 1 failed; 2 resources changed in 2.31s.
//
// Phases that took no time are left out of the parentheses. A host that was
// never contacted prints NOT STARTED and why (its rollout stopped), and the
// total line counts those hosts apart; a run-level error (Run.Error) prints
// on an "Error:" line before the total.
func Summary(w io.Writer, r *Run) error {
	hosts := slices.Clone(r.Hosts)
	slices.SortStableFunc(hosts, func(a, b *Host) int { return strings.Compare(a.Name, b.Name) })

	// Column widths: names, then the counts of the hosts that print them.
	nameW, countW, statusW := 0, 0, len("FAILED")
	counts := make([]string, len(hosts))
	for i, h := range hosts {
		nameW = max(nameW, len(h.Name))
		if h.NotStarted {
			statusW = len("NOT STARTED")
		}
		if h.Error == "" {
			counts[i] = statusCounts(h)
			countW = max(countW, len(counts[i]))
		}
	}

	var buf bytes.Buffer
	ok, failed, notStarted, changed := 0, 0, 0, 0
	for i, h := range hosts {
		status := "ok"
		switch {
		case h.NotStarted:
			status = "NOT STARTED"
			notStarted++
		case h.Failed():
			status = "FAILED"
			failed++
		default:
			ok++
		}
		for _, res := range h.Resources {
			if res.Status == StatusApplied {
				changed++
			}
		}
		fmt.Fprintf(&buf, "%-*s  %-*s   ", nameW, h.Name, statusW, status)
		if h.Error != "" {
			buf.WriteString(printable(h.Error) + "\n")
			continue
		}
		fmt.Fprintf(&buf, "%-*s   %s\n", countW, counts[i], timings(h))
	}
	if r.Error != "" {
		for i, l := range strings.Split(strings.TrimRight(r.Error, "\n"), "\n") {
			if i == 0 {
				fmt.Fprintf(&buf, "Error: %s\n", printable(l))
			} else {
				fmt.Fprintf(&buf, "  %s\n", printable(l))
			}
		}
	}
	ns := ""
	if notStarted > 0 {
		ns = fmt.Sprintf(", %d not started", notStarted)
	}
	fmt.Fprintf(&buf, "Apply: %s, %d ok, %d failed%s; %s changed in %s.\n",
		plural(len(hosts), "host", "hosts"), ok, failed, ns,
		plural(changed, "resource", "resources"), seconds(r.Duration))
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write apply summary: %w", err)
	}
	return nil
}

// statusCounts returns "2 changed, 28 unchanged", with the counts of failed,
// not converged, skipped, errored and still planned resources in between
// when there are any.
func statusCounts(h *Host) string {
	n := map[Status]int{}
	for _, res := range h.Resources {
		n[res.Status]++
	}
	parts := []string{fmt.Sprintf("%d changed", n[StatusApplied])}
	for _, s := range []struct {
		status Status
		label  string
	}{
		{StatusFailed, "failed"},
		{StatusNotConverged, "not converged"},
		{StatusSkipped, "skipped"},
		{StatusError, "not observed"},
		{StatusPlanned, "planned"},
		{StatusOrphaned, "orphaned"},
	} {
		if n[s.status] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[s.status], s.label))
		}
	}
	parts = append(parts, fmt.Sprintf("%d unchanged", n[StatusUnchanged]))
	return strings.Join(parts, ", ")
}

// timings returns "1.20s (connect 0.10s, probe 0.05s, apply 0.90s, verify
// 0.15s)", leaving out phases that took no time.
func timings(h *Host) string {
	var phases []string
	for _, p := range []struct {
		name string
		d    time.Duration
	}{{"connect", h.Connect}, {"probe", h.Probe}, {"apply", h.Apply}, {"verify", h.Verify}} {
		if p.d > 0 {
			phases = append(phases, p.name+" "+seconds(p.d))
		}
	}
	if len(phases) == 0 {
		return seconds(h.Duration)
	}
	return seconds(h.Duration) + " (" + strings.Join(phases, ", ") + ")"
}

// seconds formats d as seconds with two decimals: "1.20s".
func seconds(d time.Duration) string {
	return fmt.Sprintf("%.2fs", d.Seconds())
}
