package resources

import (
	"context"
	"fmt"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/hcl/v2"
	"go.uber.org/zap"

	"github.com/tendhq/tend/inventory"
)

func init() {
	Register(&Kind{
		Name: "exec",
		Attributes: []hcl.AttributeSchema{
			{Name: "command"},
			{Name: "creates"},
			{Name: "unless"},
			{Name: "only_if"},
			{Name: "cwd"},
			{Name: "environment"},
			{Name: "user"},
			{Name: "timeout"},
			{Name: "refresh_only"},
		},
		New: newExec,
	})
}

// Exec runs a command (an argv, never a shell string) when its guards say
// so:
//
//   - creates = "/path": run only while the path does not exist;
//   - unless = [argv]: run only when this command exits non-zero;
//   - only_if = [argv]: run only when this command exits 0;
//   - no guard: run on every apply (the plan says so);
//   - refresh_only = true: run only when notified.
//
// The guards are evaluated by the probe itself (no extra remote execution),
// with the same cwd (default /), environment, user and timeout as the
// command; a guard whose cwd does not exist yet is evaluated again just
// before the command would run. All guards must agree to run. The command
// runs through a fixed sh script that changes to cwd and applies timeout(1)
// (default 5m; guards get at most 1m); user runs it through runuser(1).
type Exec struct {
	addr        Addr
	command     []string
	creates     string
	unless      []string
	onlyIf      []string
	cwd         string
	envKeys     []string
	env         map[string]string
	user        string
	timeout     time.Duration
	refreshOnly bool
	sensitive   bool

	// ran is set once the command ran in this run: a command without
	// guards cannot be verified by probing again, and a notified one does
	// not run twice.
	ran atomic.Bool
}

var (
	_ Resource   = (*Exec)(nil)
	_ Notifiable = (*Exec)(nil)
)

// maxGuardTimeout bounds how long the probe waits for one guard.
const maxGuardTimeout = time.Minute

func newExec(b *Block) (Resource, hcl.Diagnostics) {
	d := &decoder{b: b}
	r := &Exec{addr: b.Addr}
	var set bool
	r.command, set = d.strList("command")
	if !set || len(r.command) == 0 || (len(r.command) > 0 && r.command[0] == "") {
		d.errorf(d.rangeOf("command"), "Missing command",
			"An exec needs command = [\"program\", \"arg\", ...], with the program first.")
	} else if strings.Contains(r.command[0], "=") {
		d.errorf(d.rangeOf("command"), "Invalid command", "The program %q must not contain \"=\".", r.command[0])
	}
	guard := func(name string) []string {
		argv, set := d.strList(name)
		if !set {
			return nil
		}
		ok := len(argv) > 0 && argv[0] != "" && !strings.Contains(argv[0], "=")
		for _, a := range argv {
			ok = ok && ValidArg(a)
		}
		if !ok {
			d.errorf(d.rangeOf(name), "Invalid "+name,
				"%s takes an argv with the program first, without newlines, such as [\"test\", \"-e\", \"/srv/done\"].", name)
		}
		return argv
	}
	r.unless = guard("unless")
	r.onlyIf = guard("only_if")
	if d.has("creates") {
		r.creates = d.str("creates", "")
		if !strings.HasPrefix(r.creates, "/") || !ValidArg(r.creates) || path.Clean(r.creates) != r.creates {
			d.errorf(d.rangeOf("creates"), "Invalid creates", "creates %q must be a clean absolute path.", r.creates)
		}
	}
	r.cwd = d.str("cwd", "")
	if d.has("cwd") && (!strings.HasPrefix(r.cwd, "/") || !ValidArg(r.cwd)) {
		d.errorf(d.rangeOf("cwd"), "Invalid cwd", "cwd %q must be an absolute path.", r.cwd)
	}
	r.envKeys, r.env = d.strMap("environment")
	for _, k := range r.envKeys {
		if !validChars(k, "_") || (k[0] >= '0' && k[0] <= '9') || !ValidArg(r.env[k]) {
			d.errorf(d.rangeOf("environment"), "Invalid environment",
				"%q is not a variable name with a value on one line.", k)
		}
	}
	if d.has("user") {
		r.user = d.str("user", "")
		if !validAccountName(r.user) {
			d.errorf(d.rangeOf("user"), "Invalid user", "%q is not a valid user name.", r.user)
		}
	}
	r.timeout = d.duration("timeout", 5*time.Minute)
	r.refreshOnly = d.boolean("refresh_only", false)
	r.sensitive = d.sensitive("command") || d.sensitive("environment")
	return r, d.diags
}

// Addr returns exec[name].
func (r *Exec) Addr() Addr { return r.addr }

// wrap returns argv as it runs: through runuser for user, through env(1)
// for environment.
func (r *Exec) wrap(argv []string) []string {
	var out []string
	if r.user != "" {
		out = append(out, "runuser", "-u", r.user, "--")
	}
	if len(r.envKeys) > 0 {
		out = append(out, "env")
		for _, k := range r.envKeys {
			out = append(out, k+"="+r.env[k])
		}
	}
	return append(out, argv...)
}

// guard returns the probe query of a guard argv.
func (r *Exec) guard(argv []string) Guard {
	return Guard{Argv: r.wrap(argv), Cwd: r.cwd, Timeout: min(r.timeout, maxGuardTimeout)}
}

// hasGuards reports whether any guard is set.
func (r *Exec) hasGuards() bool { return r.creates != "" || r.unless != nil || r.onlyIf != nil }

// Observe asks for the creates path and the exit status of the guards
// (none for refresh_only: those are checked when notified).
func (r *Exec) Observe(p *Probe) {
	if r.refreshOnly {
		return
	}
	if r.creates != "" {
		p.Path(r.creates, false)
	}
	if r.unless != nil {
		p.Command(r.guard(r.unless))
	}
	if r.onlyIf != nil {
		p.Command(r.guard(r.onlyIf))
	}
}

// verdict is what the guards say.
type verdict struct {
	run      bool
	reasons  []string // why it runs, or the one reason why it does not
	deferred bool     // a guard could not run yet: check again at apply
}

// judge combines one guard's outcome; skip is true when the guard says
// "do not run".
func (v *verdict) judge(skip bool, reason string) {
	if !v.run {
		return
	}
	if skip {
		v.run, v.reasons = false, []string{reason}
		return
	}
	v.reasons = append(v.reasons, reason)
}

// guardOutcome turns a guard's result into (skip, reason) for kind "unless"
// or "only_if".
func (r *Exec) guardOutcome(kind string, argv []string, g *GuardResult, v *verdict) error {
	what := kind + " " + fmt.Sprintf("%q", displayArgv(argv))
	switch {
	case g.NoCwd:
		v.deferred = true
		v.judge(false, fmt.Sprintf("%s cannot run before cwd %s exists: checked again before the command runs", what, r.cwd))
	case g.ExitCode == 124:
		return fmt.Errorf("%s timed out after %v", what, min(r.timeout, maxGuardTimeout))
	case kind == "unless":
		v.judge(g.ExitCode == 0, fmt.Sprintf("%s exited %d", what, g.ExitCode))
	default:
		v.judge(g.ExitCode != 0, fmt.Sprintf("%s exited %d", what, g.ExitCode))
	}
	return nil
}

// Diff decides from the probed guards whether the command runs. Its
// Change says what runs and why; a NoOp says why not in Reason.
func (r *Exec) Diff(o *Observed) (*Change, error) {
	c := &Change{Addr: r.addr}
	if r.refreshOnly {
		c.Reason = "refresh_only: runs only when notified"
		return c, nil
	}
	if !r.hasGuards() && r.ran.Load() {
		c.Reason = "ran in this run; it has no guard to check"
		return c, nil
	}
	// Every guard is judged; the first that says "skip" decides, and the
	// reasons of those that say "run" are all shown.
	v := verdict{run: true}
	if r.creates != "" {
		s, err := o.Path(r.creates)
		if err != nil {
			return nil, err
		}
		if s.Exists {
			v.judge(true, "creates "+r.creates+" exists")
		} else {
			v.judge(false, "creates "+r.creates+" is missing")
		}
	}
	for _, g := range []struct {
		kind string
		argv []string
	}{{"unless", r.unless}, {"only_if", r.onlyIf}} {
		if g.argv == nil {
			continue
		}
		res, err := o.Guard(r.guard(g.argv))
		if err != nil {
			return nil, err
		}
		if err := r.guardOutcome(g.kind, g.argv, res, &v); err != nil {
			return nil, err
		}
	}
	if !r.hasGuards() {
		v.reasons = []string{"no guard: runs on every apply"}
	}
	c.Reason = strings.Join(v.reasons, "; ")
	if !v.run {
		return c, nil
	}
	c.Action = Update
	c.Attrs = []AttrChange{
		{Name: "command", After: displayArgv(r.command), Sensitive: r.sensitive},
		{Name: "reason", After: c.Reason},
	}
	return c, nil
}

// execScript runs "$@" in cwd $1 with the timeout $2 (seconds; "" for
// none), through timeout(1) when the host has it.
const execScript = `cd "${1:-/}" || exit 126
t=$2; shift 2
if [ -n "$t" ] && command -v timeout >/dev/null 2>&1; then exec timeout -k 10 "$t" "$@"; fi
exec "$@"`

// cmd returns the remote execution of argv (wrapped) with timeout d.
func (r *Exec) cmd(argv []string, d time.Duration) inventory.Cmd {
	secs := seconds(d + time.Second - 1)
	return inventory.Cmd{Args: append([]string{"sh", "-c", execScript, "sh", r.cwd, secs}, r.wrap(argv)...)}
}

// checkNow evaluates the guards on the host, at apply or notify time.
func (r *Exec) checkNow(ctx context.Context, t *Target) (bool, string, error) {
	v := verdict{run: true}
	if r.creates != "" {
		res, err := t.Transport.Run(ctx, inventory.Cmd{Args: []string{"sh", "-c", `[ -e "$1" ] || [ -L "$1" ]`, "sh", r.creates}})
		if err != nil {
			return false, "", fmt.Errorf("check creates %s on %s: %w", r.creates, t.hostName(), err)
		}
		v.judge(res.ExitCode == 0, "creates "+r.creates+" exists")
	}
	for _, g := range []struct {
		kind string
		argv []string
	}{{"unless", r.unless}, {"only_if", r.onlyIf}} {
		if g.argv == nil {
			continue
		}
		res, err := t.Transport.Run(ctx, r.cmd(g.argv, min(r.timeout, maxGuardTimeout)))
		if err != nil {
			return false, "", fmt.Errorf("run %s of %s on %s: %w", g.kind, r.addr, t.hostName(), err)
		}
		// execScript exits 126 when it cannot change to cwd; tell that
		// apart from a guard that itself exits 126.
		gr := &GuardResult{ExitCode: res.ExitCode}
		if res.ExitCode == 126 && !r.cwdExists(ctx, t) {
			return false, "", fmt.Errorf("run %s of %s on %s: cwd %s does not exist", g.kind, r.addr, t.hostName(), r.cwd)
		}
		if err := r.guardOutcome(g.kind, g.argv, gr, &v); err != nil {
			return false, "", err
		}
	}
	return v.run, strings.Join(v.reasons, "; "), nil
}

// cwdExists reports whether the cwd is a directory on the host.
func (r *Exec) cwdExists(ctx context.Context, t *Target) bool {
	if r.cwd == "" {
		return true
	}
	res, err := t.Transport.Run(ctx, inventory.Cmd{Args: []string{"test", "-d", r.cwd}})
	return err == nil && res.ExitCode == 0
}

// Apply runs the command; guards the probe could not evaluate (their cwd
// was missing) are evaluated first.
func (r *Exec) Apply(ctx context.Context, t *Target, c *Change) error {
	if c.Action == NoOp {
		return nil
	}
	if strings.Contains(c.Reason, "checked again before the command runs") {
		ok, why, err := r.checkNow(ctx, t)
		if err != nil {
			return err
		}
		if !ok {
			t.logger().Info("exec skipped by its guard at apply time",
				zap.Stringer("resource", r.addr), zap.String("reason", why))
			return nil
		}
	}
	return r.runCommand(ctx, t)
}

// runCommand runs the command and reports a non-zero exit with the tail of
// its stderr.
func (r *Exec) runCommand(ctx context.Context, t *Target) error {
	// timeout(1) on the host stops the command; the context is the
	// backstop for a host without it (sshd ignores signals for root).
	ctx, cancel := context.WithTimeout(ctx, r.timeout+30*time.Second)
	defer cancel()
	what := "exec " + r.addr.Name
	res, err := t.Transport.Run(ctx, r.cmd(r.command, r.timeout))
	if err != nil {
		return fmt.Errorf("%s on %s: %w", what, t.hostName(), err)
	}
	r.ran.Store(true)
	switch {
	case res.ExitCode == 124:
		return fmt.Errorf("%s on %s: timed out after %v: %s", what, t.hostName(), r.timeout, outputTail(res))
	case res.ExitCode == 126 && !r.cwdExists(ctx, t):
		return fmt.Errorf("%s on %s: cwd %s does not exist", what, t.hostName(), r.cwd)
	case res.ExitCode != 0:
		return fmt.Errorf("%s on %s: exit status %d: %s", what, t.hostName(), res.ExitCode, outputTail(res))
	}
	return nil
}

// Notify runs the command (how is "run"), unless it already ran in this
// run or its guards, checked now, say no.
func (r *Exec) Notify(ctx context.Context, t *Target, how string) error {
	if r.ran.Load() {
		return nil
	}
	if r.hasGuards() {
		ok, _, err := r.checkNow(ctx, t)
		if err != nil || !ok {
			return err
		}
	}
	return r.runCommand(ctx, t)
}
