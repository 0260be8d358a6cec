package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procStat is the part of /proc/PID/stat the harness reads.
type procStat struct {
	pid, ppid int
	state     string
}

// readStat parses /proc/PID/stat. The command name may hold spaces and
// parentheses, so fields are counted from the last ')'.
func readStat(path string) (procStat, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return procStat{}, false
	}
	s := string(b)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return procStat{}, false
	}
	var st procStat
	st.pid, err = strconv.Atoi(strings.TrimSpace(s[:open]))
	if err != nil {
		return procStat{}, false
	}
	f := strings.Fields(s[closing+1:])
	if len(f) < 2 {
		return procStat{}, false
	}
	st.state = f[0]
	st.ppid, err = strconv.Atoi(f[1])
	if err != nil {
		return procStat{}, false
	}
	return st, true
}

// allStats reads the stat of every process of the machine.
func allStats() []procStat {
	files, _ := filepath.Glob("/proc/[0-9]*/stat")
	out := make([]procStat, 0, len(files))
	for _, f := range files {
		if st, ok := readStat(f); ok {
			out = append(out, st)
		}
	}
	return out
}

// descendants lists the live children of pid, their children and so on.
func descendants(pid int) []int {
	children := map[int][]int{}
	for _, st := range allStats() {
		if st.state != "Z" {
			children[st.ppid] = append(children[st.ppid], st.pid)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// rusageCPU is user + system time of a rusage.
func rusageCPU(ru *syscall.Rusage) time.Duration {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
