package resources

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
	"go.uber.org/zap/zaptest"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/tendhq/tend/internal/testhost"
	tssh "github.com/tendhq/tend/inventory/ssh"
)

// These tests converge real Debian 12 hosts (containers booted with
// systemd, see internal/testhost) through the SSH transport, the way the
// engine does it: one probe, Diff, Apply (packages as one batch), then a
// new probe that must find nothing left to do.

// sysHost is a booted test host and one SSH connection to it.
type sysHost struct {
	t  *testing.T
	h  *testhost.Host
	tr *tssh.Transport
	// once and applied are the per-run state a Target carries; run
	// starts a new run.
	once    *onceSet
	applied []*Change
}

func bootSys(t *testing.T) *sysHost {
	t.Helper()
	h := testhost.Boot(t, 1)[0]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tr, err := tssh.Dial(ctx, h.Inventory(), tssh.Options{Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return &sysHost{t: t, h: h, tr: tr, once: newOnceSet()}
}

// newRun forgets the Once keys and the applied changes: a new tend run.
func (s *sysHost) newRun() {
	s.once, s.applied = newOnceSet(), nil
}

func (s *sysHost) target(o *Observed) *Target {
	return &Target{Host: s.h.Inventory(), Transport: s.tr, Observed: o, Log: zaptest.NewLogger(s.t), Once: s.once.Once,
		Applied: func() []*Change { return append([]*Change{}, s.applied...) }}
}

// probe runs one probe for rs and parses it.
func (s *sysHost) probe(rs ...Resource) *Observed {
	s.t.Helper()
	p := NewProbe()
	for _, r := range rs {
		r.Observe(p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := s.tr.Run(ctx, p.Cmd())
	if err != nil {
		s.t.Fatalf("probe: %v", err)
	}
	if res.ExitCode != 0 {
		s.t.Fatalf("probe exited %d: %s", res.ExitCode, res.Stderr)
	}
	o, err := ParseProbe(p, res.Stdout)
	if err != nil {
		s.t.Fatalf("parse probe: %v\n%s", err, res.Stdout)
	}
	return o
}

// plan probes rs and diffs each.
func (s *sysHost) plan(rs ...Resource) ([]*Change, *Observed) {
	s.t.Helper()
	o := s.probe(rs...)
	cs := make([]*Change, len(rs))
	for i, r := range rs {
		c, err := r.Diff(o)
		if err != nil {
			s.t.Fatalf("%s: Diff: %v", r.Addr(), err)
		}
		cs[i] = c
	}
	return cs, o
}

// applyChanges applies cs in order, as the engine would on a chain of
// dependencies; the members of a batch are applied together where the
// first of them comes. It returns each resource's error.
func (s *sysHost) applyChanges(rs []Resource, cs []*Change, o *Observed) []error {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	errs := make([]error, len(rs))
	batched := map[string]bool{}
	for i, r := range rs {
		if !cs[i].Changed() {
			continue
		}
		br, ok := r.(BatchResource)
		if !ok {
			if errs[i] = r.Apply(ctx, s.target(o), cs[i]); errs[i] == nil {
				s.applied = append(s.applied, cs[i])
			}
			continue
		}
		if batched[br.BatchKey()] {
			continue
		}
		batched[br.BatchKey()] = true
		var members []BatchResource
		var mcs []*Change
		var idx []int
		for j, r2 := range rs {
			if b2, ok := r2.(BatchResource); ok && b2.BatchKey() == br.BatchKey() && cs[j].Changed() {
				members, mcs, idx = append(members, b2), append(mcs, cs[j]), append(idx, j)
			}
		}
		berrs, err := br.ApplyBatch(ctx, s.target(o), members, mcs)
		for k, j := range idx {
			if err != nil {
				errs[j] = err
			} else if errs[j] = berrs[k]; errs[j] == nil {
				s.applied = append(s.applied, cs[j])
			}
		}
	}
	return errs
}

// converge plans rs, applies, fails on any error, and verifies that a new
// probe finds nothing to do. It returns the applied changes.
func (s *sysHost) converge(rs ...Resource) []*Change {
	s.t.Helper()
	cs, o := s.plan(rs...)
	for i, err := range s.applyChanges(rs, cs, o) {
		if err != nil {
			s.t.Fatalf("%s: apply: %v", rs[i].Addr(), err)
		}
	}
	s.converged(rs...)
	return cs
}

// converged fails unless every resource's Diff is NoOp.
func (s *sysHost) converged(rs ...Resource) *Observed {
	s.t.Helper()
	cs, o := s.plan(rs...)
	for i, c := range cs {
		if c.Action != NoOp {
			s.t.Errorf("%s did not converge: %v %+v", rs[i].Addr(), c.Action, c.Attrs)
		}
	}
	return o
}

func (s *sysHost) execs() int { return s.tr.Stats().Execs }

func TestSystemPackages(t *testing.T) {
	s := bootSys(t)
	hello := build(t, "package", "hello", nil)
	// cache_valid_time = 1s: the lists of the base image are older, so
	// apply refreshes them first, once.
	sl := build(t, "package", "sl", attrs("state", "latest", "cache_valid_time", "1s"))
	rs := []Resource{hello, sl}
	cs, o := s.plan(rs...)
	if cs[0].Action != Create || cs[1].Action != Create {
		t.Fatalf("plan: %+v %+v", cs[0], cs[1])
	}
	if v := cs[1].Attrs[len(cs[1].Attrs)-1]; v.Name != "version" || v.After == "" {
		t.Errorf("sl latest shows no version: %+v", cs[1].Attrs)
	}
	if o.Facts.AptCacheAge < 2 {
		t.Fatalf("apt cache age %d: the base image's lists should be older", o.Facts.AptCacheAge)
	}
	before := s.execs()
	for i, err := range s.applyChanges(rs, cs, o) {
		if err != nil {
			t.Fatalf("%s: %v", rs[i].Addr(), err)
		}
	}
	if n := s.execs() - before; n != 2 {
		t.Errorf("apply of two packages took %d remote executions, want 2 (apt-get update, one apt-get install)", n)
	}
	if s.once.runs["apt-update"] != 1 {
		t.Errorf("apt-update ran %d times", s.once.runs["apt-update"])
	}
	o = s.converged(rs...)
	if o.Facts.AptCacheAge < 0 || o.Facts.AptCacheAge > 120 {
		t.Errorf("after the update the apt cache age is %d", o.Facts.AptCacheAge)
	}
	for _, n := range []string{"hello", "sl"} {
		if out := s.h.Exec(t, "dpkg-query", "-W", "-f=${Status}", n); out != "install ok installed" {
			t.Errorf("%s: %q", n, out)
		}
	}
	// Pinned to what is installed: nothing to do.
	st, err := o.Package("hello")
	if err != nil {
		t.Fatal(err)
	}
	s.newRun()
	if cs := s.converge(build(t, "package", "hello", attrs("version", st.Version))); cs[0].Action != NoOp {
		t.Errorf("pinned to the installed version: %+v", cs[0])
	}

	// Remove both in one call.
	s.newRun()
	rs = []Resource{build(t, "package", "hello", attrs("state", "absent")), build(t, "package", "sl", attrs("state", "absent"))}
	cs, o = s.plan(rs...)
	before = s.execs()
	for i, err := range s.applyChanges(rs, cs, o) {
		if err != nil || cs[i].Action != Delete {
			t.Fatalf("%s: %v %v", rs[i].Addr(), cs[i].Action, err)
		}
	}
	if n := s.execs() - before; n != 1 {
		t.Errorf("removing two packages took %d remote executions, want 1", n)
	}
	s.converged(rs...)
	if _, _, err := s.h.Run("dpkg-query", "-W", "-f=${Status}", "hello"); err == nil {
		if out := s.h.Exec(t, "dpkg-query", "-W", "-f=${Status}", "hello"); strings.Contains(out, " installed") && !strings.Contains(out, "not-installed") {
			t.Errorf("hello still installed: %q", out)
		}
	}

	// A package apt does not know fails with apt's message.
	s.newRun()
	rs = []Resource{build(t, "package", "tend-no-such-package", nil)}
	cs, o = s.plan(rs...)
	errs := s.applyChanges(rs, cs, o)
	if errs[0] == nil || !strings.Contains(errs[0].Error(), "Unable to locate package tend-no-such-package") {
		t.Errorf("install of an unknown package: %v", errs[0])
	}
}

const testUnit = `[Unit]
Description=tend test service

[Service]
ExecStart=/bin/sleep %s
ExecReload=/bin/true

[Install]
WantedBy=multi-user.target
`

func unitText(arg string) string { return strings.Replace(testUnit, "%s", arg, 1) }

func mainPID(t *testing.T, o *Observed, unit string) int {
	t.Helper()
	u, err := o.Unit(unit)
	if err != nil {
		t.Fatal(err)
	}
	return u.MainPID
}

func TestSystemServices(t *testing.T) {
	s := bootSys(t)
	const path = "/etc/systemd/system/tend-test.service"
	file := build(t, "file", path, attrs("content", unitText("infinity")))
	svc := func(kv ...any) Resource { return build(t, "service", "tend-test", boolAttrs(kv...)) }
	running := svc("state", "running", "enabled", true)
	cs := s.converge(file, running)
	if cs[1].Action != Update || cs[1].Attrs[1].Before != "not-found" {
		t.Errorf("plan of a unit written in the same run: %+v", cs[1])
	}
	if s.once.runs["daemon-reload"] != 1 {
		t.Errorf("daemon-reload ran %d times, want once", s.once.runs["daemon-reload"])
	}
	if out := s.h.Exec(t, "systemctl", "is-enabled", "tend-test"); out != "enabled\n" {
		t.Errorf("is-enabled: %q", out)
	}
	o := s.probe(running)
	pid := mainPID(t, o, "tend-test.service")
	if pid <= 0 {
		t.Fatalf("MainPID %d", pid)
	}
	ctx := context.Background()

	// Notified in the run that started it: restarted all the same.
	if err := running.(Notifiable).Notify(ctx, s.target(o), "restart"); err != nil {
		t.Fatal(err)
	}
	if p := mainPID(t, s.probe(running), "tend-test.service"); p == pid || p <= 0 {
		t.Errorf("a notified service started in this run kept its main PID %d (now %d)", pid, p)
	} else {
		pid = p
	}
	// In a later run: restart changes the main PID, reload keeps it.
	s.newRun()
	if err := running.(Notifiable).Notify(ctx, s.target(o), "reload"); err != nil {
		t.Fatal(err)
	}
	if p := mainPID(t, s.probe(running), "tend-test.service"); p != pid {
		t.Errorf("reload changed the main PID: %d -> %d", pid, p)
	}
	if err := running.(Notifiable).Notify(ctx, s.target(o), "restart"); err != nil {
		t.Fatal(err)
	}
	o = s.probe(running)
	if p := mainPID(t, o, "tend-test.service"); p == pid || p <= 0 {
		t.Errorf("restart kept the main PID %d (now %d)", pid, p)
	}

	// The unit file changes: daemon-reload, then the notified restart runs
	// the new command line.
	s.newRun()
	file2 := build(t, "file", path, attrs("content", unitText("12345")))
	s.converge(file2)
	if s.once.runs["daemon-reload"] != 0 {
		t.Error("a file alone reloaded systemd")
	}
	o = s.probe(running)
	if u, _ := o.Unit("tend-test.service"); !u.NeedDaemonReload {
		t.Errorf("systemd does not see the changed unit file: %+v", u)
	}
	if err := running.(Notifiable).Notify(ctx, s.target(o), "restart"); err != nil {
		t.Fatal(err)
	}
	if s.once.runs["daemon-reload"] != 1 {
		t.Errorf("daemon-reload ran %d times before the restart", s.once.runs["daemon-reload"])
	}
	o = s.probe(running)
	if cmdline := s.h.Exec(t, "cat", "/proc/"+strconv.Itoa(mainPID(t, o, "tend-test.service"))+"/cmdline"); cmdline != "/bin/sleep\x0012345\x00" {
		t.Errorf("after the restart the service runs %q", cmdline)
	}

	// Stop and disable, mask, unmask and start again.
	s.newRun()
	s.converge(svc("state", "stopped", "enabled", false))
	if out, _, _ := s.h.Run("systemctl", "is-active", "tend-test"); out != "inactive\n" {
		t.Errorf("is-active after stop: %q", out)
	}
	// A unit whose file is in /etc/systemd/system cannot be masked: the
	// plan says so instead of failing at apply.
	if _, err := svc("state", "stopped", "masked", true).Diff(s.probe(running)); err == nil || !strings.Contains(err.Error(), "cannot be masked") {
		t.Errorf("mask of a unit in /etc: %v", err)
	}

	// Mask, unmask and start a unit shipped under /usr/lib (as packages
	// do); writing it there reloads systemd too.
	s.newRun()
	shipped := build(t, "file", "/usr/lib/systemd/system/tend-shipped.service", attrs("content", unitText("infinity")))
	other := func(kv ...any) Resource { return build(t, "service", "tend-shipped.service", boolAttrs(kv...)) }
	s.converge(shipped, other("state", "running"))
	if s.once.runs["daemon-reload"] != 1 {
		t.Errorf("a unit file under /usr/lib did not reload systemd")
	}
	s.newRun()
	s.converge(other("state", "stopped", "masked", true))
	if out, _, _ := s.h.Run("systemctl", "is-enabled", "tend-shipped"); out != "masked\n" {
		t.Errorf("is-enabled after mask: %q", out)
	}
	// A masked service is not restarted when notified.
	before := s.execs()
	if err := other("masked", true).(Notifiable).Notify(ctx, s.target(o), "restart"); err != nil || s.execs() != before {
		t.Errorf("notify of a masked service: %v, %d executions", err, s.execs()-before)
	}
	s.newRun()
	cs = s.converge(other("state", "running", "masked", false, "enabled", true))
	if len(cs[0].Attrs) != 3 {
		t.Errorf("unmask, enable and start: %+v", cs[0].Attrs)
	}
	if out := s.h.Exec(t, "systemctl", "is-active", "tend-shipped"); out != "active\n" {
		t.Errorf("is-active: %q", out)
	}
}

// newKey returns a fresh ed25519 signer and its authorized_keys line.
func newKey(t *testing.T, comment string) (ssh.Signer, string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return signer, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " " + comment
}

// login logs in to the host as user with key and runs `id -un`.
func login(s *sysHost, user string, key ssh.Signer) (string, error) {
	hk, err := knownhosts.New(s.h.KnownHostsFile)
	if err != nil {
		return "", err
	}
	c, err := ssh.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.h.Port)), &ssh.ClientConfig{
		User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(key)}, HostKeyCallback: hk, Timeout: 10 * time.Second,
	})
	if err != nil {
		return "", err
	}
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		return "", err
	}
	defer sess.Close()
	out, err := sess.Output("id -un")
	return strings.TrimSpace(string(out)), err
}

func TestSystemUsers(t *testing.T) {
	s := bootSys(t)
	signerA, keyLineA := newKey(t, "a@test")
	signerB, keyLineB := newKey(t, "b@test")
	devs := build(t, "group", "tend-devs", boolAttrs("gid", "4001"))
	ops := build(t, "group", "tend-ops", nil)
	withKeys := func(exclusive bool, keys ...string) Resource {
		return build(t, "user", "alice", map[string]cty.Value{
			"uid": str("4100"), "group": str("tend-devs"), "shell": str("/bin/bash"), "groups": list("tend-ops"),
			"authorized_keys": list(keys...), "authorized_keys_exclusive": cty.BoolVal(exclusive),
		})
	}
	cs := s.converge(devs, ops, withKeys(false, keyLineA))
	if cs[2].Action != Create {
		t.Fatalf("plan: %+v", cs[2])
	}
	if out := s.h.Exec(t, "id", "alice"); !strings.HasPrefix(out, "uid=4100(alice) gid=4001(tend-devs) groups=4001(tend-devs),") || !strings.Contains(out, "(tend-ops)") {
		t.Errorf("id alice: %q", out)
	}
	if out := s.h.Exec(t, "stat", "-c", "%a %U %G", "/home/alice/.ssh", "/home/alice/.ssh/authorized_keys"); out != "700 alice tend-devs\n600 alice tend-devs\n" {
		t.Errorf("modes and owners of ~/.ssh: %q", out)
	}
	if who, err := login(s, "alice", signerA); err != nil || who != "alice" {
		t.Fatalf("login as alice with key A: %q, %v", who, err)
	}
	if _, err := login(s, "alice", signerB); err == nil {
		t.Error("key B logs in before it is authorized")
	}

	// Additive: key B joins key A.
	s.newRun()
	cs = s.converge(withKeys(false, keyLineB))
	if cs[0].Action != Update || cs[0].Attrs[0].Name != "authorized_keys" {
		t.Errorf("plan: %+v", cs[0])
	}
	for name, k := range map[string]ssh.Signer{"A": signerA, "B": signerB} {
		if who, err := login(s, "alice", k); err != nil || who != "alice" {
			t.Errorf("login with key %s after adding B: %q, %v", name, who, err)
		}
	}
	// Exclusive: only key B is left.
	s.newRun()
	s.converge(withKeys(true, keyLineB))
	if _, err := login(s, "alice", signerA); err == nil {
		t.Error("key A still logs in after authorized_keys_exclusive")
	}
	if who, err := login(s, "alice", signerB); err != nil || who != "alice" {
		t.Errorf("login with key B: %q, %v", who, err)
	}
	if out := s.h.Exec(t, "cat", "/home/alice/.ssh/authorized_keys"); out != keyLineB+"\n" {
		t.Errorf("authorized_keys = %q", out)
	}

	// Modify: uid, shell, supplementary groups (exclusive, none).
	s.newRun()
	mod := build(t, "user", "alice", map[string]cty.Value{"uid": str("4101"), "shell": str("/bin/sh"),
		"groups": list(), "groups_exclusive": cty.True})
	cs = s.converge(mod)
	if len(cs[0].Attrs) != 3 {
		t.Errorf("modify plan: %+v", cs[0].Attrs)
	}
	if out := s.h.Exec(t, "id", "alice"); out != "uid=4101(alice) gid=4001(tend-devs) groups=4001(tend-devs)\n" {
		t.Errorf("id alice after modify: %q", out)
	}
	if out := s.h.Exec(t, "getent", "passwd", "alice"); !strings.HasSuffix(out, ":/home/alice:/bin/sh\n") {
		t.Errorf("passwd: %q", out)
	}

	// Delete the user, then its groups.
	s.newRun()
	s.converge(build(t, "user", "alice", attrs("state", "absent")), build(t, "group", "tend-devs", attrs("state", "absent")),
		build(t, "group", "tend-ops", attrs("state", "absent")))
	if _, _, err := s.h.Run("getent", "passwd", "alice"); err == nil {
		t.Error("alice still exists")
	}
	if _, _, err := s.h.Run("getent", "group", "tend-ops"); err == nil {
		t.Error("tend-ops still exists")
	}
}

func TestSystemExec(t *testing.T) {
	s := bootSys(t)
	s.h.Exec(t, "mkdir", "-p", "/srv/work")
	ctx := context.Background()
	ex := func(label string, m map[string]cty.Value) Resource { return build(t, "exec", label, m) }

	creates := ex("creates", map[string]cty.Value{"command": list("touch", "/srv/made"), "creates": str("/srv/made")})
	cs := s.converge(creates)
	if cs[0].Reason != "creates /srv/made is missing" {
		t.Errorf("creates: %q", cs[0].Reason)
	}
	if cs, _ := s.plan(creates); cs[0].Reason != "creates /srv/made exists" {
		t.Errorf("creates after: %q", cs[0].Reason)
	}

	unless := ex("unless", map[string]cty.Value{"command": list("touch", "/srv/flag"), "unless": list("test", "-e", "/srv/flag")})
	cs = s.converge(unless)
	if cs[0].Reason != `unless "test -e /srv/flag" exited 1` {
		t.Errorf("unless: %q", cs[0].Reason)
	}

	onlyIf := ex("only_if", map[string]cty.Value{"command": list("touch", "/srv/never"), "only_if": list("test", "-e", "/srv/nothing")})
	if cs := s.converge(onlyIf); cs[0].Action != NoOp || cs[0].Reason != `only_if "test -e /srv/nothing" exited 1` {
		t.Errorf("only_if: %+v", cs[0])
	}

	// No guard: the plan says it runs every time; after it ran, the verify
	// Diff says so.
	s.newRun()
	count := ex("count", map[string]cty.Value{"command": list("sh", "-c", "echo x >> /srv/count")})
	cs = s.converge(count)
	if cs[0].Reason != "no guard: runs on every apply" || cs[0].Attrs[0].After != "sh -c 'echo x >> /srv/count'" {
		t.Errorf("no guard: %+v", cs[0])
	}

	// cwd, environment and user, for the guard and the command alike.
	s.newRun()
	env := map[string]cty.Value{
		"command":     list("sh", "-c", `printf '%s %s %s\n' "$(pwd)" "$GREETING" "$(id -un)" > /tmp/tend-env`),
		"unless":      list("sh", "-c", `[ "$(pwd) $GREETING $(id -un)" = "/srv/work hello world nobody" ] && [ -e /tmp/tend-env ]`),
		"cwd":         str("/srv/work"),
		"environment": cty.ObjectVal(map[string]cty.Value{"GREETING": str("hello world")}),
		"user":        str("nobody"),
	}
	cs = s.converge(ex("env", env))
	if cs[0].Action != Update {
		t.Errorf("env: %+v", cs[0])
	}
	if out := s.h.Exec(t, "cat", "/tmp/tend-env"); out != "/srv/work hello world nobody\n" {
		t.Errorf("command saw %q", out)
	}

	// A guard whose cwd is made in the same run is checked before running.
	s.newRun()
	later := ex("later", map[string]cty.Value{"command": list("touch", "made-later"), "cwd": str("/srv/later"),
		"unless": list("test", "-e", "made-later")})
	dir := build(t, "directory", "/srv/later", nil)
	cs = s.converge(dir, later)
	if !strings.Contains(cs[1].Reason, "cannot run before cwd /srv/later exists") {
		t.Errorf("later: %q", cs[1].Reason)
	}
	s.h.Exec(t, "test", "-e", "/srv/later/made-later")

	// refresh_only: nothing until notified; notified, it runs once.
	s.newRun()
	refresh := ex("refresh", map[string]cty.Value{"command": list("sh", "-c", "echo r >> /srv/refreshed"), "refresh_only": cty.True})
	if cs := s.converge(refresh); cs[0].Reason != "refresh_only: runs only when notified" {
		t.Errorf("refresh_only: %+v", cs[0])
	}
	if _, _, err := s.h.Run("test", "-e", "/srv/refreshed"); err == nil {
		t.Error("refresh_only ran without a notification")
	}
	o := s.probe(refresh)
	for range 2 {
		if err := refresh.(Notifiable).Notify(ctx, s.target(o), "run"); err != nil {
			t.Fatal(err)
		}
	}
	if out := s.h.Exec(t, "cat", "/srv/refreshed"); out != "r\n" {
		t.Errorf("refreshed: %q", out)
	}

	// Failures and timeouts.
	s.newRun()
	fail := ex("fail", map[string]cty.Value{"command": list("sh", "-c", "echo boom >&2; exit 3")})
	cs, o = s.plan(fail)
	if err := s.applyChanges([]Resource{fail}, cs, o)[0]; err == nil || !strings.Contains(err.Error(), "exit status 3: boom") {
		t.Errorf("failing command: %v", err)
	}
	slow := ex("slow", map[string]cty.Value{"command": list("sleep", "30"), "timeout": str("1s")})
	cs, o = s.plan(slow)
	start := time.Now()
	if err := s.applyChanges([]Resource{slow}, cs, o)[0]; err == nil || !strings.Contains(err.Error(), "timed out after 1s") {
		t.Errorf("slow command: %v", err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("the timeout took %v", d)
	}
}

// TestSystemOneProbe converges 10 packages, 5 services, 20 files and 2
// users on one host; then ONE remote execution observes them all and every
// Diff is NoOp.
func TestSystemOneProbe(t *testing.T) {
	s := bootSys(t)
	var rs []Resource
	for _, p := range []string{"bash", "coreutils", "dash", "grep", "sed", "tar", "gzip", "findutils", "util-linux", "systemd"} {
		rs = append(rs, build(t, "package", p, nil))
	}
	for i := range 15 {
		rs = append(rs, build(t, "file", "/srv/conf/file-"+strconv.Itoa(i)+".conf", attrs("content", "n = "+strconv.Itoa(i)+"\n", "mode", "0640")))
	}
	for i := range 5 {
		rs = append(rs, build(t, "file", "/etc/systemd/system/tend-"+strconv.Itoa(i)+".service", attrs("content", unitText("infinity"))))
	}
	for i := range 5 {
		rs = append(rs, build(t, "service", "tend-"+strconv.Itoa(i), boolAttrs("state", "running", "enabled", true)))
	}
	_, key := newKey(t, "ops")
	for _, u := range []string{"bob", "carol"} {
		rs = append(rs, build(t, "user", u, map[string]cty.Value{"shell": str("/bin/bash"), "groups": list("adm"), "authorized_keys": list(key)}))
	}
	s.converge(rs...)
	before := s.execs()
	s.converged(rs...)
	if n := s.execs() - before; n != 1 {
		t.Errorf("observing 10 packages, 5 services, 20 files and 2 users took %d remote executions, want 1", n)
	}
}
