package config

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// FuzzLoad feeds arbitrary bytes to the spec loader, once as a native HCL
// file and once as an HCL JSON file, and compiles what loads for a fixed
// host. Neither may panic, and every diagnostic must point inside the file
// it names. The seed corpus (testdata/fuzz/FuzzLoad) holds the fixtures of
// testdata/valid and testdata/invalid and every input that once crashed;
// scripts/fuzz.sh runs it for a bounded time.
func FuzzLoad(f *testing.F) {
	f.Fuzz(func(t *testing.T, src []byte) {
		defer watchdog(src)()
		for _, name := range []string{"specs/main.hcl", "specs/main.hcl.json"} {
			fsys := fstest.MapFS{name: {Data: src}}
			c, diags := Load(fsys, "specs")
			if c == nil {
				t.Fatalf("%s: Load returned a nil Config", name)
			}
			checkRanges(t, name, src, "load", diags, c)
			if diags.HasErrors() {
				continue
			}
			_, diags = c.Compile(testHost(), nil)
			checkRanges(t, name, src, "compile", diags, c)
			checkRanges(t, name, src, "validate", c.Validate(nil), c)
		}
	})
}

// inputDeadline is how long one input may take to load and compile. A
// spec that takes longer is a hang a user could commit by mistake.
const inputDeadline = 10 * time.Second

// watchdog crashes the process, with every goroutine's stack, when the
// returned stop function is not called within inputDeadline. The fuzzing
// engine has no deadline of its own per input: it would stall silently;
// a crash makes it save the input to the corpus as a failure.
func watchdog(src []byte) (stop func()) {
	tm := time.AfterFunc(inputDeadline, func() {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		fmt.Fprintf(os.Stderr, "input took more than %s to load and compile: %q\n%s\n", inputDeadline, src, buf)
		panic("load and compile took too long")
	})
	return func() { tm.Stop() }
}

// checkRanges fails t when a diagnostic about the fuzzed file has a range
// outside it, or when a diagnostic names a file that does not exist. It
// also prints the diagnostics as the CLI does, with source snippets.
func checkRanges(t *testing.T, name string, src []byte, step string, diags hcl.Diagnostics, c *Config) {
	t.Helper()
	if err := hcl.NewDiagnosticTextWriter(io.Discard, c.Files(), 78, true).WriteDiagnostics(diags); err != nil {
		t.Errorf("%s %s: print diagnostics: %v", step, name, err)
	}
	for _, d := range diags {
		if d.Summary == "" {
			t.Errorf("%s %s: diagnostic without a summary: %+v", step, name, d)
		}
		for _, r := range []*hcl.Range{d.Subject, d.Context} {
			if r == nil {
				continue
			}
			if r.Filename != name {
				t.Errorf("%s %s: diagnostic %q names file %q", step, name, d.Summary, r.Filename)
				continue
			}
			if msg := badRange(*r, src); msg != "" {
				t.Errorf("%s %s: diagnostic %q: range %s: %s", step, name, d.Summary, r, msg)
			}
		}
	}
}

// badRange says what is wrong with r as a range of src, "" when nothing.
// Lines and columns count from 1, byte offsets lie within src and the start
// is not after the end; in native syntax, the start's line number is also
// the number of newlines before it plus one. HCL's JSON scanner ends the
// range of an unterminated token one byte past the end of the file (the
// input `"`); the fuzzers accept that, since hcl.NewDiagnosticTextWriter
// prints it without harm. Invalid UTF-8, where HCL's scanners miscount
// lines (`"\xec\n0`, `0\xec\n0$`), never reaches them: internal/hclsrc
// refuses it at its first bad byte. These inputs are in the corpus.
func badRange(r hcl.Range, src []byte) string {
	json := strings.HasSuffix(r.Filename, ".json")
	end := len(src)
	if json {
		end++
	}
	s, e := r.Start, r.End
	switch {
	case s.Line < 1 || s.Column < 1 || e.Line < 1 || e.Column < 1:
		return "line or column below 1"
	case s.Byte < 0 || s.Byte > len(src) || e.Byte > end || s.Byte > e.Byte:
		return "byte offsets outside the file or reversed"
	case s.Line > e.Line || (s.Line == e.Line && s.Column > e.Column):
		return "start after end"
	case !json && bytes.Count(src[:s.Byte], []byte("\n"))+1 != s.Line:
		return "start line does not match its byte offset"
	}
	return ""
}
