package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tendhq/tend/agent"
	"github.com/tendhq/tend/deploy/systemd"
)

// installFlags are the flags of install-agent.
type installFlags struct {
	config  string
	unitDir string
	binary  string
	host    string
	dryRun  bool
	noStart bool
}

// installStep is one thing install-agent does; say is printed before it is
// done (or instead, with --dry-run).
type installStep struct {
	say string
	do  func() error
}

// newInstallAgent is `tend install-agent`: pull mode set up on this host.
func newInstallAgent() *cobra.Command {
	f := &installFlags{}
	cmd := &cobra.Command{
		Use:   "install-agent",
		Short: "Set this host up for pull mode: a systemd unit that runs tend agent --local",
		Long: `Set this host up to converge itself (pull mode): write the systemd unit
tend-agent.service, which runs this binary as ` + "`tend agent --local`" + ` with the
configuration file, reload systemd, enable the unit and, when the
configuration is valid, (re)start it.

When the configuration file does not exist, a starter one is written (mode
0600) whose source block is commented out: the agent is then enabled but not
started, and the command says what to do next. The unit runs the binary
where it is now: install it first (/usr/local/bin/tend, or the .deb, whose
own unit this is). Running it again after an upgrade rewrites the unit and
restarts the agent. --dry-run prints the steps and changes nothing.`,
		Example: `  tend install-agent --dry-run
  sudo tend install-agent
  sudo tend install-agent --config /etc/tend/agent.hcl --host web-1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			steps, err := f.plan()
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			return runInstall(cmd.OutOrStdout(), steps, f.dryRun)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.config, "config", "c", systemd.DefaultConfig, "the agent's configuration file; a starter one is written when it does not exist")
	fl.StringVar(&f.unitDir, "unit-dir", "/etc/systemd/system", "where the unit file is written")
	fl.StringVar(&f.binary, "binary", "", "the tend binary the unit runs (default: this one)")
	fl.StringVar(&f.host, "host", "", "this machine's name in the inventory (default: its host name)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print what would be done and do nothing")
	fl.BoolVar(&f.noStart, "no-start", false, "write and enable the unit, but do not start it")
	return cmd
}

// plan lists the steps: the starter configuration when there is none, the
// unit, systemd reloaded, the unit enabled and, when the configuration is
// valid, (re)started.
func (f *installFlags) plan() ([]installStep, error) {
	bin := f.binary
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find the tend binary (give --binary PATH): %w", err)
		}
		if bin, err = filepath.EvalSymlinks(exe); err != nil {
			return nil, fmt.Errorf("resolve the tend binary %s: %w", exe, err)
		}
	}
	cfgPath, err := filepath.Abs(f.config)
	if err != nil {
		return nil, fmt.Errorf("resolve --config %s: %w", f.config, err)
	}
	unit, err := renderUnit(bin, cfgPath, f.host)
	if err != nil {
		return nil, err
	}
	unitPath := filepath.Join(f.unitDir, systemd.UnitName)
	var steps []installStep
	_, statErr := os.Stat(cfgPath)
	haveConfig := statErr == nil
	if !haveConfig {
		steps = append(steps, installStep{
			say: fmt.Sprintf("write a starter configuration to %s (its source block is commented out: fill it in)", cfgPath),
			do:  func() error { return writeFileAtomic(cfgPath, systemd.StarterConfig, 0o600) },
		})
	}
	steps = append(steps,
		installStep{
			say: fmt.Sprintf("write the unit %s (ExecStart=%s)", unitPath, execStart(unit)),
			do:  func() error { return writeFileAtomic(unitPath, unit, 0o644) },
		},
		systemctlStep("daemon-reload"),
		systemctlStep("enable", systemd.UnitName),
	)
	switch {
	case f.noStart:
	case haveConfig && configValid(cfgPath):
		// restart, not start: a new binary or unit takes effect.
		steps = append(steps, systemctlStep("restart", systemd.UnitName))
	default:
		steps = append(steps, installStep{
			say: fmt.Sprintf("not start the agent: %s is not valid yet; fill it in, check it with `%s agent --check -c %s`, then run `systemctl start %s`",
				cfgPath, bin, cfgPath, systemd.UnitName),
		})
	}
	return steps, nil
}

// runInstall prints each step and, unless dryRun, does it; it stops at the
// first failure.
func runInstall(w io.Writer, steps []installStep, dryRun bool) error {
	if dryRun {
		fmt.Fprintln(w, "Would (dry run, nothing is changed):")
	}
	for _, s := range steps {
		fmt.Fprintf(w, "- %s\n", s.say)
		if dryRun || s.do == nil {
			continue
		}
		if err := s.do(); err != nil {
			return &exitError{code: 1, err: err}
		}
	}
	return nil
}

// renderUnit returns the shipped unit with bin and cfg in place of
// /usr/bin/tend and /etc/tend/agent.hcl, and --host NAME added to the
// agent's command line when host is set.
func renderUnit(bin, cfg, host string) (string, error) {
	for _, p := range []struct{ flag, v string }{{"--binary", bin}, {"--config", cfg}, {"--host", host}} {
		if strings.ContainsAny(p.v, " \t\n\"'\\$%;") {
			return "", fmt.Errorf("%s %q: white space, quotes and the characters \\$%%; are not allowed in a unit's command line", p.flag, p.v)
		}
	}
	var out []string
	for _, line := range strings.SplitAfter(systemd.Unit, "\n") {
		if strings.HasPrefix(line, "ExecStart") {
			line = strings.Replace(line, systemd.DefaultBinary+" ", bin+" ", 1)
			if host != "" && strings.HasPrefix(line, "ExecStart=") {
				line = strings.Replace(line, " --local ", " --local --host "+host+" ", 1)
			}
		}
		out = append(out, strings.ReplaceAll(line, systemd.DefaultConfig, cfg))
	}
	return strings.Join(out, ""), nil
}

// execStart returns the agent's command line in unit.
func execStart(unit string) string {
	for _, line := range strings.Split(unit, "\n") {
		if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
			return v
		}
	}
	return ""
}

// configValid reports whether agent.hcl at path loads without errors.
func configValid(path string) bool {
	_, _, diags := agent.LoadConfig(path)
	return !diags.HasErrors()
}

// systemctlStep runs systemctl with args.
func systemctlStep(args ...string) installStep {
	return installStep{
		say: "systemctl " + strings.Join(args, " "),
		do: func() error {
			out, err := exec.Command("systemctl", args...).CombinedOutput()
			if err != nil {
				return fmt.Errorf("systemctl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
			}
			return nil
		},
	}
}

// writeFileAtomic writes content to path through a temporary file in the same
// directory (made if missing) and a rename, so that nothing half-written
// is ever seen there.
func writeFileAtomic(path, content string, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create directory %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	_, err = tmp.WriteString(content)
	if err == nil {
		err = tmp.Chmod(perm)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
