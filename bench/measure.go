package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Sample is what one invocation of a tool cost.
type Sample struct {
	// Wall is the elapsed time from start to exit.
	Wall time.Duration `json:"wall_ns"`
	// CPU is user + system time of the tool's whole process tree on the
	// control side, counted by its cgroup: every descendant, the
	// daemonized ones (OpenSSH ControlPersist masters) included.
	CPU time.Duration `json:"cpu_ns"`
	// Wait4CPU is the same as wait4's rusage sees it: the process and the
	// descendants that were waited for. It is lower than CPU when a tool
	// leaves processes behind.
	Wait4CPU time.Duration `json:"wait4_cpu_ns"`
	// MaxRSS is the largest resident set of any single process of the tree
	// (ru_maxrss), in bytes.
	MaxRSS int64 `json:"max_rss_bytes"`
	// TreeRSS is the peak of the summed resident sets of the processes of
	// the tool's cgroup, sampled every 20 ms (0 when the run was shorter
	// than a sample), in bytes.
	TreeRSS int64 `json:"tree_rss_bytes"`
	// ConnsPerHost and SessionsPerHost are the mean counts over the hosts
	// of the run, read from the sshd logs; MaxConns and MaxSessions are
	// the largest of one host.
	ConnsPerHost    float64 `json:"conns_per_host"`
	SessionsPerHost float64 `json:"sessions_per_host"`
	MaxConns        int     `json:"max_conns"`
	MaxSessions     int     `json:"max_sessions"`
	// RemoteCPU is the CPU time the sshd hosts spent serving the run
	// (their cgroup): sshd, the login shells and everything they ran.
	RemoteCPU time.Duration `json:"remote_cpu_ns"`
}

// Peak is the larger of the two memory figures.
func (s Sample) Peak() int64 { return max(s.MaxRSS, s.TreeRSS) }

// outcome is a finished invocation: its cost and its output.
type outcome struct {
	sample         Sample
	stdout, stderr string
	exit           int
}

// measurer runs tools one at a time and measures them.
type measurer struct {
	fleet *fleet
	cg    *cgroup // the tools run in it
	env   []string
}

// childEnv is the environment of every tool: a plain PATH (no pyenv shims)
// and the harness's HOME.
func childEnv() []string {
	home := os.Getenv("HOME")
	if home == "" {
		home = "/root"
	}
	return []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + home,
		"LANG=C.UTF-8",
		"TERM=dumb",
	}
}

// run executes argv with the extra environment and measures it against the
// first n hosts of the fleet.
func (m *measurer) run(n int, argv []string, extraEnv []string) (*outcome, error) {
	hosts := m.fleet.hosts[:n]
	before := make([]sshdCounts, n)
	for i, h := range hosts {
		before[i] = h.counts()
	}
	if left := m.cg.empty(); left > 0 {
		return nil, fmt.Errorf("the tools' cgroup %s still held %d processes before %s", m.cg.dir, left, argv[0])
	}
	cpu0, remote0 := m.cg.cpu(), m.fleet.cg.cpu()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: m.cg.fd}
	cmd.Env = append(append([]string{}, m.env...), extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr

	var peak int64
	stopSampling := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-t.C:
				if rss := m.cg.rss(); rss > peak {
					peak = rss
				}
			}
		}
	}()
	waitErr := cmd.Wait()
	wall := time.Since(start)
	close(stopSampling)
	wg.Wait()
	o := &outcome{stdout: stdout.String(), stderr: stderr.String()}
	if waitErr != nil {
		if ee, ok := waitErr.(*exec.ExitError); ok {
			o.exit = ee.ExitCode()
		} else {
			return nil, fmt.Errorf("wait for %s: %w", argv[0], waitErr)
		}
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	s := Sample{Wall: wall, Wait4CPU: rusageCPU(ru), MaxRSS: ru.Maxrss * 1024, TreeRSS: peak}
	// What the tool left running (ControlPersist masters) ends with the
	// invocation: a cold start for the next one, and its CPU counted.
	m.cg.empty()
	m.settle(hosts)
	s.CPU = m.cg.cpu() - cpu0
	s.RemoteCPU = m.fleet.cg.cpu() - remote0
	conns, sessions := 0, 0
	for i, h := range hosts {
		after := h.counts()
		c, ss := after.conns-before[i].conns, after.sessions-before[i].sessions
		conns += c
		sessions += ss
		s.MaxConns = max(s.MaxConns, c)
		s.MaxSessions = max(s.MaxSessions, ss)
	}
	s.ConnsPerHost = float64(conns) / float64(n)
	s.SessionsPerHost = float64(sessions) / float64(n)
	o.sample = s
	return o, nil
}

// settle waits until every host's connections have ended (no process left
// under its sshd listener) and its log stopped growing, for at most 5
// seconds: sshd writes its log lines and is charged the CPU of a
// connection as that connection ends.
func (m *measurer) settle(hosts []*host) {
	deadline := time.Now().Add(5 * time.Second)
	last := int64(-1)
	for time.Now().Before(deadline) {
		parents := map[int]bool{}
		for _, st := range allStats() {
			parents[st.ppid] = true
		}
		busy := false
		var size int64
		for _, h := range hosts {
			if h.cmd != nil && parents[h.cmd.Process.Pid] {
				busy = true
				break
			}
			if fi, err := os.Stat(h.logFile); err == nil {
				size += fi.Size()
			}
		}
		if !busy && size == last {
			return
		}
		last = size
		time.Sleep(30 * time.Millisecond)
	}
}
