package resources

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/tendhq/tend/inventory"
)

// unitBlocks returns the recorded systemctl show blocks by unit Id, each as
// the D lines of a one-unit svc section.
func unitBlocks(t testing.TB) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "system", "systemctl-show.txt"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := map[string][]string{}
	var cur []string
	id := ""
	flush := func() {
		if id != "" {
			blocks[id] = append(cur, "B svc systemctl 0")
		}
		cur, id = nil, ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(l, "#"):
		case l == "":
			flush()
		default:
			cur = append(cur, "D svc "+l)
			if v, ok := strings.CutPrefix(l, "Id="); ok {
				id = v
			}
		}
	}
	flush()
	return blocks
}

// withBlock replaces one property of a recorded block.
func withBlock(block []string, kv ...string) []string {
	out := append([]string{}, block...)
	for i := 0; i < len(kv); i += 2 {
		for j, l := range out {
			if strings.HasPrefix(l, "D svc "+kv[i]+"=") {
				out[j] = "D svc " + kv[i] + "=" + kv[i+1]
			}
		}
	}
	return out
}

func boolAttrs(kv ...any) map[string]cty.Value {
	m := map[string]cty.Value{}
	for i := 0; i < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case bool:
			m[kv[i].(string)] = cty.BoolVal(v)
		case string:
			m[kv[i].(string)] = str(v)
		}
	}
	return m
}

func TestServiceDiff(t *testing.T) {
	blocks := unitBlocks(t)
	if len(blocks) != 5 {
		t.Fatalf("recording has %d units", len(blocks))
	}
	systemd := "F init systemd"
	for _, tc := range []struct {
		name    string
		label   string
		attrs   map[string]cty.Value
		reply   []string
		want    *Change
		wantErr string
	}{
		{name: "running and enabled", label: "ssh", attrs: boolAttrs("state", "running", "enabled", true),
			reply: blocks["ssh.service"], want: &Change{}},
		{name: "unmanaged state", label: "ssh.service", attrs: boolAttrs(), reply: blocks["ssh.service"], want: &Change{}},
		{name: "stop and disable", label: "ssh", attrs: boolAttrs("state", "stopped", "enabled", false),
			reply: blocks["ssh.service"], want: &Change{Action: Update, Attrs: []AttrChange{
				{Name: "enabled", Before: "true", After: "false"}, {Name: "state", Before: "running", After: "stopped"}}}},
		{name: "start and enable", label: "getty@tty1", attrs: boolAttrs("state", "running", "enabled", true),
			reply: blocks["getty@tty1.service"], want: &Change{Action: Update, Attrs: []AttrChange{
				{Name: "enabled", Before: "false", After: "true"}, {Name: "state", Before: "stopped", After: "running"}}}},
		{name: "failed unit to start", label: "getty@tty1", attrs: boolAttrs("state", "running"),
			reply: withBlock(blocks["getty@tty1.service"], "ActiveState", "failed", "SubState", "failed"),
			want:  &Change{Action: Update, Attrs: []AttrChange{{Name: "state", Before: "failed", After: "running"}}}},
		{name: "failed unit is stopped", label: "getty@tty1", attrs: boolAttrs("state", "stopped"),
			reply: withBlock(blocks["getty@tty1.service"], "ActiveState", "failed"), want: &Change{}},
		{name: "activating counts as not yet running", label: "getty@tty1", attrs: boolAttrs("state", "running"),
			reply: withBlock(blocks["getty@tty1.service"], "ActiveState", "activating", "SubState", "auto-restart"),
			want:  &Change{Action: Update, Attrs: []AttrChange{{Name: "state", Before: "activating (auto-restart)", After: "running"}}}},
		{name: "static unit counts as enabled", label: "dbus", attrs: boolAttrs("enabled", true), reply: blocks["dbus.service"], want: &Change{}},
		{name: "static unit cannot be disabled", label: "dbus", attrs: boolAttrs("enabled", false), reply: blocks["dbus.service"],
			wantErr: "unit dbus.service is static: it cannot be disabled"},
		{name: "mask", label: "getty@tty1", attrs: boolAttrs("state", "stopped", "masked", true), reply: blocks["getty@tty1.service"],
			want: &Change{Action: Update, Attrs: []AttrChange{{Name: "masked", Before: "false", After: "true"}}}},
		{name: "unit file in /etc cannot be masked", label: "getty@tty1", attrs: boolAttrs("state", "stopped", "masked", true),
			reply:   withBlock(blocks["getty@tty1.service"], "FragmentPath", "/etc/systemd/system/getty@tty1.service"),
			wantErr: "cannot be masked: its unit file /etc/systemd/system/getty@tty1.service is in /etc/systemd/system"},
		{name: "masked ignores enabled", label: "getty@tty1", attrs: boolAttrs("masked", true, "enabled", false),
			reply: withBlock(blocks["getty@tty1.service"], "UnitFileState", "masked", "LoadState", "masked"), want: &Change{}},
		{name: "unmask and start", label: "getty@tty1", attrs: boolAttrs("masked", false, "state", "running"),
			reply: withBlock(blocks["getty@tty1.service"], "UnitFileState", "masked", "LoadState", "masked"),
			want: &Change{Action: Update, Attrs: []AttrChange{
				{Name: "masked", Before: "true", After: "false"}, {Name: "state", Before: "stopped", After: "running"}}}},
		// The unit file is written by a file resource of the same run.
		{name: "unit not found yet", label: "tend-no-such", attrs: boolAttrs("state", "running", "enabled", true),
			reply: blocks["tend-no-such.service"], want: &Change{Action: Update, Attrs: []AttrChange{
				{Name: "enabled", Before: "not-found", After: "true"}, {Name: "state", Before: "not-found", After: "running"}}}},
		{name: "unit not found and stopped", label: "tend-no-such", attrs: boolAttrs("state", "stopped"),
			reply: blocks["tend-no-such.service"], want: &Change{}},
		{name: "systemctl fails", label: "ssh", attrs: boolAttrs("state", "running"),
			reply:   []string{"D svc Failed to connect to bus: No such file or directory", "B svc systemctl 1"},
			wantErr: "systemctl exited 1: Failed to connect to bus"},
		{name: "no systemctl", label: "ssh", attrs: boolAttrs("state", "running"),
			reply: []string{"B svc none 0"}, wantErr: "does not run systemd"},
		{name: "a block missing", label: "ssh", attrs: boolAttrs("state", "running"),
			reply: []string{"B svc systemctl 0"}, wantErr: "returned 0 units for 1 asked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := build(t, "service", tc.label, tc.attrs)
			_, o := observeAll(t, []Resource{r}, append([]string{systemd}, tc.reply...)...)
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

// TestServiceNeedsSystemd diffs a service on a host whose PID 1 is not
// systemd.
func TestServiceNeedsSystemd(t *testing.T) {
	r := build(t, "service", "nginx", boolAttrs("state", "running"))
	_, o := observeAll(t, []Resource{r}, "F init runit", "B svc none 0")
	if _, err := r.Diff(o); err == nil || err.Error() != "service needs systemd; host has runit" {
		t.Errorf("Diff error = %v", err)
	}
}

// TestServiceUnitsInOneCall probes five units in one section: blocks are
// matched to units by position, although the probe dropped the blank lines
// between them.
func TestServiceUnitsInOneCall(t *testing.T) {
	var rs []Resource
	for _, n := range []string{"ssh", "dbus", "tend-no-such", "systemd-journald", "getty@tty1"} {
		rs = append(rs, build(t, "service", n, boolAttrs("state", "running")))
	}
	p, o := observeAll(t, rs, append([]string{"F init systemd"}, recordedSection(t, "svc", "systemctl", "systemctl-show.txt")...)...)
	if p.Len() != 5 {
		t.Fatalf("%d queries", p.Len())
	}
	for _, tc := range []struct {
		unit string
		pid  int
		act  string
	}{{"ssh.service", 33, "active"}, {"dbus.service", 29, "active"}, {"tend-no-such.service", 0, "inactive"},
		{"systemd-journald.service", 18, "active"}, {"getty@tty1.service", 0, "inactive"}} {
		u, err := o.Unit(tc.unit)
		if err != nil || u.ID != tc.unit || u.MainPID != tc.pid || u.ActiveState != tc.act {
			t.Errorf("%s: %+v, %v", tc.unit, u, err)
		}
	}
}

// TestServiceApply checks the commands of an apply: daemon-reload once
// when a unit file changed before, then unmask, enable, start in order.
func TestServiceApply(t *testing.T) {
	blocks := unitBlocks(t)
	a := build(t, "service", "getty@tty1", boolAttrs("state", "running", "enabled", true, "masked", false)).(*Service)
	b := build(t, "service", "tend-no-such", boolAttrs("state", "running")).(*Service)
	reply := append([]string{"F init systemd"}, withBlock(blocks["getty@tty1.service"], "UnitFileState", "masked", "LoadState", "masked")...)
	reply = reply[:len(reply)-1] // one section for both units
	reply = append(reply, blocks["tend-no-such.service"]...)
	_, o := observeAll(t, []Resource{a, b}, reply...)
	ft := &fakeTransport{}
	once := newOnceSet()
	unitFile := &Change{Addr: Addr{Kind: "file", Name: "tend"}, Action: Create,
		Content: &ContentChange{Path: "/etc/systemd/system/tend-no-such.service"}}
	applied := []*Change{unitFile}
	target := &Target{Host: &inventory.Host{Name: "web1"}, Transport: ft, Observed: o, Once: once.Once,
		Applied: func() []*Change { return applied }}
	for _, r := range []*Service{a, b} {
		c, err := r.Diff(o)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Apply(context.Background(), target, c); err != nil {
			t.Fatal(err)
		}
		applied = append(applied, c)
	}
	want := []string{
		"systemctl daemon-reload",
		"systemctl unmask -- getty@tty1.service",
		"systemctl enable -- getty@tty1.service",
		"systemctl start -- getty@tty1.service",
		"systemctl start -- tend-no-such.service",
	}
	if d := cmp.Diff(want, ft.argvs()); d != "" {
		t.Errorf("commands (-want +got):\n%s", d)
	}
	// Notified: a service started in this run is restarted all the same
	// (its start may have been a no-op: a package started it already).
	ft.cmds = nil
	if err := a.Notify(context.Background(), target, "restart"); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"systemctl restart -- getty@tty1.service"}, ft.argvs()); d != "" {
		t.Errorf("notified after its start (-want +got):\n%s", d)
	}
	// A file elsewhere does not reload systemd.
	once2 := newOnceSet()
	target.Once = once2.Once
	applied = []*Change{{Addr: Addr{Kind: "file", Name: "/etc/nginx/nginx.conf"}, Action: Update}}
	ssh := build(t, "service", "ssh", boolAttrs("state", "running", "on_notify", "reload")).(*Service)
	for _, how := range []string{"", "restart"} {
		ft.cmds = nil
		if err := ssh.Notify(context.Background(), target, how); err != nil {
			t.Fatal(err)
		}
		wantCmd := "systemctl reload-or-restart -- ssh.service"
		if how == "restart" {
			wantCmd = "systemctl restart -- ssh.service"
		}
		if d := cmp.Diff([]string{wantCmd}, ft.argvs()); d != "" {
			t.Errorf("notify %q (-want +got):\n%s", how, d)
		}
	}
	stopped := build(t, "service", "ssh", boolAttrs("state", "stopped")).(*Service)
	ft.cmds = nil
	if err := stopped.Notify(context.Background(), target, "restart"); err != nil || len(ft.cmds) != 0 {
		t.Errorf("a stopped service was notified: %v, %v", ft.argvs(), err)
	}
}
