package report

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"strings"

	"github.com/tendhq/tend/resources"
)

// Markdown writes r for a pull-request comment: a heading with the summary
// line, a table of every host, and for each host that changes or failed a
// collapsed <details> block holding its plan as a "diff" fenced block. The
// block holds the Text lines without color and with each line's "+", "-",
// "~" or "!" moved to column 0, so that GitHub highlights them. Sensitive
// values are redacted as in Text; diffs are cut after DefaultMaxDiffLines.
func Markdown(w io.Writer, r *Run) error {
	var buf bytes.Buffer
	// The heading is the Text summary line; an "Error:" line follows in
	// bold, so a failed run is visible without opening anything.
	sum := summaryLines(r.Count())
	fmt.Fprintf(&buf, "### %s\n\n", sum[0])
	for _, s := range sum[1:] {
		fmt.Fprintf(&buf, "**%s**\n\n", s)
	}
	if r.Revision != "" {
		fmt.Fprintf(&buf, "Revision: %s\n\n", codeSpan(r.Revision))
	}
	if r.Error != "" {
		text := strings.TrimRight(r.Error, "\n") + "\n"
		fence := strings.Repeat("`", max(3, longestRun(text, '`')+1))
		fmt.Fprintf(&buf, "**The run stopped before any host was contacted:**\n\n%s\n%s%s\n\n", fence, text, fence)
	}
	// Every host gets a row, converged ones included, so the table also
	// says which hosts the run covered.
	if len(r.Hosts) > 0 {
		buf.WriteString("| host | create | update | delete | status |\n")
		buf.WriteString("|------|-------:|-------:|-------:|--------|\n")
		for _, h := range r.Hosts {
			c := hostCount(h)
			fmt.Fprintf(&buf, "| %s | %d | %d | %d | %s |\n",
				cell(h.Name), c.Create, c.Update, c.Delete, hostStatus(r.Mode, h, c))
		}
	}
	for _, ro := range r.Rollouts {
		markdownRollout(&buf, ro, r.Mode)
	}
	for _, h := range r.Hosts {
		body := hostLines(h, DefaultMaxDiffLines)
		if body == nil {
			continue
		}
		// The block is built first: its fence must be longer than any run
		// of backticks inside it (a diffed README may hold a fence).
		var block strings.Builder
		for _, l := range body {
			block.WriteString(l.markdown() + "\n")
		}
		fence := strings.Repeat("`", max(3, longestRun(block.String(), '`')+1))
		fmt.Fprintf(&buf, "\n<details><summary>%s</summary>\n\n%sdiff\n%s%s\n\n</details>\n",
			html.EscapeString(hostTitle(h)+": "+hostCountText(h, hostCount(h))), fence, block.String(), fence)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write markdown report: %w", err)
	}
	return nil
}

// hostCount sums the planned actions of one host. Hosts is 1, and Failed is
// 1 when h failed.
func hostCount(h *Host) Counts {
	c := Counts{Hosts: 1}
	if h.Failed() {
		c.Failed = 1
	}
	for _, res := range h.Resources {
		if res.Status == StatusOrphaned {
			c.Orphaned++
			continue
		}
		if res.Change == nil {
			continue
		}
		switch res.Change.Action {
		case resources.Create:
			c.Create++
		case resources.Update:
			c.Update++
		case resources.Delete:
			c.Delete++
		}
	}
	return c
}

// hostCountText says what happens to a host: "2 to create, 1 to update",
// with ", failed" when it failed, or "not started".
func hostCountText(h *Host, c Counts) string {
	if h.NotStarted {
		return "not started"
	}
	var parts []string
	for _, p := range []struct {
		n    int
		verb string
	}{{c.Create, "create"}, {c.Update, "update"}, {c.Delete, "delete"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d to %s", p.n, p.verb))
		}
	}
	if c.Orphaned > 0 {
		parts = append(parts, fmt.Sprintf("%d orphaned", c.Orphaned))
	}
	if c.Failed > 0 {
		parts = append(parts, "failed")
	}
	if len(parts) == 0 {
		return "no changes"
	}
	return strings.Join(parts, ", ")
}

// hostStatus is the status column of the host table.
func hostStatus(m Mode, h *Host, c Counts) string {
	switch {
	case h.NotStarted:
		return "not started"
	case c.Failed > 0:
		return "failed"
	case c.Create+c.Update+c.Delete == 0 && c.Orphaned > 0:
		return "orphaned"
	case c.Create+c.Update+c.Delete == 0:
		return "converged"
	case m == ModeApply:
		return "changed"
	}
	return "changes"
}

// markdownRollout writes a rollout as a paragraph and a table of its
// batches: their hosts, and after an apply their start, duration and
// result, then why it stopped.
func markdownRollout(buf *bytes.Buffer, ro *Rollout, m Mode) {
	title := strings.TrimPrefix(rolloutTitle(ro), "Rollout of role "+ro.Role)
	fmt.Fprintf(buf, "\n**Rollout of role %s**%s\n\n", cell(ro.Role), cell(title))
	if m != ModeApply {
		buf.WriteString("| batch | hosts |\n|------:|-------|\n")
		for i, b := range ro.Batches {
			fmt.Fprintf(buf, "| %d | %s |\n", i+1, cell(strings.Join(b.Hosts, ", ")))
		}
	} else {
		buf.WriteString("| batch | hosts | started | duration | result |\n|------:|-------|---------|---------:|--------|\n")
		for i, b := range ro.Batches {
			started, took := "", ""
			if b.Status != BatchNotStarted {
				started, took = batchClock(b), seconds(b.Duration)
			}
			fmt.Fprintf(buf, "| %d | %s | %s | %s | %s |\n", i+1, cell(strings.Join(b.Hosts, ", ")), started, took, cell(batchOutcome(b)))
		}
	}
	if ro.Stopped != "" {
		fmt.Fprintf(buf, "\n**%s**\n", cell(upperFirst(ro.Stopped)))
	}
}

// upperFirst returns s with its first letter in upper case.
func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// cell escapes s for a Markdown table cell.
func cell(s string) string {
	s = html.EscapeString(s)
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}

// codeSpan returns s as inline code, with a delimiter longer than any run of
// backticks inside it.
func codeSpan(s string) string {
	d := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return d + s + d
}

// longestRun returns the length of the longest run of c in s.
func longestRun(s string, c byte) int {
	best, cur := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] != c {
			cur = 0
			continue
		}
		cur++
		best = max(best, cur)
	}
	return best
}
