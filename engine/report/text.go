package report

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/tendhq/tend/resources"
)

// DefaultMaxDiffLines is the number of diff lines Text prints per file when
// Options.MaxDiffLines is 0.
const DefaultMaxDiffLines = 200

// Options tunes the Text renderer.
type Options struct {
	// Color wraps plan symbols and diff lines in ANSI colors: green for
	// create and added lines, yellow for update, red for delete, removed
	// lines and failures.
	Color bool
	// MaxDiffLines caps the diff printed for each file (hunk lines, not
	// counting the two header lines); 0 means DefaultMaxDiffLines.
	MaxDiffLines int
}

// ANSI escape sequences used when Options.Color is set.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
)

// Indentation of the parts of a host's block.
const (
	indentResource = 2 // "  + file[/x]"
	indentDetail   = 6 // attributes and diffs under a resource
)

// line is one line of a host's block. Text prints it as indent spaces, then
// mark, then text; Markdown hoists the mark to column 0 so that GitHub's diff
// highlighting sees it.
type line struct {
	indent int
	mark   byte   // '+', '-', '~', '!' or 0 for none
	text   string // what follows the mark
	color  string // ANSI color of the mark, or of the whole line if whole
	whole  bool
}

// render returns l as Text prints it, control characters escaped.
func (l line) render(color bool) string {
	l.text = printable(l.text)
	var sb strings.Builder
	sb.WriteString(strings.Repeat(" ", l.indent))
	on := color && l.color != ""
	switch {
	case on && l.whole:
		sb.WriteString(l.color)
		if l.mark != 0 {
			sb.WriteByte(l.mark)
		}
		sb.WriteString(l.text)
		sb.WriteString(ansiReset)
	case on && l.mark != 0:
		sb.WriteString(l.color)
		sb.WriteByte(l.mark)
		sb.WriteString(ansiReset)
		sb.WriteString(l.text)
	default:
		if l.mark != 0 {
			sb.WriteByte(l.mark)
		}
		sb.WriteString(l.text)
	}
	return sb.String()
}

// markdown returns l as the Markdown diff block prints it: without the
// host's indentation, and with the mark moved to column 0.
func (l line) markdown() string {
	l.text = printable(l.text)
	pad := strings.Repeat(" ", max(l.indent-indentResource, 0))
	if l.mark == 0 {
		return pad + l.text
	}
	return string(l.mark) + pad + l.text
}

// Text writes the plan (or the outcome of an apply) of r in the manner of
// Terraform's plan output: a block per host that changes or failed, and a
// final summary line. Converged hosts print nothing but are counted.
func Text(w io.Writer, r *Run, o Options) error {
	var buf bytes.Buffer
	if r.Error != "" {
		// The run stopped before any host: say why first.
		for _, l := range runErrorLines(r.Error) {
			buf.WriteString(l.render(o.Color) + "\n")
		}
		buf.WriteString("\n")
	}
	for _, h := range r.Hosts {
		body := hostLines(h, o.maxDiff())
		if body == nil {
			continue
		}
		header := printable(hostTitle(h))
		if o.Color {
			header = ansiBold + header + ansiReset
		}
		buf.WriteString(header + "\n")
		for _, l := range body {
			buf.WriteString(l.render(o.Color) + "\n")
		}
		buf.WriteString("\n")
	}
	for _, ro := range r.Rollouts {
		for _, l := range rolloutLines(ro) {
			buf.WriteString(l.render(o.Color) + "\n")
		}
		buf.WriteString("\n")
	}
	for _, s := range summaryLines(r.Count()) {
		buf.WriteString(s + "\n")
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write text report: %w", err)
	}
	return nil
}

// hostTitle returns "host NAME (ADDRESS)", or "host NAME" when the address
// is unknown or the name itself.
func hostTitle(h *Host) string {
	if h.Address == "" || h.Address == h.Name {
		return "host " + h.Name
	}
	return "host " + h.Name + " (" + h.Address + ")"
}

// maxDiff returns the effective per-file diff cap of o.
func (o Options) maxDiff() int {
	if o.MaxDiffLines <= 0 {
		return DefaultMaxDiffLines
	}
	return o.MaxDiffLines
}

// summaryLines returns the final lines of a plan: "No changes." when nothing
// changes and no host failed, else "Plan: ..." and, when hosts failed, an
// "Error: ..." line.
func summaryLines(c Counts) []string {
	if c.Create+c.Update+c.Delete == 0 && c.Failed == 0 && c.Orphaned == 0 {
		if c.Hosts == 1 {
			return []string{"No changes. 1 host is converged."}
		}
		return []string{fmt.Sprintf("No changes. %d hosts are converged.", c.Hosts)}
	}
	orphaned := ""
	if c.Orphaned > 0 {
		orphaned = fmt.Sprintf(", %d orphaned", c.Orphaned)
	}
	out := []string{fmt.Sprintf("Plan: %s, %d to create, %d to update, %d to delete%s.",
		plural(c.Hosts, "host", "hosts"), c.Create, c.Update, c.Delete, orphaned)}
	failed := c.Failed - c.NotStarted
	switch {
	case c.NotStarted == 0 && c.Failed > 0:
		out = append(out, fmt.Sprintf("Error: %d of %s failed.", c.Failed, plural(c.Hosts, "host", "hosts")))
	case c.NotStarted > 0 && failed == 0:
		out = append(out, fmt.Sprintf("Error: %d of %s not started.", c.NotStarted, plural(c.Hosts, "host", "hosts")))
	case c.NotStarted > 0:
		out = append(out, fmt.Sprintf("Error: %d of %s failed, %d not started.", failed, plural(c.Hosts, "host", "hosts"), c.NotStarted))
	}
	return out
}

// plural returns "n one" or "n many" as n asks.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// hostLines returns the body of h's block (without the "host" header), or
// nil when h has nothing to show: no error and no resource that changes or
// failed.
func hostLines(h *Host, maxDiff int) []line {
	var out []line
	switch {
	case h.NotStarted:
		out = append(out, line{indent: indentResource, mark: '!', text: " not started: " + orUnknown(h.Error), color: ansiRed})
	case h.Error != "":
		out = append(out, line{indent: indentResource, mark: '!', text: " " + h.Error, color: ansiRed})
	}
	for _, res := range h.Resources {
		out = append(out, resourceLines(h, res, maxDiff)...)
	}
	return out
}

// resourceLines returns the lines of one resource: nothing when it is
// unchanged, a "!" line for a failure, else its symbol line and details.
func resourceLines(h *Host, res *Resource, maxDiff int) []line {
	addr := res.Addr.String()
	fail := func(what string) line {
		return line{indent: indentResource, mark: '!', text: " " + addr + ": " + what, color: ansiRed}
	}
	switch res.Status {
	case StatusFailed:
		return append([]line{fail(orUnknown(res.Error))}, changeLines(h, res.Change, maxDiff)...)
	case StatusNotConverged:
		return append([]line{fail(withError("did not converge", res.Error))}, changeLines(h, res.Change, maxDiff)...)
	case StatusSkipped:
		dep := res.SkippedBecause
		if dep == "" {
			dep = "a dependency"
		}
		return []line{fail("skipped because " + dep + " failed")}
	case StatusError:
		return []line{fail(withError("could not observe", res.Error))}
	case StatusOrphaned:
		// Left alone: one line saying why and how to prune it.
		why := "no longer in the spec"
		if res.Change != nil && res.Change.Reason != "" {
			why = res.Change.Reason
		}
		if res.Error != "" {
			why += "; could not observe: " + res.Error
		}
		return []line{{indent: indentResource, mark: '-', text: " " + addr + " (orphaned: " + why + ")", color: ansiCyan}}
	}
	if !res.Change.Changed() {
		return nil
	}
	a := res.Change.Action
	if res.Change.Headline != "" {
		// What the change is about, in a few words: "v1 -> v2".
		addr += ": " + res.Change.Headline
	}
	head := line{indent: indentResource, mark: a.Symbol()[0], text: " " + addr, color: actionColor(a)}
	return append([]line{head}, changeLines(h, res.Change, maxDiff)...)
}

// withError joins a description and an error message, if there is one.
func withError(what, err string) string {
	if err == "" {
		return what
	}
	return what + ": " + err
}

// orUnknown returns err, or a placeholder for a failure without a message.
func orUnknown(err string) string {
	if err == "" {
		return "failed (no error message)"
	}
	return err
}

// actionColor returns the ANSI color of a's symbol.
func actionColor(a resources.Action) string {
	switch a {
	case resources.Create:
		return ansiGreen
	case resources.Update:
		return ansiYellow
	case resources.Delete:
		return ansiRed
	}
	return ""
}

// changeLines returns the details of c under its resource line: aligned
// attributes, then the content summary or diff.
func changeLines(h *Host, c *resources.Change, maxDiff int) []line {
	if !c.Changed() {
		return nil
	}
	var summary string
	var diff []line
	if c.Content != nil {
		summary, diff = contentLines(h.Name, c.Action, c.Content, maxDiff)
	}
	width := 0
	for _, a := range c.Attrs {
		width = max(width, len(a.Name))
	}
	if summary != "" {
		width = max(width, len("content"))
	}
	var out []line
	for _, a := range c.Attrs {
		out = append(out, detail(width, a.Name, attrValue(c.Action, a)))
	}
	if summary != "" {
		out = append(out, detail(width, "content", summary))
	}
	out = append(out, diff...)
	for i, s := range c.Steps {
		// What Apply will run, in order, when it is more than setting
		// the attributes (a release's upload, switch, health check).
		out = append(out, line{indent: indentDetail, text: fmt.Sprintf("# %d. %s", i+1, s)})
	}
	if c.Reason != "" {
		// Why, when it is not an attribute: a guard, a notification.
		out = append(out, line{indent: indentDetail, text: "# " + c.Reason})
	}
	return out
}

// detail returns an attribute line "name: value" with the name padded to
// width.
func detail(width int, name, value string) line {
	return line{indent: indentDetail, text: fmt.Sprintf("%-*s %s", width+1, name+":", value)}
}

// redacted is what every renderer prints in place of a sensitive value.
const redacted = "(sensitive value)"

// attrValue formats a's values for the action of its change: the after value
// alone for a create, "before -> null" for a delete, "before -> after" else.
// Sensitive values print as "(sensitive value)".
func attrValue(act resources.Action, a resources.AttrChange) string {
	before, after := strconv.Quote(a.Before), strconv.Quote(a.After)
	if a.Sensitive {
		before, after = redacted, redacted
	}
	switch act {
	case resources.Create:
		return after
	case resources.Delete:
		return before + " -> null"
	}
	return before + " -> " + after
}
