package report

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Diagnostics prints diagnostics for people: the summary, the place as
// file:line:column, the source line with the subject underlined, and the
// detail. Errors come before warnings; within each, in file and position
// order, so output is stable.
//
//	Error: Invalid file mode
//	  --> web.hcl:12:12
//	   |
//	12 |     mode = "0999"
//	   |            ^^^^^^
//	The mode "0999" is not valid: ...
func Diagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics, color bool) error {
	ds := append(hcl.Diagnostics(nil), diags...)
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.Severity != b.Severity {
			return a.Severity == hcl.DiagError
		}
		ra, rb := a.Subject, b.Subject
		switch {
		case ra == nil || rb == nil:
			return ra != nil && rb == nil
		case ra.Filename != rb.Filename:
			return ra.Filename < rb.Filename
		case ra.Start.Line != rb.Start.Line:
			return ra.Start.Line < rb.Start.Line
		}
		return ra.Start.Column < rb.Start.Column
	})
	bw := bufio.NewWriter(w)
	for i, d := range ds {
		if i > 0 {
			bw.WriteString("\n")
		}
		writeDiag(bw, files, d, color)
	}
	return bw.Flush()
}

func writeDiag(w *bufio.Writer, files map[string]*hcl.File, d *hcl.Diagnostic, color bool) {
	label, on, off := "Error", "", ""
	if d.Severity == hcl.DiagWarning {
		label = "Warning"
	}
	if color {
		on, off = "\x1b[1;31m", "\x1b[0m"
		if d.Severity == hcl.DiagWarning {
			on = "\x1b[1;33m"
		}
	}
	fmt.Fprintf(w, "%s%s:%s %s\n", on, label, off, d.Summary)
	if r := d.Subject; r != nil {
		fmt.Fprintf(w, "  --> %s:%d:%d\n", r.Filename, r.Start.Line, r.Start.Column)
		if src := sourceLine(files, r.Filename, r.Start.Line); src != "" || r.Start.Line > 0 {
			num := fmt.Sprint(r.Start.Line)
			pad := strings.Repeat(" ", len(num))
			fmt.Fprintf(w, "%s |\n%s | %s\n", pad, num, src)
			end := r.End.Column
			if r.End.Line != r.Start.Line {
				end = len(src) + 1
			}
			width := end - r.Start.Column
			if width < 1 {
				width = 1
			}
			// Keep tabs in the indentation so the carets line up.
			indent := []byte(src)
			if r.Start.Column-1 < len(indent) {
				indent = indent[:r.Start.Column-1]
			}
			for i, c := range indent {
				if c != '\t' {
					indent[i] = ' '
				}
			}
			fmt.Fprintf(w, "%s | %s%s\n", pad, indent, strings.Repeat("^", width))
		}
	}
	if d.Detail != "" {
		fmt.Fprintf(w, "%s\n", d.Detail)
	}
}

func sourceLine(files map[string]*hcl.File, name string, line int) string {
	f := files[name]
	if f == nil || line < 1 {
		return ""
	}
	lines := bytes.Split(f.Bytes, []byte("\n"))
	if line > len(lines) {
		return ""
	}
	return strings.TrimRight(string(lines[line-1]), "\r")
}
