package engine_test

// The engine's scale benchmarks (issue 7): loading a spec, building the
// graphs of 5,000 hosts, and planning 5,000 hosts x 100 resources from
// recorded probe replies, without a network. They run only with -bench:
//
//	go test -run '^$' -bench Scale -benchmem ./engine/
//
// Besides ns/op, B/op and allocs/op, each reports cpu-ms/op (user + system
// time of the process over the timed loop, divided by b.N) and peak-MiB
// (the process's peak resident set, VmHWM, reset before the timed loop).
// The target is BenchmarkScalePlan, a whole `tend plan` of 5,000 x 100
// (load + compile + probe replies + diff): under 5 s of CPU and 2 GiB.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/tendhq/tend/engine"
	"github.com/tendhq/tend/engine/config"
	"github.com/tendhq/tend/engine/report"
	"github.com/tendhq/tend/inventory"
	"github.com/tendhq/tend/inventory/local"
)

const (
	scaleHosts     = 5000
	scaleResources = 100
)

// scaleSpec is the generated workload of n resources per host, the same mix
// as the harness in bench/: a quarter directories (the first is the host's
// root), half templated files rendered with the host's name and port, and
// the rest static files with a mode and an owner.
type scaleSpec struct {
	fsys      fstest.MapFS
	templates map[string]int // path under the root -> template number
}

// newScaleSpec generates the spec of n resources per host.
func newScaleSpec(n int, owner string) *scaleSpec {
	s := &scaleSpec{fsys: fstest.MapFS{}, templates: map[string]int{}}
	nd, nt := n/4, n/2
	nc := n - nd - nt
	dirs := []string{""}
	for i := 1; i < nd; i++ {
		dirs = append(dirs, fmt.Sprintf("/d%02d", i))
	}
	var b strings.Builder
	b.WriteString("role \"scale\" {\n  hosts = [\"*\"]\n")
	for i, d := range dirs {
		fmt.Fprintf(&b, "  directory \"d%02d\" {\n    path = \"${host.vars.root}%s\"\n    mode = \"0755\"\n  }\n", i, d)
	}
	for i := range nt {
		rel := fmt.Sprintf("%s/t%02d.conf", dirs[i%nd], i)
		s.templates[rel] = i
		fmt.Fprintf(&b, "  file \"t%02d\" {\n    path    = \"${host.vars.root}%s\"\n    content = templatefile(\"templates/t%02d.tmpl\", { host = host.name, port = host.vars.app_port })\n  }\n", i, rel, i)
		s.fsys[fmt.Sprintf("templates/t%02d.tmpl", i)] = &fstest.MapFile{Data: []byte(scaleTemplate(i, "${host}", "${port}"))}
	}
	for i := range nc {
		rel := fmt.Sprintf("%s/c%02d.dat", dirs[(nt+i)%nd], i)
		fmt.Fprintf(&b, "  file \"c%02d\" {\n    path   = \"${host.vars.root}%s\"\n    source = \"files/c%02d\"\n    mode   = \"0640\"\n    owner  = %q\n  }\n", i, rel, i, owner)
		s.fsys[fmt.Sprintf("files/c%02d", i)] = &fstest.MapFile{Data: bytes.Repeat([]byte(fmt.Sprintf("static file %02d\n", i)), 32)}
	}
	b.WriteString("}\n")
	s.fsys["main.hcl"] = &fstest.MapFile{Data: []byte(b.String())}
	return s
}

// scaleTemplate is template i with host and port where the host's name and
// port go: about 1 KiB, like a small configuration file.
func scaleTemplate(i int, host, port string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# template %d\n[server]\nhost = \"%s\"\nport = %s\n\n[tuning]\n", i, host, port)
	for k := range 20 {
		fmt.Fprintf(&b, "option_%02d = \"value %d of template %d\"\n", k, k*i, i)
	}
	fmt.Fprintf(&b, "\n[log]\nname = \"%s.log\"\n", host)
	return b.String()
}

// scaleInventory returns n hosts that share one root (the replies are
// replayed, no host is touched) and differ in name and port, so every
// host's templates render differently.
func scaleInventory(n int, root string) []*inventory.Host {
	hosts := make([]*inventory.Host, n)
	for i := range hosts {
		hosts[i] = &inventory.Host{
			Name:    fmt.Sprintf("h%04d", i),
			Address: fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255),
			Port:    22,
			Vars: cty.ObjectVal(map[string]cty.Value{
				"root":     cty.StringVal(root),
				"app_port": cty.NumberIntVal(int64(8000 + i)),
			}),
		}
	}
	return hosts
}

func scaleOwner(b *testing.B) string {
	u, err := user.Current()
	if err != nil {
		b.Fatalf("current user: %v", err)
	}
	return u.Username
}

func scaleLoad(b *testing.B, s *scaleSpec) *config.Config {
	cfg, diags := config.Load(s.fsys, ".")
	if diags.HasErrors() {
		b.Fatalf("load the generated spec: %v", diags)
	}
	return cfg
}

func scaleCompile(b *testing.B, cfg *config.Config, hosts []*inventory.Host) []*config.HostGraph {
	graphs, diags := engine.Compile(cfg, hosts, nil)
	if diags.HasErrors() {
		b.Fatalf("compile: %v", diags)
	}
	if len(graphs) != len(hosts) || len(graphs[0].Nodes) != scaleResources {
		b.Fatalf("compile: %d graphs of %d nodes, want %d of %d", len(graphs), len(graphs[0].Nodes), len(hosts), scaleResources)
	}
	return graphs
}

// recordedReply is the probe reply of the first host, recorded from a real
// probe run by the local transport against a converged tree, cut into the
// parts every host shares and the sha256 values of the templated files,
// which differ per host.
type recordedReply struct {
	queries int
	chunks  [][]byte // chunks[i] precedes slots[i]; the last one ends the reply
	slots   []int    // the template number whose per-host sha goes here
	size    int      // the size of a reply, with room for the hashes
}

// recordReply converges host 0 of a fresh root with the local transport,
// then plans it once more and keeps what its probe answered.
func recordReply(b *testing.B, s *scaleSpec, cfg *config.Config, root string) *recordedReply {
	hosts := scaleInventory(1, root)
	graphs := scaleCompile(b, cfg, hosts)
	state := root + "/.state"
	dial := func(ctx context.Context, h *inventory.Host) (inventory.Transport, error) {
		return local.New(local.Options{Name: h.Name}), nil
	}
	ctx := context.Background()
	if r := engine.Run(ctx, graphs, engine.Options{Apply: true, Dial: dial, StateDir: state}); r.Count().Failed > 0 {
		b.Fatalf("converge the recording host: %s", reportText(r))
	}
	rec := &recordingTransport{}
	r := engine.Run(ctx, graphs, engine.Options{StateDir: state, Dial: func(ctx context.Context, h *inventory.Host) (inventory.Transport, error) {
		rec.Transport = local.New(local.Options{Name: h.Name})
		return rec, nil
	}})
	if c := r.Count(); c.Failed+c.Create+c.Update+c.Delete > 0 || len(rec.stdins) != 1 {
		b.Fatalf("the recording plan is not a no-op of one execution (%d executions): %s", len(rec.stdins), reportText(r))
	}
	// The queries, by number: which of them hash a templated file.
	slotOf := map[int]int{}
	queries := strings.Split(strings.TrimSuffix(rec.stdins[0], "\n"), "\n")
	for i, q := range queries {
		typ, path, _ := strings.Cut(q, "\t")
		if rel, ok := strings.CutPrefix(path, root); ok && typ == "h" {
			if t, ok := s.templates[rel]; ok {
				slotOf[i] = t
			}
		}
	}
	rr := &recordedReply{queries: len(queries)}
	var chunk bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(rec.stdouts[0]))
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	for sc.Scan() {
		l := sc.Text()
		f := strings.SplitN(l, " ", 4)
		if len(f) == 4 && f[0] == "R" && f[2] == "sha" {
			if n, err := strconv.Atoi(f[1]); err == nil {
				if t, ok := slotOf[n]; ok {
					chunk.WriteString("R " + f[1] + " sha ")
					rr.chunks = append(rr.chunks, bytes.Clone(chunk.Bytes()))
					rr.slots = append(rr.slots, t)
					chunk.Reset()
					chunk.WriteByte('\n')
					continue
				}
			}
		}
		chunk.WriteString(l)
		chunk.WriteByte('\n')
	}
	rr.chunks = append(rr.chunks, bytes.Clone(chunk.Bytes()))
	for _, c := range rr.chunks {
		rr.size += len(c) + 64
	}
	if len(rr.slots) != len(s.templates) {
		b.Fatalf("the recorded reply hashes %d templated files, want %d", len(rr.slots), len(s.templates))
	}
	return rr
}

// recordingTransport keeps the stdin and stdout of every execution.
type recordingTransport struct {
	inventory.Transport
	stdins  []string
	stdouts [][]byte
}

func (r *recordingTransport) Run(ctx context.Context, cmd inventory.Cmd) (*inventory.Result, error) {
	var in []byte
	if cmd.Stdin != nil {
		in, _ = io.ReadAll(cmd.Stdin)
		cmd.Stdin = bytes.NewReader(in)
	}
	res, err := r.Transport.Run(ctx, cmd)
	if err == nil {
		r.stdins = append(r.stdins, string(in))
		r.stdouts = append(r.stdouts, bytes.Clone(res.Stdout))
	}
	return res, err
}

// replay answers one host's probe with the recorded reply and the sha256
// values of that host's rendered templates, computed before the timed loop
// (as the real host would have them on disk).
type replay struct {
	rec   *recordedReply
	shas  []string // by template number
	execs atomic.Int32
}

func (r *replay) Run(_ context.Context, cmd inventory.Cmd) (*inventory.Result, error) {
	r.execs.Add(1)
	if cmd.Stdin == nil {
		return nil, errors.New("replay: the command is not a probe (no stdin)")
	}
	// The queries are counted, not kept: a host reads its stdin too.
	var nl newlines
	if _, err := io.Copy(&nl, cmd.Stdin); err != nil {
		return nil, err
	}
	if int(nl) != r.rec.queries {
		return nil, fmt.Errorf("replay: the probe has %d queries, the recording %d", nl, r.rec.queries)
	}
	out := make([]byte, 0, r.rec.size)
	for i, t := range r.rec.slots {
		out = append(out, r.rec.chunks[i]...)
		out = append(out, r.shas[t]...)
	}
	out = append(out, r.rec.chunks[len(r.rec.chunks)-1]...)
	return &inventory.Result{Stdout: out}, nil
}

// newlines counts the newlines written to it.
type newlines int

func (n *newlines) Write(p []byte) (int, error) {
	*n += newlines(bytes.Count(p, []byte{'\n'}))
	return len(p), nil
}

func (r *replay) FS(context.Context) (inventory.FileSystem, error) {
	return nil, errors.New("replay: no file system (plan only)")
}

func (r *replay) Stats() inventory.Stats {
	return inventory.Stats{Connections: 1, Execs: int(r.execs.Load())}
}

func (r *replay) Close() error { return nil }

// scalePlanFixture is everything a timed plan needs: the spec, the hosts,
// the recorded reply and every host's template hashes.
type scalePlanFixture struct {
	spec  *scaleSpec
	hosts []*inventory.Host
	rec   *recordedReply
	shas  map[string][]string // by host name
	state string
}

func newScalePlanFixture(b *testing.B) *scalePlanFixture {
	b.Helper()
	root := b.TempDir()
	f := &scalePlanFixture{spec: newScaleSpec(scaleResources, scaleOwner(b)), state: root + "/.state"}
	cfg := scaleLoad(b, f.spec)
	f.rec = recordReply(b, f.spec, cfg, root)
	f.hosts = scaleInventory(scaleHosts, root)
	f.shas = make(map[string][]string, len(f.hosts))
	for i, h := range f.hosts {
		shas := make([]string, len(f.spec.templates))
		for t := range shas {
			sum := sha256.Sum256([]byte(scaleTemplate(t, h.Name, strconv.Itoa(8000+i))))
			shas[t] = hex.EncodeToString(sum[:])
		}
		f.shas[h.Name] = shas
	}
	return f
}

// dial returns the replay transport of each host.
func (f *scalePlanFixture) dial(ctx context.Context, h *inventory.Host) (inventory.Transport, error) {
	return &replay{rec: f.rec, shas: f.shas[h.Name]}, nil
}

// plan runs the engine without Apply and checks that every host was
// planned, converged, from one execution.
func (f *scalePlanFixture) plan(b *testing.B, graphs []*config.HostGraph) {
	r := engine.Run(context.Background(), graphs, engine.Options{Dial: f.dial, StateDir: f.state, Parallel: 64})
	c := r.Count()
	if len(r.Hosts) != scaleHosts || c.Failed+c.Create+c.Update+c.Delete > 0 {
		b.Fatalf("plan of %d hosts: %d failed, %d/%d/%d changes; first host:\n%s",
			len(r.Hosts), c.Failed, c.Create, c.Update, c.Delete, reportText(&report.Run{Hosts: r.Hosts[:1]}))
	}
}

// meter measures CPU time and peak resident memory over a timed loop,
// with the collector set as tend plan sets it (engine.TuneGC).
type meter struct {
	cpu0 time.Duration
}

// start resets the process's peak resident set (VmHWM, through
// /proc/self/clear_refs) and notes the CPU time so far.
func startMeter(b *testing.B) *meter {
	b.Cleanup(engine.TuneGC())
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("cannot reset the peak resident set (%v): peak-MiB includes the setup", err)
	}
	return &meter{cpu0: processCPU()}
}

// stop reports cpu-ms/op and peak-MiB.
func (m *meter) stop(b *testing.B) {
	cpu := processCPU() - m.cpu0
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(peakRSS())/(1<<20), "peak-MiB")
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS is VmHWM of /proc/self/status in bytes.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func reportText(r *report.Run) string {
	var b strings.Builder
	_ = report.Text(&b, r, report.Options{})
	return b.String()
}

// BenchmarkScaleLoad loads the spec of 100 resources (50 templates) from an
// in-memory file system.
func BenchmarkScaleLoad(b *testing.B) {
	s := newScaleSpec(scaleResources, scaleOwner(b))
	b.ReportAllocs()
	m := startMeter(b)
	b.ResetTimer()
	for range b.N {
		scaleLoad(b, s)
	}
	b.StopTimer()
	m.stop(b)
}

// BenchmarkScaleCompile builds the resource graphs of 5,000 hosts x 100
// resources: variables, 250,000 template renderings, dependencies, cycle
// checks.
func BenchmarkScaleCompile(b *testing.B) {
	s := newScaleSpec(scaleResources, scaleOwner(b))
	cfg := scaleLoad(b, s)
	hosts := scaleInventory(scaleHosts, "/srv/scale")
	b.ReportAllocs()
	m := startMeter(b)
	b.ResetTimer()
	for range b.N {
		scaleCompile(b, cfg, hosts)
	}
	b.StopTimer()
	m.stop(b)
}

// BenchmarkScaleRun plans 5,000 compiled host graphs of 100 resources from
// recorded probe replies: probe building, reply parsing, diff, report.
func BenchmarkScaleRun(b *testing.B) {
	f := newScalePlanFixture(b)
	graphs := scaleCompile(b, scaleLoad(b, f.spec), f.hosts)
	b.ReportAllocs()
	m := startMeter(b)
	b.ResetTimer()
	for range b.N {
		f.plan(b, graphs)
	}
	b.StopTimer()
	m.stop(b)
}

// BenchmarkScalePlan is a whole plan of 5,000 hosts x 100 resources from
// recorded probe replies, as `tend plan` does it: load, compile, probe
// (replayed), diff. The target of issue 7: under 5 s of CPU and 2 GiB.
func BenchmarkScalePlan(b *testing.B) {
	f := newScalePlanFixture(b)
	b.ReportAllocs()
	m := startMeter(b)
	b.ResetTimer()
	for range b.N {
		graphs := scaleCompile(b, scaleLoad(b, f.spec), f.hosts)
		f.plan(b, graphs)
	}
	b.StopTimer()
	m.stop(b)
}
