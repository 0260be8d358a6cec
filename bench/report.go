package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Result is every sample of one tool in one scenario at one size, and their
// median.
type Result struct {
	N        int      `json:"n"`
	M        int      `json:"m"`
	Tool     string   `json:"tool"`
	Scenario string   `json:"scenario"`
	Samples  []Sample `json:"samples"`
	// Median holds the median of each field over the samples.
	Median Sample `json:"median"`
	// Ratio is, for an Ansible row, Ansible's median wall time over
	// tend's in the same scenario and size; for a floor row, tend's no-op
	// wall time over the floor's. 0 when tend was not run.
	Ratio float64 `json:"ratio"`
	// Load is the machine's 1-minute load average when the tool's runs at
	// this size began: other work on the machine slows every tool down.
	Load float64 `json:"load"`
}

// Report is what a harness run writes to results.json.
type Report struct {
	Date    string            `json:"date"`
	Machine map[string]string `json:"machine"`
	Args    []string          `json:"args"`
	Results []*Result         `json:"results"`
	Targets []Target          `json:"targets"`
}

// Target is one target of issue 7 and whether the run met it.
type Target struct {
	Name   string `json:"name"`
	Met    bool   `json:"met"`
	Detail string `json:"detail"`
}

// median returns the median of each field of samples.
func median(samples []Sample) Sample {
	durs := func(f func(Sample) time.Duration) time.Duration {
		v := make([]float64, len(samples))
		for i, s := range samples {
			v[i] = float64(f(s))
		}
		return time.Duration(med(v))
	}
	nums := func(f func(Sample) float64) float64 {
		v := make([]float64, len(samples))
		for i, s := range samples {
			v[i] = f(s)
		}
		return med(v)
	}
	return Sample{
		Wall:            durs(func(s Sample) time.Duration { return s.Wall }),
		CPU:             durs(func(s Sample) time.Duration { return s.CPU }),
		Wait4CPU:        durs(func(s Sample) time.Duration { return s.Wait4CPU }),
		RemoteCPU:       durs(func(s Sample) time.Duration { return s.RemoteCPU }),
		MaxRSS:          int64(nums(func(s Sample) float64 { return float64(s.MaxRSS) })),
		TreeRSS:         int64(nums(func(s Sample) float64 { return float64(s.TreeRSS) })),
		ConnsPerHost:    nums(func(s Sample) float64 { return s.ConnsPerHost }),
		SessionsPerHost: nums(func(s Sample) float64 { return s.SessionsPerHost }),
		MaxConns:        int(nums(func(s Sample) float64 { return float64(s.MaxConns) })),
		MaxSessions:     int(nums(func(s Sample) float64 { return float64(s.MaxSessions) })),
	}
}

// loadAvg is the machine's 1-minute load average.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// med is the median of v (the mean of the two middle values for an even
// count); 0 for none.
func med(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// sortResults orders results by size, then scenario, then tool: the
// floors, tend, Ansible tuned, Ansible defaults.
func sortResults(rs []*Result) {
	order := func(list []string, v string) int {
		for i, x := range list {
			if x == v {
				return i
			}
		}
		return len(list)
	}
	scs := []string{scFloor, scConverge, scNoop, scPlan, scRepair}
	tools := []string{toolFloorGo, toolFloorOpenSSH, toolTend, toolAnsibleTuned, toolAnsibleDefaults}
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		switch {
		case a.N != b.N:
			return a.N < b.N
		case a.M != b.M:
			return a.M < b.M
		case a.Scenario != b.Scenario:
			return order(scs, a.Scenario) < order(scs, b.Scenario)
		}
		return order(tools, a.Tool) < order(tools, b.Tool)
	})
}

// find returns the result of tool in scenario at n x m, or nil.
func find(rs []*Result, n, m int, tool, sc string) *Result {
	for _, r := range rs {
		if r.N == n && r.M == m && r.Tool == tool && r.Scenario == sc {
			return r
		}
	}
	return nil
}

// computeRatios fills Result.Ratio.
func computeRatios(rs []*Result) {
	for _, r := range rs {
		r.Ratio = 0
		switch r.Scenario {
		case scFloor:
			if t := find(rs, r.N, r.M, toolTend, scNoop); t != nil && r.Median.Wall > 0 {
				r.Ratio = float64(t.Median.Wall) / float64(r.Median.Wall)
			}
		default:
			if r.Tool == toolTend {
				continue
			}
			if t := find(rs, r.N, r.M, toolTend, r.Scenario); t != nil && t.Median.Wall > 0 {
				r.Ratio = float64(r.Median.Wall) / float64(t.Median.Wall)
			}
		}
	}
}

// targets evaluates the targets of issue 7 that the harness measures (the
// engine's scale target is measured by go test -bench).
func targets(rs []*Result) []Target {
	var out []Target
	ratio := func(name string, sc string, want float64) {
		a, t := find(rs, 10, 50, toolAnsibleTuned, sc), find(rs, 10, 50, toolTend, sc)
		if a == nil || t == nil {
			out = append(out, Target{Name: name, Detail: "not measured in this run (needs tend and ansible-tuned at N=10, M=50)"})
			return
		}
		out = append(out, Target{Name: name, Met: a.Ratio >= want, Detail: fmt.Sprintf(
			"tend %s, Ansible tuned %s: %.1fx (want >= %.0fx)", fmtDur(t.Median.Wall), fmtDur(a.Median.Wall), a.Ratio, want)})
	}
	ratio("no-op re-run >= 50x faster than tuned Ansible at N=10, M=50", scNoop, 50)
	ratio("first converge >= 10x faster than tuned Ansible at N=10, M=50", scConverge, 10)

	const floorName = "no-op at N=50, M=50 within 3x the SSH floor"
	t := find(rs, 50, 50, toolTend, scNoop)
	fg, fo := find(rs, 50, 50, toolFloorGo, scFloor), find(rs, 50, 50, toolFloorOpenSSH, scFloor)
	switch {
	case t == nil || (fg == nil && fo == nil):
		out = append(out, Target{Name: floorName, Detail: "not measured in this run (needs tend and a floor at N=50, M=50)"})
	default:
		// Judged against the lower (stricter) of the two floors.
		f := fg
		if f == nil || (fo != nil && fo.Median.Wall < f.Median.Wall) {
			f = fo
		}
		out = append(out, Target{Name: floorName, Met: f.Ratio <= 3, Detail: fmt.Sprintf(
			"tend no-op %s, floor (%s, the lower one) %s: %.2fx (want <= 3x)", fmtDur(t.Median.Wall), f.Tool, fmtDur(f.Median.Wall), f.Ratio)})
	}

	// Connections and executions: every sample of tend, not just medians.
	met, worst, samples := true, "", 0
	for _, r := range rs {
		if r.Tool != toolTend {
			continue
		}
		for _, s := range r.Samples {
			samples++
			bad := s.MaxConns != 1 || s.ConnsPerHost != 1
			if r.Scenario == scNoop && s.MaxSessions > 2 {
				bad = true
			}
			if bad {
				met = false
				worst = fmt.Sprintf("; N=%d M=%d %s: %.2f conns/host (max %d), %.2f sessions/host (max %d)",
					r.N, r.M, r.Scenario, s.ConnsPerHost, s.MaxConns, s.SessionsPerHost, s.MaxSessions)
			}
		}
	}
	d := fmt.Sprintf("checked on %d tend samples (sshd logs)", samples)
	out = append(out, Target{Name: "1 SSH connection per host per run, <= 2 remote executions for a no-op", Met: met && samples > 0, Detail: d + worst})
	return out
}

// writeTable prints the results as a table.
func writeTable(w io.Writer, rs []*Result) {
	fmt.Fprintf(w, "%4s %3s  %-9s %-18s %9s %9s %9s %8s %8s %9s %8s %5s\n",
		"N", "M", "scenario", "tool", "wall", "cpu", "peak MiB", "conn/h", "sess/h", "host cpu", "ratio", "load")
	for _, r := range rs {
		s := r.Median
		ratio := ""
		if r.Ratio > 0 {
			ratio = fmt.Sprintf("%.1fx", r.Ratio)
			if r.Scenario == scFloor {
				ratio = fmt.Sprintf("%.2fx", r.Ratio)
			}
		}
		fmt.Fprintf(w, "%4d %3d  %-9s %-18s %9s %9s %9.1f %8.2f %8.2f %9s %8s %5.1f\n",
			r.N, r.M, r.Scenario, r.Tool, fmtDur(s.Wall), fmtDur(s.CPU), float64(s.Peak())/(1<<20),
			s.ConnsPerHost, s.SessionsPerHost, fmtDur(s.RemoteCPU), ratio, r.Load)
	}
}

// writeTargets prints the targets.
func writeTargets(w io.Writer, ts []Target) {
	for _, t := range ts {
		mark := "MISSED"
		if t.Met {
			mark = "met"
		}
		fmt.Fprintf(w, "  [%s] %s: %s\n", mark, t.Name, t.Detail)
	}
}

// fmtDur prints a duration in seconds with three significant digits.
func fmtDur(d time.Duration) string {
	s := d.Seconds()
	switch {
	case s >= 100:
		return fmt.Sprintf("%.0fs", s)
	case s >= 10:
		return fmt.Sprintf("%.1fs", s)
	case s >= 1:
		return fmt.Sprintf("%.2fs", s)
	default:
		return fmt.Sprintf("%.0fms", s*1000)
	}
}

// save writes results.json, results.csv and results.txt (the table) to dir.
func save(dir string, rep *Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results.json: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, "results.csv"))
	if err != nil {
		return fmt.Errorf("create results.csv: %w", err)
	}
	cw := csv.NewWriter(f)
	_ = cw.Write([]string{"n", "m", "scenario", "tool", "runs", "wall_s", "cpu_s", "max_rss_mib", "tree_rss_mib",
		"conns_per_host", "sessions_per_host", "max_conns", "max_sessions", "host_cpu_s", "ratio", "load"})
	for _, r := range rep.Results {
		s := r.Median
		_ = cw.Write([]string{strconv.Itoa(r.N), strconv.Itoa(r.M), r.Scenario, r.Tool, strconv.Itoa(len(r.Samples)),
			fmt.Sprintf("%.4f", s.Wall.Seconds()), fmt.Sprintf("%.4f", s.CPU.Seconds()),
			fmt.Sprintf("%.1f", float64(s.MaxRSS)/(1<<20)), fmt.Sprintf("%.1f", float64(s.TreeRSS)/(1<<20)),
			fmt.Sprintf("%.2f", s.ConnsPerHost), fmt.Sprintf("%.2f", s.SessionsPerHost),
			strconv.Itoa(s.MaxConns), strconv.Itoa(s.MaxSessions),
			fmt.Sprintf("%.4f", s.RemoteCPU.Seconds()), fmt.Sprintf("%.2f", r.Ratio), fmt.Sprintf("%.2f", r.Load)})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		f.Close()
		return fmt.Errorf("write results.csv: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write results.csv: %w", err)
	}
	t, err := os.Create(filepath.Join(dir, "results.txt"))
	if err != nil {
		return fmt.Errorf("create results.txt: %w", err)
	}
	fmt.Fprintf(t, "tendbench %s\n", rep.Date)
	writeTable(t, rep.Results)
	fmt.Fprintln(t, "\nTargets:")
	writeTargets(t, rep.Targets)
	return t.Close()
}
