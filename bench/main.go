package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the harness's flags.
type options struct {
	ns, ms       []int
	tendOnly     []int
	tools        map[string]bool
	runs         int
	defaultsRuns int
	work, out    string
	tend         string
	user         string
	skipFloor    bool
	plan         bool         // print the sizes and the estimate, run nothing
	ansibleN     map[int]bool // the N at which Ansible runs (nil: every N of -n)
	defaultsMax  int          // the same for ansible-defaults
}

// allTools are the tools -tools accepts; the floors run with every size
// unless -no-floor is given.
var allTools = []string{toolTend, toolAnsibleTuned, toolAnsibleDefaults}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "floor" {
		os.Exit(floorMain(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "merge" {
		os.Exit(mergeMain(os.Args[2:]))
	}
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "tendbench:", err)
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "tendbench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("tendbench", flag.ContinueOnError)
	ns := fs.String("n", "1,10,50", "numbers of hosts N, comma-separated")
	ms := fs.String("m", "10,50", "resources per host M, comma-separated")
	tendOnly := fs.String("tend-only-n", "200", "numbers of hosts run with tend (and the floors) only, with every M; empty for none")
	tools := fs.String("tools", strings.Join(allTools, ","), "tools to run: tend, ansible-tuned, ansible-defaults")
	runs := fs.Int("runs", 3, "runs of every scenario per tool and size (the median is reported)")
	defRuns := fs.Int("defaults-runs", 3, "runs for ansible-defaults, the slowest configuration")
	work := fs.String("work", "/tmp/tendbench", "work directory: sshd hosts, their target directories, generated workloads (wiped at start)")
	out := fs.String("out", "bench/results", "directory for results.json, results.csv and results.txt")
	tend := fs.String("tend", "bin/tend", "the tend binary (make build)")
	user := fs.String("user", "tendbench", "the login user of both tools on the test hosts (created if missing)")
	plan := fs.Bool("plan", false, "print the sizes, tools and estimated time, and run nothing")
	noFloor := fs.Bool("no-floor", false, "do not measure the SSH floor")
	ansibleN := fs.String("ansible-n", "", "numbers of hosts at which Ansible (both configurations) runs, comma-separated (default: every N of -n)")
	defaultsMax := fs.Int("defaults-max-nm", 0, "run ansible-defaults only at sizes with N x M <= this (0: no further limit)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	o := &options{runs: *runs, defaultsRuns: *defRuns, work: *work, out: *out, tend: *tend, user: *user, skipFloor: *noFloor, tools: map[string]bool{},
		plan: *plan, defaultsMax: *defaultsMax}
	var err error
	if o.ns, err = ints(*ns); err != nil {
		return nil, fmt.Errorf("-n: %w", err)
	}
	if o.ms, err = ints(*ms); err != nil {
		return nil, fmt.Errorf("-m: %w", err)
	}
	if *ansibleN != "" {
		ns, err := ints(*ansibleN)
		if err != nil {
			return nil, fmt.Errorf("-ansible-n: %w", err)
		}
		o.ansibleN = map[int]bool{}
		for _, n := range ns {
			o.ansibleN[n] = true
		}
	}
	if o.tendOnly, err = ints(*tendOnly); err != nil {
		return nil, fmt.Errorf("-tend-only-n: %w", err)
	}
	for _, t := range strings.Split(*tools, ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		ok := false
		for _, a := range allTools {
			ok = ok || a == t
		}
		if !ok {
			return nil, fmt.Errorf("-tools: unknown tool %q (want %s)", t, strings.Join(allTools, ", "))
		}
		o.tools[t] = true
	}
	if o.runs < 1 || o.defaultsRuns < 1 {
		return nil, errors.New("-runs and -defaults-runs must be at least 1")
	}
	for _, m := range o.ms {
		if m < 4 {
			return nil, fmt.Errorf("-m: %d is too small: a host needs at least 4 resources (a quarter are directories)", m)
		}
	}
	return o, nil
}

// ints parses a comma-separated list of positive integers.
func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// cell is one size with the tools that run at it.
type cell struct {
	n, m  int
	tools []string
}

// grid lists the sizes in the order they run: the size the targets of
// issue 7 compare tend and tuned Ansible at (N=10, M=50) first, then the
// others from the cheapest, so that an interrupted run has the most.
func (o *options) grid() []cell {
	var cells []cell
	for _, n := range o.ns {
		for _, m := range o.ms {
			var tools []string
			for _, t := range allTools {
				switch {
				case !o.tools[t]:
				case t != toolTend && o.ansibleN != nil && !o.ansibleN[n]:
				case t == toolAnsibleDefaults && o.defaultsMax > 0 && n*m > o.defaultsMax:
				default:
					tools = append(tools, t)
				}
			}
			cells = append(cells, cell{n, m, tools})
		}
	}
	if o.tools[toolTend] {
		for _, n := range o.tendOnly {
			for _, m := range o.ms {
				cells = append(cells, cell{n, m, []string{toolTend}})
			}
		}
	}
	sort.SliceStable(cells, func(i, j int) bool {
		ti, tj := cells[i].n == 10 && cells[i].m == 50, cells[j].n == 10 && cells[j].m == 50
		if ti != tj {
			return ti
		}
		return o.cellCost(cells[i]) < o.cellCost(cells[j])
	})
	return cells
}

// estimate guesses the run time of the grid.
func (o *options) estimate() time.Duration {
	var s float64
	for _, c := range o.grid() {
		s += o.cellCost(c)
	}
	return time.Duration(s * float64(time.Second))
}

// cellCost guesses the seconds one size takes, from costs measured on this
// kind of machine (2 cores, busy with other work): per invocation, a fixed
// part and a part per host and resource.
func (o *options) cellCost(c cell) float64 {
	hr := float64(c.n * c.m)
	s := 2.0 // workload generation, resets, settling
	if !o.skipFloor {
		s += 2 * float64(o.runs) * (0.5 + 0.05*float64(c.n))
	}
	for _, t := range c.tools {
		per, runs := 0.0, float64(o.runs)
		switch t {
		case toolTend:
			per = 4 * (0.5 + 0.003*hr)
		case toolAnsibleTuned:
			per = 4 * (4 + 0.5*hr)
		case toolAnsibleDefaults:
			per = 4 * (8 + 0.8*hr)
			runs = float64(o.defaultsRuns)
		}
		s += runs * per
	}
	return s
}

func run(o *options) error {
	fmt.Printf("tendbench: %d sizes, estimated %s on a busy 2-core machine (this one has %d cores):\n",
		len(o.grid()), o.estimate().Round(time.Minute), runtime.NumCPU())
	for _, c := range o.grid() {
		fmt.Printf("  N=%-3d M=%-3d %-45s ~%s\n", c.n, c.m, strings.Join(c.tools, ","),
			time.Duration(o.cellCost(c)*float64(time.Second)).Round(time.Second))
	}
	if o.plan {
		return nil
	}
	if os.Geteuid() != 0 {
		return errors.New("run as root: the harness creates the benchmark user and runs one sshd per host")
	}
	tend, err := filepath.Abs(o.tend)
	if err != nil {
		return err
	}
	if o.tools[toolTend] {
		if _, err := os.Stat(tend); err != nil {
			return fmt.Errorf("find tend at %s (%v): build it with make build", tend, err)
		}
	}
	if o.tools[toolAnsibleTuned] || o.tools[toolAnsibleDefaults] {
		if err := ensureAnsible(); err != nil {
			return err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the harness binary: %w", err)
	}
	root, err := cgroupRoot()
	if err != nil {
		return err
	}
	parent := filepath.Join(root, fmt.Sprintf("tendbench-%d", os.Getpid()))
	toolCg, err := newCgroup(parent, "tool")
	if err != nil {
		return err
	}
	hostsCg, err := newCgroup(parent, "hosts")
	if err != nil {
		toolCg.remove()
		return err
	}
	cleanup := func() {
		toolCg.remove()
		hostsCg.remove()
		_ = os.Remove(parent)
	}
	defer cleanup()
	if err := resetWork(o.work); err != nil {
		return err
	}
	f, err := newFleet(o.work, o.user, hostsCg)
	if err != nil {
		return err
	}
	defer f.stop()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		fmt.Fprintln(os.Stderr, "tendbench: interrupted, stopping the hosts")
		f.stop()
		cleanup()
		os.Exit(130)
	}()

	rep := &Report{Date: time.Now().UTC().Format(time.RFC3339), Machine: machine(tend), Args: os.Args[1:]}

	b := &bench{o: o, f: f, m: &measurer{fleet: f, cg: toolCg, env: childEnv()}, tend: tend, self: self, rep: rep}
	started := time.Now()
	for _, c := range o.grid() {
		if err := b.cell(c); err != nil {
			return err
		}
		sortResults(rep.Results)
		computeRatios(rep.Results)
		rep.Targets = targets(rep.Results)
		if err := save(o.out, rep); err != nil {
			return err
		}
	}
	fmt.Printf("\ntendbench: done in %s; results in %s\n\n", time.Since(started).Round(time.Second), o.out)
	writeTable(os.Stdout, rep.Results)
	fmt.Println("\nTargets:")
	writeTargets(os.Stdout, rep.Targets)
	return nil
}

// resetWork empties the work directory; it refuses a non-empty directory
// the harness did not make.
func resetWork(dir string) error {
	marker := filepath.Join(dir, ".tendbench")
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		if _, err := os.Stat(marker); err != nil {
			return fmt.Errorf("work directory %s is not empty and not the harness's (no .tendbench file): choose another with -work", dir)
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("empty %s: %w", dir, err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return os.WriteFile(marker, nil, 0o644)
}

// ensureAnsible installs Debian's ansible-core when ansible-playbook is
// missing.
func ensureAnsible() error {
	if _, err := os.Stat("/usr/bin/ansible-playbook"); err == nil {
		return nil
	}
	fmt.Println("tendbench: ansible-playbook is missing: apt-get install -y ansible-core")
	cmd := exec.Command("apt-get", "install", "-y", "ansible-core")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("install ansible-core (apt-get install -y ansible-core): %w", err)
	}
	return nil
}

// machine describes the machine and the tools' versions.
func machine(tend string) map[string]string {
	out := func(name string, args ...string) string {
		b, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			return "unknown"
		}
		return strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
	}
	m := map[string]string{
		"nproc":  strconv.Itoa(runtime.NumCPU()),
		"kernel": out("uname", "-r"),
		"go":     runtime.Version(),
		"tend":   out(tend, "version"),
		"ssh":    out("ssh", "-V"),
	}
	if _, err := os.Stat("/usr/bin/ansible-playbook"); err == nil {
		m["ansible"] = out("/usr/bin/ansible-playbook", "--version")
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		m["memory"] = strings.Join(strings.Fields(strings.SplitN(string(b), "\n", 2)[0])[1:], " ")
	}
	if b, err := os.ReadFile("/etc/debian_version"); err == nil {
		m["debian"] = strings.TrimSpace(string(b))
	}
	return m
}
