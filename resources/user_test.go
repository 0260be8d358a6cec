package resources

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/tendhq/tend/inventory"
)

// Public keys of the tests (the private halves were thrown away).
const (
	keyA = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ4l9zNpE4k3j7m5cKrXUzq0lqzX1qUoYVq8b1ZrGk0G alice@laptop"
	keyB = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHkG7b3Q0Yv2Zx1vM2x8fR3n0B7yqk3p9Vw4z5cD6eFa bob@desk"
	keyC = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE6kqRz2sV9m1Jc0pXw7tY3bN8uH4gF5dS2aQ1lK0zXy ci"
)

// summary is what a plan shows for a key line.
func summary(t testing.TB, line string) string {
	t.Helper()
	k, ok := parseKeyLine(line)
	if !ok {
		t.Fatalf("not a key line: %q", line)
	}
	return k.summary
}

func list(vals ...string) cty.Value {
	if len(vals) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vs := make([]cty.Value, len(vals))
	for i, v := range vals {
		vs[i] = str(v)
	}
	return cty.TupleVal(vs)
}

func TestParseKeyLine(t *testing.T) {
	k, ok := parseKeyLine(`  command="/bin/echo hi",no-pty ` + keyA + "  ")
	if !ok || !strings.HasPrefix(k.summary, "ssh-ed25519 SHA256:") || !strings.HasSuffix(k.summary, " alice@laptop") {
		t.Errorf("parse with options: %+v, %v", k, ok)
	}
	if k2, _ := parseKeyLine(keyA); k2.blob != k.blob {
		t.Error("the same key with options has another identity")
	}
	for _, bad := range []string{"", "# comment", "ssh-ed25519 notbase64", "hello world", keyA + "\n" + keyB} {
		if _, ok := parseKeyLine(bad); ok {
			t.Errorf("%q parsed as a key", bad)
		}
	}
}

func TestUserDiff(t *testing.T) {
	const alice = "R 0 passwd alice:x:1001:1001:Alice:/home/alice:/bin/bash"
	for _, tc := range []struct {
		name    string
		attrs   map[string]cty.Value
		reply   []string
		want    *Change
		wantErr string
	}{
		{name: "create", attrs: map[string]cty.Value{"uid": cty.NumberIntVal(1500), "group": str("staff"),
			"groups": list("sudo", "staff", "adm"), "shell": str("/bin/bash"), "authorized_keys": list(keyA)},
			reply: []string{"R 0 absent", "R 1 absent", "R 2 group 50", "R 3 absent"},
			want: &Change{Action: Create, Attrs: []AttrChange{{Name: "name", After: "alice"}, {Name: "uid", After: "1500"},
				{Name: "group", After: "staff"}, {Name: "groups", After: "adm,sudo"}, {Name: "shell", After: "/bin/bash"},
				{Name: "authorized_keys", After: summary(t, keyA)}}}},
		{name: "converged", attrs: map[string]cty.Value{"uid": cty.NumberIntVal(1001), "group": str("alice"),
			"groups": list("sudo"), "home": str("/home/alice"), "shell": str("/bin/bash"), "authorized_keys": list(keyA)},
			reply: []string{alice, "R 1 groups alice sudo", "R 2 group 1001", "R 3 key " + keyA, "R 3 keys 1"},
			want:  &Change{}},
		{name: "modify", attrs: map[string]cty.Value{"uid": cty.NumberIntVal(1002), "group": str("1005"),
			"home": str("/srv/alice"), "shell": str("/bin/sh")},
			reply: []string{alice, "R 1 groups alice"},
			want: &Change{Action: Update, Attrs: []AttrChange{{Name: "uid", Before: "1001", After: "1002"},
				{Name: "group", Before: "alice", After: "1005"}, {Name: "home", Before: "/home/alice", After: "/srv/alice"},
				{Name: "shell", Before: "/bin/bash", After: "/bin/sh"}}}},
		{name: "primary group created in this run", attrs: map[string]cty.Value{"group": str("devs")},
			reply: []string{alice, "R 1 groups alice", "R 2 absent"},
			want:  &Change{Action: Update, Attrs: []AttrChange{{Name: "group", Before: "alice", After: "devs"}}}},
		{name: "groups appended", attrs: map[string]cty.Value{"groups": list("docker", "sudo")},
			reply: []string{alice, "R 1 groups alice sudo adm"},
			want:  &Change{Action: Update, Attrs: []AttrChange{{Name: "groups", Before: "adm,sudo", After: "adm,docker,sudo"}}}},
		{name: "groups appended already there", attrs: map[string]cty.Value{"groups": list("sudo", "alice")},
			reply: []string{alice, "R 1 groups alice sudo adm"}, want: &Change{}},
		{name: "groups exclusive", attrs: map[string]cty.Value{"groups": list("docker", "sudo"), "groups_exclusive": cty.True},
			reply: []string{alice, "R 1 groups alice sudo adm"},
			want:  &Change{Action: Update, Attrs: []AttrChange{{Name: "groups", Before: "adm,sudo", After: "docker,sudo"}}}},
		{name: "groups exclusive none", attrs: map[string]cty.Value{"groups": list(), "groups_exclusive": cty.True},
			reply: []string{alice, "R 1 groups alice sudo"},
			want:  &Change{Action: Update, Attrs: []AttrChange{{Name: "groups", Before: "sudo"}}}},
		{name: "keys added", attrs: map[string]cty.Value{"authorized_keys": list(keyB)},
			reply: []string{alice, "R 1 groups alice", "R 2 key # laptop", "R 2 key " + keyA, "R 2 keys 2"},
			want: &Change{Action: Update, Attrs: []AttrChange{{Name: "authorized_keys",
				Before: summary(t, keyA), After: summary(t, keyA) + "; " + summary(t, keyB)}}}},
		{name: "keys file missing", attrs: map[string]cty.Value{"authorized_keys": list(keyB)},
			reply: []string{alice, "R 1 groups alice", "R 2 absent"},
			want:  &Change{Action: Update, Attrs: []AttrChange{{Name: "authorized_keys", After: summary(t, keyB)}}}},
		{name: "key options replaced", attrs: map[string]cty.Value{"authorized_keys": list("no-pty " + keyA)},
			reply: []string{alice, "R 1 groups alice", "R 2 key " + keyA, "R 2 key " + keyB, "R 2 keys 2"},
			want: &Change{Action: Update, Attrs: []AttrChange{{Name: "authorized_keys",
				Before: summary(t, keyA) + "; " + summary(t, keyB), After: summary(t, keyA) + "; " + summary(t, keyB)}}}},
		{name: "keys exclusive", attrs: map[string]cty.Value{"authorized_keys": list(keyC, keyB), "authorized_keys_exclusive": cty.True},
			reply: []string{alice, "R 1 groups alice", "R 2 key " + keyA, "R 2 key " + keyB, "R 2 keys 2"},
			want: &Change{Action: Update, Attrs: []AttrChange{{Name: "authorized_keys",
				Before: summary(t, keyA) + "; " + summary(t, keyB), After: summary(t, keyC) + "; " + summary(t, keyB)}}}},
		{name: "keys exclusive converged", attrs: map[string]cty.Value{"authorized_keys": list(keyA), "authorized_keys_exclusive": cty.True},
			reply: []string{alice, "R 1 groups alice", "R 2 key " + keyA, "R 2 keys 1"}, want: &Change{}},
		{name: "delete", attrs: map[string]cty.Value{"state": str("absent")},
			reply: []string{alice}, want: &Change{Action: Delete, Attrs: []AttrChange{{Name: "uid", Before: "1001"}}}},
		{name: "delete absent", attrs: map[string]cty.Value{"state": str("absent")}, reply: []string{"R 0 absent"}, want: &Change{}},
		// A lookup that failed is an error, never "absent".
		{name: "lookup failed", attrs: map[string]cty.Value{},
			reply:   []string{"R 0 error getent passwd alice: status 1: NSS lookup failed", "R 1 error getent passwd: status 1"},
			wantErr: "NSS lookup failed"},
		{name: "keys unreadable", attrs: map[string]cty.Value{"authorized_keys": list(keyA)},
			reply:   []string{alice, "R 1 groups alice", "R 2 error permission denied: /home/alice"},
			wantErr: "observe authorized_keys of user alice: permission denied"},
		{name: "groups failed", attrs: map[string]cty.Value{"groups": list("sudo")},
			reply:   []string{alice, "R 1 error id -Gn alice: id: cannot find name for group ID 1001"},
			wantErr: "cannot find name for group ID 1001"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := build(t, "user", "alice", tc.attrs)
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

func TestGroupDiff(t *testing.T) {
	for _, tc := range []struct {
		name  string
		attrs map[string]cty.Value
		reply string
		want  *Change
	}{
		{"create", map[string]cty.Value{"gid": cty.NumberIntVal(4001), "system": cty.True}, "R 0 absent",
			&Change{Action: Create, Attrs: []AttrChange{{Name: "name", After: "devs"}, {Name: "gid", After: "4001"}, {Name: "system", After: "true"}}}},
		{"converged", map[string]cty.Value{"gid": cty.NumberIntVal(4001)}, "R 0 group 4001", &Change{}},
		{"any gid", map[string]cty.Value{}, "R 0 group 4001", &Change{}},
		{"gid", map[string]cty.Value{"gid": cty.NumberIntVal(4002)}, "R 0 group 4001",
			&Change{Action: Update, Attrs: []AttrChange{{Name: "gid", Before: "4001", After: "4002"}}}},
		{"delete", map[string]cty.Value{"state": str("absent")}, "R 0 group 4001",
			&Change{Action: Delete, Attrs: []AttrChange{{Name: "gid", Before: "4001"}}}},
		{"delete absent", map[string]cty.Value{"state": str("absent")}, "R 0 absent", &Change{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := build(t, "group", "devs", tc.attrs)
			_, o := observeAll(t, []Resource{r}, tc.reply)
			c, err := r.Diff(o)
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
	r := build(t, "group", "devs", nil)
	_, o := observeAll(t, []Resource{r}, "R 0 error getent group devs: status 1: ldap down")
	if _, err := r.Diff(o); err == nil || !strings.Contains(err.Error(), "ldap down") {
		t.Errorf("Diff error = %v", err)
	}
}

// TestUserApplyCommands checks the argv of useradd, usermod and userdel.
func TestUserApplyCommands(t *testing.T) {
	for _, tc := range []struct {
		name  string
		attrs map[string]cty.Value
		reply []string
		want  []string
	}{
		{"create", map[string]cty.Value{"uid": cty.NumberIntVal(1500), "group": str("staff"), "groups": list("sudo", "adm"),
			"home": str("/srv/alice"), "shell": str("/bin/bash")},
			[]string{"R 0 absent", "R 1 absent", "R 2 group 50"},
			[]string{"useradd -m -u 1500 -g staff -G adm,sudo -d /srv/alice -s /bin/bash -- alice"}},
		{"create system", map[string]cty.Value{"system": cty.True}, []string{"R 0 absent", "R 1 absent"},
			[]string{"useradd -r -M -- alice"}},
		{"modify", map[string]cty.Value{"uid": cty.NumberIntVal(1002), "groups": list("docker"), "shell": str("/bin/sh")},
			[]string{"R 0 passwd alice:x:1001:1001::/home/alice:/bin/bash", "R 1 groups alice sudo"},
			[]string{"usermod -u 1002 -a -G docker,sudo -s /bin/sh -- alice"}},
		{"modify exclusive", map[string]cty.Value{"groups": list("docker"), "groups_exclusive": cty.True},
			[]string{"R 0 passwd alice:x:1001:1001::/home/alice:/bin/bash", "R 1 groups alice sudo"},
			[]string{"usermod -G docker -- alice"}},
		{"delete", map[string]cty.Value{"state": str("absent")},
			[]string{"R 0 passwd alice:x:1001:1001::/home/alice:/bin/bash"}, []string{"userdel -- alice"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := build(t, "user", "alice", tc.attrs)
			_, o := observeAll(t, []Resource{r}, tc.reply...)
			c, err := r.Diff(o)
			if err != nil {
				t.Fatal(err)
			}
			ft := &fakeTransport{}
			if err := r.Apply(context.Background(), &Target{Host: &inventory.Host{Name: "web1"}, Transport: ft, Observed: o}, c); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, ft.argvs()); d != "" {
				t.Errorf("commands (-want +got):\n%s", d)
			}
		})
	}
}

// TestUserDiagnostics points at bad attributes.
func TestUserDiagnostics(t *testing.T) {
	for _, tc := range []struct {
		kind, label string
		attrs       map[string]cty.Value
		want        string
	}{
		{"user", "-rf", nil, `"-rf" is not a valid user name`},
		{"user", "1000", nil, `"1000" is not a valid user name`},
		{"user", "alice", map[string]cty.Value{"authorized_keys": list("not a key")}, "is not a public key line"},
		{"user", "alice", map[string]cty.Value{"home": str("relative")}, "must be a clean absolute path"},
		{"user", "alice", map[string]cty.Value{"uid": str("-3")}, "must be a whole number"},
		{"user", "alice", map[string]cty.Value{"state": str("absent"), "uid": cty.NumberIntVal(3)}, "takes no uid"},
		{"user", "alice", map[string]cty.Value{"groups": list("ok", "bad name")}, `"bad name" is not a valid group name`},
		{"group", "a:b", nil, `"a:b" is not a valid group name`},
		{"package", "nginx*", nil, "is not a valid package name"},
		{"package", "nginx", map[string]cty.Value{"name": str("-y")}, "is not a valid package name"},
		{"package", "nginx", map[string]cty.Value{"state": str("latest"), "version": str("1.2")}, "goes with state = \"present\""},
		{"package", "nginx", map[string]cty.Value{"version": str("1.2 || true")}, "is not a package version"},
		{"package", "nginx", map[string]cty.Value{"state": str("installed")}, `must be "present", "latest" or "absent"`},
		{"package", "nginx", map[string]cty.Value{"cache_valid_time": str("soon")}, "is not a positive duration"},
		{"service", "foo@", nil, "is not a valid systemd unit name"},
		{"service", "nginx", map[string]cty.Value{"masked": cty.True, "state": str("running")}, "A masked unit cannot run"},
		{"service", "nginx", map[string]cty.Value{"on_notify": str("kill")}, `must be "restart" or "reload"`},
		{"exec", "x", nil, "An exec needs command"},
		{"exec", "x", map[string]cty.Value{"command": list()}, "An exec needs command"},
		{"exec", "x", map[string]cty.Value{"command": list("A=b", "c")}, "must not contain"},
		{"exec", "x", map[string]cty.Value{"command": list("true"), "unless": list("test", "-e", "a\nb")}, "without newlines"},
		{"exec", "x", map[string]cty.Value{"command": list("true"), "creates": str("rel")}, "clean absolute path"},
		{"exec", "x", map[string]cty.Value{"command": list("true"), "environment": cty.ObjectVal(map[string]cty.Value{"1X": str("y")})}, "is not a variable name"},
		{"exec", "x", map[string]cty.Value{"command": str("ls -l")}, "must be a list of strings"},
	} {
		k := Lookup(tc.kind)
		_, diags := k.New(testBlock(tc.kind, tc.label, tc.attrs))
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
			t.Errorf("%s[%s] %v: diagnostics %v; want %q", tc.kind, tc.label, tc.attrs, diags, tc.want)
		}
		for _, d := range diags {
			if d.Subject == nil {
				t.Errorf("%s[%s]: diagnostic without a subject: %v", tc.kind, tc.label, d)
			}
		}
	}
}
