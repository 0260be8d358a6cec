package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// bench is one harness run: the options, the hosts and the results so far.
type bench struct {
	o    *options
	f    *fleet
	m    *measurer
	tend string // absolute path of bin/tend
	self string // the harness binary, for the floor subcommand
	rep  *Report
}

// scenarios is the order of one run of a tool.
var scenarios = []string{scConverge, scNoop, scPlan, scRepair}

// cell runs every tool of one size.
func (b *bench) cell(c cell) error {
	if err := b.f.ensure(c.n); err != nil {
		return err
	}
	s := &size{n: c.n, m: c.m, hosts: b.f.hosts[:c.n], w: newWorkload(c.m, b.f.user)}
	s.dir = filepath.Join(b.o.work, "workloads", fmt.Sprintf("n%d-m%d", c.n, c.m))
	var err error
	if s.spec, s.inv, err = s.w.writeTend(filepath.Join(s.dir, "tend"), b.f, s.hosts); err != nil {
		return err
	}
	s.ansible = filepath.Join(s.dir, "ansible")
	if err := s.w.writeAnsible(s.ansible, b.f, s.hosts); err != nil {
		return err
	}
	if err := writeConfigs(s.ansible, c.n); err != nil {
		return err
	}
	fmt.Printf("\n== N=%d hosts, M=%d resources per host: %v\n", c.n, c.m, c.tools)

	if !b.o.skipFloor {
		for _, name := range []string{toolFloorGo, toolFloorOpenSSH} {
			ft := &floorTool{openssh: name == toolFloorOpenSSH, self: b.self, f: b.f, s: s}
			r := &Result{N: c.n, M: c.m, Tool: name, Scenario: scFloor, Load: loadAvg()}
			for range b.o.runs {
				o, err := b.invoke(s, ft, scFloor)
				if err != nil {
					return err
				}
				r.Samples = append(r.Samples, o.sample)
			}
			b.add(r)
		}
	}
	for _, name := range c.tools {
		var t tool
		runs := b.o.runs
		switch name {
		case toolTend:
			t = &tendTool{bin: b.tend, state: b.f.stateDir(), s: s}
		case toolAnsibleTuned:
			t = &ansibleTool{tuned: true, s: s, cp: filepath.Join(s.dir, "cp-tuned")}
		case toolAnsibleDefaults:
			t = &ansibleTool{s: s, cp: filepath.Join(s.dir, "cp-defaults")}
			runs = b.o.defaultsRuns
		}
		results := map[string]*Result{}
		load := loadAvg()
		for _, sc := range scenarios {
			results[sc] = &Result{N: c.n, M: c.m, Tool: name, Scenario: sc, Load: load}
		}
		for range runs {
			if err := b.reset(s); err != nil {
				return err
			}
			for _, sc := range scenarios {
				if sc == scPlan {
					if err := b.drift(s); err != nil {
						return err
					}
				}
				o, err := b.invoke(s, t, sc)
				if err != nil {
					return err
				}
				if sc == scConverge || sc == scRepair {
					for _, h := range s.hosts {
						if err := s.w.verify(h, b.f.uid); err != nil {
							return fmt.Errorf("%s %s at N=%d M=%d left a host in the wrong state: %w", name, sc, c.n, c.m, err)
						}
					}
				}
				results[sc].Samples = append(results[sc].Samples, o.sample)
			}
		}
		for _, sc := range scenarios {
			b.add(results[sc])
		}
	}
	return nil
}

// invoke runs one scenario of a tool, checks its outcome and prints a line.
func (b *bench) invoke(s *size, t tool, sc string) (*outcome, error) {
	argv, env := t.argv(sc)
	o, err := b.m.run(s.n, argv, env)
	if err != nil {
		return nil, err
	}
	if err := t.check(sc, o); err != nil {
		return nil, fmt.Errorf("N=%d M=%d: %w", s.n, s.m, err)
	}
	x := o.sample
	fmt.Printf("   %-18s %-9s wall %8s  cpu %8s  peak %6.1f MiB  %.2f conn/host  %.2f sessions/host\n",
		toolName(t), sc, fmtDur(x.Wall), fmtDur(x.CPU), float64(x.Peak())/(1<<20), x.ConnsPerHost, x.SessionsPerHost)
	return o, nil
}

// toolName names a tool for progress lines.
func toolName(t tool) string {
	switch t := t.(type) {
	case *tendTool:
		return toolTend
	case *ansibleTool:
		return "ansible-" + t.name()
	case *floorTool:
		if t.openssh {
			return toolFloorOpenSSH
		}
		return toolFloorGo
	}
	return "?"
}

// add records a finished result with its medians.
func (b *bench) add(r *Result) {
	r.Median = median(r.Samples)
	b.rep.Results = append(b.rep.Results, r)
}

// reset empties the hosts' target directories and tend's state directory,
// so that every run starts from hosts that were never converged.
func (b *bench) reset(s *size) error {
	for _, h := range s.hosts {
		if err := os.RemoveAll(h.root); err != nil {
			return fmt.Errorf("reset %s: %w", h.root, err)
		}
	}
	entries, err := os.ReadDir(b.f.stateDir())
	if err != nil {
		return fmt.Errorf("reset %s: %w", b.f.stateDir(), err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(b.f.stateDir(), e.Name())); err != nil {
			return fmt.Errorf("reset %s: %w", b.f.stateDir(), err)
		}
	}
	// Let the page cache and the sshd hosts settle between runs.
	time.Sleep(100 * time.Millisecond)
	return nil
}

// drift edits one file per host by hand (a write in place: owner and mode
// stay).
func (b *bench) drift(s *size) error {
	for _, h := range s.hosts {
		p := h.root + s.w.driftFile()
		if err := os.WriteFile(p, []byte(driftContent), 0o644); err != nil {
			return fmt.Errorf("edit %s by hand: %w", p, err)
		}
	}
	return nil
}
