package resources

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/tendhq/tend/inventory"
)

func TestExecDiff(t *testing.T) {
	cmd := list("/opt/app/bin/migrate", "--up")
	run := func(reason string) *Change {
		return &Change{Action: Update, Reason: reason, Attrs: []AttrChange{
			{Name: "command", After: "/opt/app/bin/migrate --up"}, {Name: "reason", After: reason}}}
	}
	for _, tc := range []struct {
		name    string
		attrs   map[string]cty.Value
		reply   []string
		want    *Change
		wantErr string
	}{
		{name: "no guard", attrs: map[string]cty.Value{"command": cmd}, want: run("no guard: runs on every apply")},
		{name: "creates missing", attrs: map[string]cty.Value{"command": cmd, "creates": str("/srv/done")},
			reply: []string{"R 0 absent"}, want: run("creates /srv/done is missing")},
		{name: "creates exists", attrs: map[string]cty.Value{"command": cmd, "creates": str("/srv/done")},
			reply: []string{"R 0 path 81a4 0 0 0 root root"}, want: &Change{Reason: "creates /srv/done exists"}},
		{name: "creates unknown", attrs: map[string]cty.Value{"command": cmd, "creates": str("/srv/done")},
			reply: []string{"R 0 error permission denied: /srv"}, wantErr: "permission denied"},
		{name: "unless fails", attrs: map[string]cty.Value{"command": cmd, "unless": list("test", "-e", "/srv/a b")},
			reply: []string{"R 0 exit 1"}, want: run(`unless "test -e '/srv/a b'" exited 1`)},
		{name: "unless succeeds", attrs: map[string]cty.Value{"command": cmd, "unless": list("true")},
			reply: []string{"R 0 exit 0"}, want: &Change{Reason: `unless "true" exited 0`}},
		{name: "only_if succeeds", attrs: map[string]cty.Value{"command": cmd, "only_if": list("true")},
			reply: []string{"R 0 exit 0"}, want: run(`only_if "true" exited 0`)},
		{name: "only_if fails", attrs: map[string]cty.Value{"command": cmd, "only_if": list("false")},
			reply: []string{"R 0 exit 1"}, want: &Change{Reason: `only_if "false" exited 1`}},
		{name: "all guards say run", attrs: map[string]cty.Value{"command": cmd, "creates": str("/srv/done"),
			"unless": list("false"), "only_if": list("true")},
			reply: []string{"R 0 absent", "R 1 exit 1", "R 2 exit 0"},
			want:  run(`creates /srv/done is missing; unless "false" exited 1; only_if "true" exited 0`)},
		{name: "one guard says skip", attrs: map[string]cty.Value{"command": cmd, "creates": str("/srv/done"),
			"unless": list("true"), "only_if": list("test", "-d", "/")},
			reply: []string{"R 0 absent", "R 1 exit 0", "R 2 exit 0"}, want: &Change{Reason: `unless "true" exited 0`}},
		{name: "guard cwd missing", attrs: map[string]cty.Value{"command": cmd, "cwd": str("/opt/app"), "unless": list("test", "-e", "done")},
			reply: []string{"R 0 nocwd"},
			want:  run(`unless "test -e done" cannot run before cwd /opt/app exists: checked again before the command runs`)},
		{name: "guard timed out", attrs: map[string]cty.Value{"command": cmd, "unless": list("sleep", "100"), "timeout": str("10s")},
			reply: []string{"R 0 exit 124"}, wantErr: `unless "sleep 100" timed out after 10s`},
		{name: "refresh only", attrs: map[string]cty.Value{"command": cmd, "refresh_only": cty.True},
			want: &Change{Reason: "refresh_only: runs only when notified"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := build(t, "exec", "migrate", tc.attrs)
			_, o := observeAll(t, []Resource{r}, tc.reply...)
			c, err := r.Diff(o)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Diff = %+v, %v; want an error containing %q", c, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := *tc.want
			want.Addr = r.Addr()
			if d := cmp.Diff(&want, c); d != "" {
				t.Errorf("Diff (-want +got):\n%s", d)
			}
		})
	}
}

// TestExecGuardQuery checks how a guard travels: a count line, then its
// cwd, timeout and argv one per line, wrapped for user and environment.
func TestExecGuardQuery(t *testing.T) {
	r := build(t, "exec", "x", map[string]cty.Value{
		"command": list("true"), "unless": list("test", "-e", "a b"), "cwd": str("/srv"), "user": str("app"),
		"environment": cty.ObjectVal(map[string]cty.Value{"B": str("2"), "A": str("1 $x")}), "timeout": str("2m"),
	})
	p := NewProbe()
	r.Observe(p)
	c := p.Cmd()
	b := new(bytes.Buffer)
	if _, err := b.ReadFrom(c.Stdin); err != nil {
		t.Fatal(err)
	}
	want := "x\t12\na\t/srv\na\t60\na\trunuser\na\t-u\na\tapp\na\t--\na\tenv\na\tA=1 $x\na\tB=2\na\ttest\na\t-e\na\ta b\n"
	if b.String() != want {
		t.Errorf("stdin = %q\nwant    %q", b.String(), want)
	}
}

// TestExecGuardsInProbe runs the real probe script with guards: exit
// statuses, cwd, environment, timeouts, and arguments that are data.
func TestExecGuardsInProbe(t *testing.T) {
	dir := t.TempDir()
	guards := []Guard{
		{Argv: []string{"sh", "-c", "exit 7"}},
		{Argv: []string{"sh", "-c", `[ "$(pwd)" = "$1" ] && [ "$X" = 'a b$(c)' ]`, "sh", dir}, Cwd: dir},
		{Argv: []string{"env", "X=a b$(c)", "sh", "-c", `[ "$X" = 'a b$(c)' ]`}},
		{Argv: []string{"sh", "-c", `[ "$(pwd)" = / ]`}},
		{Argv: []string{"true"}, Cwd: dir + "/missing"},
		{Argv: []string{"sleep", "10"}, Timeout: time.Second},
		{Argv: []string{"tend-no-such-program"}},
		{Argv: []string{"touch", dir + "/$(touch pwned)"}},
		{Argv: []string{"sh", "-c", `[ "$#" = 3 ] && [ -z "$2" ]`, "sh", "one", "", "three"}},
	}
	p := NewProbe()
	p.Path(dir, false)
	for _, g := range guards {
		p.Command(g)
	}
	p.Path(dir+"/after", false)
	start := time.Now()
	o := runLocal(t, p)
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("probe took %v: the timeout did not stop the guard", d)
	}
	want := []GuardResult{{ExitCode: 7}, {ExitCode: 1}, {ExitCode: 0}, {ExitCode: 0}, {NoCwd: true}, {ExitCode: 124},
		{ExitCode: 127}, {ExitCode: 0}, {ExitCode: 0}}
	for i, g := range guards {
		r, err := o.Guard(g)
		if err != nil || *r != want[i] {
			t.Errorf("guard %d %q: %+v, %v; want %+v", i, g.Argv, r, err, want[i])
		}
	}
	if s, err := o.Path(dir + "/after"); err != nil || s.Exists {
		t.Errorf("the query after the guards: %+v, %v", s, err)
	}
	if s, _ := o.Path(dir + "/pwned"); s != nil {
		t.Error("an argument ran as code")
	}
}

// TestExecApplyCommands checks the remote executions of apply and notify.
func TestExecApplyCommands(t *testing.T) {
	r := build(t, "exec", "migrate", map[string]cty.Value{
		"command": list("migrate", "--up"), "cwd": str("/srv"), "user": str("app"), "timeout": str("90s"),
		"environment": cty.ObjectVal(map[string]cty.Value{"ENV": str("prod")}),
	}).(*Exec)
	_, o := observeAll(t, []Resource{r})
	c, err := r.Diff(o)
	if err != nil || c.Action != Update {
		t.Fatalf("Diff = %+v, %v", c, err)
	}
	ft := &fakeTransport{}
	target := &Target{Host: &inventory.Host{Name: "web1"}, Transport: ft, Observed: o}
	if err := r.Apply(context.Background(), target, c); err != nil {
		t.Fatal(err)
	}
	want := []string{"sh -c " + execScript + " sh /srv 90 runuser -u app -- env ENV=prod migrate --up"}
	if d := cmp.Diff(want, ft.argvs()); d != "" {
		t.Errorf("commands (-want +got):\n%s", d)
	}
	// Verified after apply: the command ran, nothing to probe.
	if c, err := r.Diff(o); err != nil || c.Action != NoOp || !strings.Contains(c.Reason, "ran in this run") {
		t.Errorf("Diff after apply = %+v, %v", c, err)
	}
	// Notified after it ran: it does not run twice.
	ft.cmds = nil
	if err := r.Notify(context.Background(), target, "run"); err != nil || len(ft.cmds) != 0 {
		t.Errorf("notify after a run: %v, %v", ft.argvs(), err)
	}

	// A failure reports the exit status and the end of stderr.
	f := build(t, "exec", "fail", map[string]cty.Value{"command": list("false")}).(*Exec)
	ft = &fakeTransport{results: []*inventory.Result{{ExitCode: 3, Stderr: []byte("line 1\nboom\n")}}}
	target.Transport = ft
	err = f.Apply(context.Background(), target, &Change{Action: Update})
	if err == nil || err.Error() != "exec fail on web1: exit status 3: line 1 | boom" {
		t.Errorf("Apply error = %v", err)
	}

	// A refresh_only exec with guards checks them when notified.
	n := build(t, "exec", "reindex", map[string]cty.Value{"command": list("reindex"), "refresh_only": cty.True,
		"creates": str("/srv/index"), "unless": list("check")}).(*Exec)
	ft = &fakeTransport{results: []*inventory.Result{{ExitCode: 1}, {ExitCode: 1}, {}}}
	target.Transport = ft
	if err := n.Notify(context.Background(), target, "run"); err != nil {
		t.Fatal(err)
	}
	want = []string{
		`sh -c [ -e "$1" ] || [ -L "$1" ] sh /srv/index`,
		"sh -c " + execScript + " sh  60 check",
		"sh -c " + execScript + " sh  300 reindex",
	}
	if d := cmp.Diff(want, ft.argvs()); d != "" {
		t.Errorf("notify commands (-want +got):\n%s", d)
	}
}
