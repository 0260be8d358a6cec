package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// The scenarios every tool runs, in this order, once per run.
const (
	scConverge = "converge" // first converge of empty hosts
	scNoop     = "noop"     // the same run again: nothing to do
	scPlan     = "plan"     // dry run with diff after one file per host was edited by hand
	scRepair   = "repair"   // converge that edit back
	scFloor    = "floor"    // one SSH connection per host running true
)

// The tools.
const (
	toolTend            = "tend"
	toolAnsibleTuned    = "ansible-tuned"
	toolAnsibleDefaults = "ansible-defaults"
	toolFloorGo         = "ssh-floor-go"
	toolFloorOpenSSH    = "ssh-floor-openssh"
)

// size is one cell of the benchmark grid, with its generated files.
type size struct {
	n, m    int
	dir     string
	w       *workload
	hosts   []*host
	spec    string // tend's spec directory
	inv     string // tend's inventory
	ansible string // the Ansible directory: playbooks, inventory, configs
}

// tool knows how to run one scenario and check that it did the work.
type tool interface {
	// argv returns the command of scenario sc and its extra environment.
	argv(sc string) (argv, env []string)
	// check reports whether the outcome of sc is what the scenario must
	// produce (the changes counted by the tool's own report).
	check(sc string, o *outcome) error
}

// tendTool runs bin/tend.
type tendTool struct {
	bin   string
	state string
	s     *size
}

func (t *tendTool) argv(sc string) ([]string, []string) {
	verb := "apply"
	if sc == scPlan {
		verb = "plan"
	}
	return []string{t.bin, verb, t.s.spec, "-i", t.s.inv, "--state-dir", t.state,
		"--parallel", strconv.Itoa(t.s.n), "-o", "json", "--no-color"}, nil
}

// tendReport is the part of tend's JSON report the harness checks.
type tendReport struct {
	Summary struct {
		Hosts, Create, Update, Delete, Failed int
	} `json:"summary"`
	Hosts []struct {
		Name      string `json:"name"`
		Error     string `json:"error"`
		Resources []struct {
			Content *struct {
				Diff *string `json:"diff"`
			} `json:"content"`
		} `json:"resources"`
	} `json:"hosts"`
}

func (t *tendTool) check(sc string, o *outcome) error {
	var r tendReport
	if err := json.Unmarshal([]byte(o.stdout), &r); err != nil {
		return fmt.Errorf("tend %s: exit %d, read JSON report: %w\n%s", sc, o.exit, err, tail(o.stderr+o.stdout))
	}
	if o.exit != 0 {
		var failed []string
		for _, h := range r.Hosts {
			if h.Error != "" {
				failed = append(failed, h.Name+": "+h.Error)
			}
		}
		return fmt.Errorf("tend %s: exit %d; %d hosts failed: %s\n%s", sc, o.exit, len(failed), strings.Join(failed, "; "), tail(o.stderr))
	}
	n, m := t.s.n, t.s.m
	s := r.Summary
	if s.Hosts != n || s.Failed != 0 {
		return fmt.Errorf("tend %s: %d hosts, %d failed; want %d, 0", sc, s.Hosts, s.Failed, n)
	}
	want := [3]int{}
	switch sc {
	case scConverge:
		want[0] = n * m
	case scPlan, scRepair:
		want[1] = n
	}
	if got := [3]int{s.Create, s.Update, s.Delete}; got != want {
		return fmt.Errorf("tend %s: create/update/delete = %v, want %v", sc, got, want)
	}
	if sc == scPlan {
		for _, h := range r.Hosts {
			diffs := 0
			for _, res := range h.Resources {
				if res.Content != nil && res.Content.Diff != nil && strings.Contains(*res.Content.Diff, "-"+strings.TrimSpace(driftContent)) {
					diffs++
				}
			}
			if diffs != 1 {
				return fmt.Errorf("tend plan: host %s shows %d diffs of the hand edit, want 1", h.Name, diffs)
			}
		}
	}
	return nil
}

// ansibleTool runs ansible-playbook in one configuration.
type ansibleTool struct {
	tuned bool
	s     *size
	cp    string // the parent of the per-invocation ControlPath directories
	count int
}

// writeConfigs writes the two ansible.cfg files of a size. The defaults
// configuration sets nothing: Ansible's defaults are forks = 5, fact
// gathering, no pipelining, and ssh_args "-C -o ControlMaster=auto -o
// ControlPersist=60s". The tuned one is what a user tuning for speed
// writes.
func writeConfigs(dir string, n int) error {
	files := map[string]string{
		"ansible-defaults.cfg": "# tendbench: Ansible's defaults (nothing set)\n[defaults]\n",
		"ansible-tuned.cfg": fmt.Sprintf(`# tendbench: Ansible tuned for speed
[defaults]
forks = %d
gathering = explicit
interpreter_python = /usr/bin/python3
[ssh_connection]
pipelining = True
ssh_args = -o ControlMaster=auto -o ControlPersist=60s
`, n),
	}
	return writeTree(dir, files)
}

func (a *ansibleTool) name() string {
	if a.tuned {
		return "tuned"
	}
	return "defaults"
}

func (a *ansibleTool) argv(sc string) ([]string, []string) {
	// A fresh ControlPath directory per invocation: every run starts
	// without a master connection, as the first run of the day does.
	a.count++
	cp := filepath.Join(a.cp, strconv.Itoa(a.count))
	_ = os.MkdirAll(cp, 0o700)
	args := []string{"/usr/bin/ansible-playbook", "-i", filepath.Join(a.s.ansible, "inventory.ini"),
		filepath.Join(a.s.ansible, "site-"+a.name()+".yml")}
	if sc == scPlan {
		args = append(args, "--check", "--diff")
	}
	env := []string{
		"ANSIBLE_CONFIG=" + filepath.Join(a.s.ansible, "ansible-"+a.name()+".cfg"),
		"ANSIBLE_SSH_CONTROL_PATH_DIR=" + cp,
		"ANSIBLE_NOCOLOR=1",
	}
	return args, env
}

// recapLine is one host's line of Ansible's PLAY RECAP.
var recapLine = regexp.MustCompile(`(?m)^(h\d+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)`)

func (a *ansibleTool) check(sc string, o *outcome) error {
	if o.exit != 0 {
		return fmt.Errorf("ansible %s %s: exit %d\n%s", a.name(), sc, o.exit, tail(o.stdout+o.stderr))
	}
	tasks := 2
	if len(a.s.w.copies) > 0 {
		tasks = 3
	}
	want := map[string]int{scConverge: tasks, scNoop: 0, scPlan: 1, scRepair: 1}[sc]
	lines := recapLine.FindAllStringSubmatch(o.stdout, -1)
	if len(lines) != a.s.n {
		return fmt.Errorf("ansible %s %s: %d hosts in the recap, want %d\n%s", a.name(), sc, len(lines), a.s.n, tail(o.stdout))
	}
	for _, l := range lines {
		changed, _ := strconv.Atoi(l[3])
		if l[4] != "0" || l[5] != "0" || changed != want {
			return fmt.Errorf("ansible %s %s: %s changed=%d unreachable=%s failed=%s, want changed=%d\n%s", a.name(), sc, l[1], changed, l[4], l[5], want, tail(o.stdout))
		}
	}
	if sc == scPlan && strings.Count(o.stdout, "-"+strings.TrimSpace(driftContent)) != a.s.n {
		return fmt.Errorf("ansible %s plan: the diff of the hand edit is not shown once per host\n%s", a.name(), tail(o.stdout))
	}
	return nil
}

// floorTool opens one SSH connection to every host at once and runs true:
// with Go's SSH client in one process (the harness itself, "floor"
// subcommand), or with one OpenSSH client process per host.
type floorTool struct {
	openssh bool
	self    string
	f       *fleet
	s       *size
}

func (t *floorTool) argv(string) ([]string, []string) {
	if !t.openssh {
		args := []string{t.self, "floor", t.f.keyFile, t.f.knownHosts, t.f.user}
		for _, h := range t.s.hosts {
			args = append(args, strconv.Itoa(h.port))
		}
		return args, nil
	}
	var b strings.Builder
	for _, h := range t.s.hosts {
		fmt.Fprintf(&b, "ssh -i %s -o UserKnownHostsFile=%s -o GlobalKnownHostsFile=/dev/null -o BatchMode=yes -p %d %s@127.0.0.1 true & ",
			t.f.keyFile, t.f.knownHosts, h.port, t.f.user)
	}
	b.WriteString("wait")
	return []string{"/bin/sh", "-c", b.String()}, nil
}

func (t *floorTool) check(_ string, o *outcome) error {
	if o.exit != 0 {
		return fmt.Errorf("floor: exit %d\n%s", o.exit, tail(o.stderr+o.stdout))
	}
	if o.sample.MaxConns != 1 || o.sample.ConnsPerHost != 1 {
		return fmt.Errorf("floor: %.2f connections per host (max %d), want 1", o.sample.ConnsPerHost, o.sample.MaxConns)
	}
	return nil
}

// tail is the end of a long output, for error messages.
func tail(s string) string {
	const keep = 3000
	if len(s) > keep {
		return "..." + s[len(s)-keep:]
	}
	return s
}
