package resources

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"
)

// TestPruneAttrs checks what each kind records to undo its resource, and
// that a resource built from those attributes (as strings, the way the
// engine rebuilds an orphan from the manifest) undoes it on a host where
// the resource is in place.
func TestPruneAttrs(t *testing.T) {
	blocks := unitBlocks(t)
	running := append([]string{"F init systemd"}, blocks["ssh.service"]...)
	for _, tc := range []struct {
		name   string
		kind   string
		label  string
		attrs  map[string]cty.Value
		want   map[string]string
		reply  []string // observed state of the undoing resource: the thing is in place
		action Action
	}{
		{name: "file", kind: "file", label: "/etc/motd", attrs: map[string]cty.Value{"content": str("hi\n"), "mode": str("0600")},
			want:  map[string]string{"path": "/etc/motd", "state": "absent"},
			reply: []string{"R 0 path 8180 0 0 3 root root"}, action: Delete},
		{name: "file by path", kind: "file", label: "motd", attrs: map[string]cty.Value{"path": str("/etc/motd")},
			want: map[string]string{"path": "/etc/motd", "state": "absent"}},
		{name: "absent file", kind: "file", label: "/etc/motd", attrs: map[string]cty.Value{"state": str("absent")}},
		{name: "directory", kind: "directory", label: "/srv/app", attrs: map[string]cty.Value{},
			want:  map[string]string{"path": "/srv/app", "state": "absent"},
			reply: []string{"R 0 path 41ed 0 0 4096 root root"}, action: Delete},
		{name: "symlink", kind: "symlink", label: "/srv/current", attrs: map[string]cty.Value{"target": str("/srv/v1")},
			want:  map[string]string{"path": "/srv/current", "state": "absent"},
			reply: []string{"R 0 path a1ff 0 0 7 root root", "R 0 link /srv/v1"}, action: Delete},
		{name: "package", kind: "package", label: "nginx", attrs: map[string]cty.Value{"state": str("latest")},
			want:  map[string]string{"name": "nginx", "state": "absent"},
			reply: []string{"F pkg_manager apt-get", "D pkg nginx\tamd64\tii \t1.22.1-9", "B pkg dpkg-query 0"}, action: Delete},
		{name: "absent package", kind: "package", label: "telnet", attrs: map[string]cty.Value{"state": str("absent")}},
		{name: "service running and enabled", kind: "service", label: "ssh", attrs: boolAttrs("state", "running", "enabled", true),
			want:  map[string]string{"name": "ssh.service", "state": "stopped", "enabled": "false"},
			reply: running, action: Update},
		{name: "service enabled only", kind: "service", label: "ssh", attrs: boolAttrs("enabled", true),
			want:  map[string]string{"name": "ssh.service", "enabled": "false"},
			reply: running, action: Update},
		{name: "masked service", kind: "service", label: "getty@tty1", attrs: boolAttrs("masked", true, "state", "stopped"),
			want:   map[string]string{"name": "getty@tty1.service", "masked": "false"},
			reply:  append([]string{"F init systemd"}, withBlock(blocks["getty@tty1.service"], "UnitFileState", "masked", "LoadState", "masked")...),
			action: Update},
		{name: "stopped service", kind: "service", label: "ssh", attrs: boolAttrs("state", "stopped", "enabled", false)},
		{name: "user", kind: "user", label: "deploy", attrs: map[string]cty.Value{"shell": str("/bin/bash")},
			want:  map[string]string{"name": "deploy", "state": "absent"},
			reply: []string{"R 0 passwd deploy:x:1001:1001::/home/deploy:/bin/bash"}, action: Delete},
		{name: "absent user", kind: "user", label: "old", attrs: map[string]cty.Value{"state": str("absent")}},
		{name: "group", kind: "group", label: "web", attrs: map[string]cty.Value{},
			want: map[string]string{"name": "web", "state": "absent"}, reply: []string{"R 0 group 4001"}, action: Delete},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := build(t, tc.kind, tc.label, tc.attrs)
			p, ok := r.(Prunable)
			if !ok {
				t.Fatalf("%s is not Prunable", tc.kind)
			}
			got := p.PruneAttrs()
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("PruneAttrs (-want +got):\n%s", diff)
			}
			if tc.reply == nil {
				return
			}
			attrs := map[string]cty.Value{}
			for k, v := range got {
				attrs[k] = str(v)
			}
			undo := build(t, tc.kind, tc.label, attrs)
			c, err := undo.Diff(parseReply(t, undo, tc.reply...))
			if err != nil || c.Action != tc.action {
				t.Errorf("undoing %s: %+v, %v; want %v", tc.kind, c, err, tc.action)
			}
		})
	}
	if _, ok := build(t, "exec", "x", map[string]cty.Value{"command": cty.ListVal([]cty.Value{str("true")})}).(Prunable); ok {
		t.Error("exec is Prunable: a command cannot be undone")
	}
}
