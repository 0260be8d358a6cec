package report

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	udiff "github.com/aymanbagabas/go-udiff"

	"github.com/tendhq/tend/resources"
)

// diffContext is the number of unchanged lines around each diff hunk.
const diffContext = 3

// contentView is how a file's content change may be shown: either a
// one-line summary or a unified diff, never both.
type contentView struct {
	summary string // e.g. "(sensitive value)"; "" when diff is set
	diff    string // a complete unified diff; "" when summary is set
}

// viewContent decides how c is shown. It is the one place that reads
// c.Before and c.After, and it does not when c is sensitive: a sensitive
// change shows "(sensitive value)" and nothing of its content, hashes or
// sizes. Binary content shows sizes only; content whose before is not known
// shows hashes and sizes; everything else shows a unified diff.
func viewContent(host string, act resources.Action, c *resources.ContentChange) contentView {
	if c.Sensitive {
		return contentView{summary: redacted}
	}
	created := c.BeforeSize < 0
	gone := act == resources.Delete || c.AfterSize < 0
	if binaryContent(c) {
		switch {
		case created:
			return contentView{summary: fmt.Sprintf("binary content (%s)", size(c.AfterSize))}
		case gone:
			return contentView{summary: fmt.Sprintf("binary content removed (%s)", size(c.BeforeSize))}
		}
		return contentView{summary: fmt.Sprintf("binary content changed (%s -> %s)", size(c.BeforeSize), size(c.AfterSize))}
	}
	if created && c.AfterSize == 0 {
		return contentView{summary: `""`}
	}
	// The after side is known when the spec's bytes are at hand (or there is
	// no after side); the before side when the file is new or was fetched.
	afterKnown := gone || len(c.After) > 0 || c.AfterSize == 0
	beforeKnown := created || c.BeforeKnown
	if afterKnown && beforeKnown {
		from, to := c.Path+" ("+host+")", c.Path+" (desired)"
		var before, after string
		if created {
			from = "/dev/null"
		} else {
			before = string(c.Before)
		}
		if gone {
			to = "/dev/null"
		} else {
			after = string(c.After)
		}
		d, err := udiff.ToUnified(from, to, before, udiff.Lines(before, after), diffContext)
		if err == nil && d != "" {
			return contentView{diff: d}
		}
	}
	return contentView{summary: hashSummary(c, created, gone)}
}

// hashSummary describes a content change by hashes and sizes, for content
// whose before side was not fetched (too large) or could not be diffed.
func hashSummary(c *resources.ContentChange, created, gone bool) string {
	switch {
	case created:
		return fmt.Sprintf("sha256 %s (%s)", shortHash(c.AfterHash), size(c.AfterSize))
	case gone:
		return fmt.Sprintf("sha256 %s (%s) -> none", shortHash(c.BeforeHash), size(c.BeforeSize))
	}
	return fmt.Sprintf("sha256 %s -> %s (%s -> %s)",
		shortHash(c.BeforeHash), shortHash(c.AfterHash), size(c.BeforeSize), size(c.AfterSize))
}

// shortHash returns the first 12 hex digits of a sha256, or "unknown".
func shortHash(h string) string {
	switch {
	case h == "":
		return "unknown"
	case len(h) > 12:
		return h[:12]
	}
	return h
}

// size formats a byte count.
func size(n int64) string {
	if n == 1 {
		return "1 byte"
	}
	return fmt.Sprintf("%d bytes", n)
}

// binaryContent reports whether c is shown as binary: flagged so by the
// engine, or holding bytes that are not text on a side that is known.
func binaryContent(c *resources.ContentChange) bool {
	return c.Binary || !isText(c.After) || (c.BeforeKnown && !isText(c.Before))
}

// isText reports whether b can be printed as text: valid UTF-8 without NUL.
// The engine sets ContentChange.Binary; this is a second guard so that a
// renderer never writes raw binary to a terminal.
func isText(b []byte) bool {
	return utf8.Valid(b) && bytes.IndexByte(b, 0) < 0
}

// contentLines returns how Text shows c: a summary for the "content:"
// attribute line, or the lines of a unified diff, cut after maxDiff hunk
// lines.
func contentLines(host string, act resources.Action, c *resources.ContentChange, maxDiff int) (string, []line) {
	v := viewContent(host, act, c)
	if v.diff == "" {
		return v.summary, nil
	}
	return "", diffLines(v.diff, maxDiff)
}

// diffLines turns a unified diff into lines under a resource: "+" and "-"
// lines carry their sign as mark (so Markdown can hoist it), header and hunk
// lines are plain. Hunk lines beyond maxDiff are replaced by a count.
func diffLines(d string, maxDiff int) []line {
	raw := strings.Split(strings.TrimSuffix(d, "\n"), "\n")
	var out []line
	body := 0
	for i, s := range raw {
		if i < 2 { // "--- from" and "+++ to"
			out = append(out, line{indent: indentDetail, text: s, color: ansiBold, whole: true})
			continue
		}
		if body == maxDiff {
			out = append(out, line{indent: indentDetail, text: "... (" + plural(len(raw)-i, "more line", "more lines") + ")"})
			break
		}
		body++
		switch {
		case strings.HasPrefix(s, "+"):
			out = append(out, line{indent: indentDetail, mark: '+', text: s[1:], color: ansiGreen, whole: true})
		case strings.HasPrefix(s, "-"):
			out = append(out, line{indent: indentDetail, mark: '-', text: s[1:], color: ansiRed, whole: true})
		case strings.HasPrefix(s, "@@"):
			out = append(out, line{indent: indentDetail, text: s, color: ansiCyan, whole: true})
		default:
			out = append(out, line{indent: indentDetail, text: s})
		}
	}
	return out
}

// printable replaces control characters other than tab (C0, DEL and C1) by
// \xNN escapes, so that file content or an error message (which may come
// from a compromised host) cannot send escape sequences to the terminal that
// shows a plan.
func printable(s string) string {
	ctl := func(r rune) bool { return (r < 0x20 && r != '\t') || (r >= 0x7f && r <= 0x9f) }
	if strings.IndexFunc(s, ctl) < 0 {
		return s
	}
	var sb strings.Builder
	for _, r := range s {
		if ctl(r) {
			fmt.Fprintf(&sb, "\\x%02x", r)
			continue
		}
		sb.WriteRune(r)
	}
	return sb.String()
}
