package resources

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestParseProbeMatchesReference parses the recorded replies, and many
// variants of them (lines dropped, doubled or cut, CRLF endings, odd
// fields, random bytes changed), with ParseProbe and with the reference
// implementation it replaced (probe_ref_test.go): both must accept the
// same replies with the same observed state, and reject the others with
// the same error.
func TestParseProbeMatchesReference(t *testing.T) {
	type input struct {
		p     *Probe
		reply []byte
	}
	var inputs []input
	seeds, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzParseProbe", "*"))
	if err != nil || len(seeds) == 0 {
		t.Fatalf("no fuzz seeds: %v", err)
	}
	for _, f := range seeds {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, lit, ok := strings.Cut(string(data), "[]byte(")
		if !ok {
			t.Fatalf("%s: not a fuzz seed", f)
		}
		s, err := strconv.Unquote(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(lit), ")")))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		inputs = append(inputs, input{fuzzProbe(), []byte(s)})
	}
	reply, err := os.ReadFile(filepath.Join("testdata", "probe-100.reply"))
	if err != nil {
		t.Fatal(err)
	}
	inputs = append(inputs, input{benchProbe(t, benchResources(t, benchRoot)), reply})

	opts := cmp.Options{cmp.Exporter(func(reflect.Type) bool { return true }), cmpopts.EquateEmpty()}
	rng := rand.New(rand.NewPCG(7, 7))
	tried, accepted := 0, 0
	check := func(p *Probe, reply []byte) {
		tried++
		got, gerr := ParseProbe(p, reply)
		want, werr := refParseProbe(p, reply)
		if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
			t.Fatalf("reply %q:\nerror %v\nwant  %v", reply, gerr, werr)
		}
		if gerr != nil {
			return
		}
		accepted++
		if diff := cmp.Diff(want, got, opts); diff != "" {
			t.Fatalf("reply %q: observed state (-want +got):\n%s", reply, diff)
		}
	}
	for _, in := range inputs {
		check(in.p, in.reply)
		check(in.p, bytes.ReplaceAll(in.reply, []byte("\n"), []byte("\r\n")))
		check(in.p, bytes.TrimSuffix(in.reply, []byte("\n")))
		lines := bytes.SplitAfter(in.reply, []byte("\n"))
		for i := range lines {
			join := func(mid ...[]byte) []byte {
				out := bytes.Join(lines[:i], nil)
				for _, m := range mid {
					out = append(out, m...)
				}
				return append(out, bytes.Join(lines[i+1:], nil)...)
			}
			check(in.p, join())                                         // dropped
			check(in.p, join(lines[i], lines[i]))                       // doubled
			check(in.p, join(lines[i][:len(lines[i])/2], []byte("\n"))) // cut
			for _, r := range [][2]string{{" root", " UNKNOWN"}, {" ", "  "}, {" ", "\t"}, {" root", " r\u00f6ot"},
				{" root", " ro\u00a0ot"}, {"sha ", "sha X"}, {" 0 ", " +0 "}, {"path ", "path 1 "}, {"content ", "content !"}} {
				if bytes.Contains(lines[i], []byte(r[0])) {
					check(in.p, join(bytes.Replace(lines[i], []byte(r[0]), []byte(r[1]), 1)))
				}
			}
		}
		for range 300 {
			b := bytes.Clone(in.reply)
			for range 1 + rng.IntN(3) {
				b[rng.IntN(len(b))] = " \n\r\t0aRUFEx\xff\u00e9"[rng.IntN(14)]
			}
			check(in.p, b)
		}
	}
	// Lines as long as the reply's line buffer holds, and one byte more.
	for _, n := range []int{probeLineMax - 1, probeLineMax} {
		long := append([]byte("T tend-probe 1\nR 0 "), bytes.Repeat([]byte("A"), n-len("R 0 "))...)
		check(fuzzProbe(), long)
		check(fuzzProbe(), append(long, '\n'))
		check(fuzzProbe(), append(long, "\r\n"...))
	}
	if accepted < 10 {
		t.Errorf("only %d of %d replies were accepted: the variants test little", accepted, tried)
	}
	t.Logf("%d replies, %d accepted", tried, accepted)
}
