package resources

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"
)

// Hashes of the contents the recorded replies below talk about.
const (
	hashX     = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881" // "x"
	hashHello = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03" // "hello\n"
	hashEmpty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" // ""
)

// diffCase is one Diff of a resource built from attrs against a recorded
// probe reply. Records are the reply's R lines (query 0 is the path, then
// the owner's user query, then the group's, for names only).
type diffCase struct {
	name    string
	kind    string
	attrs   map[string]cty.Value
	records []string
	want    *Change // Addr is filled in from the resource
	wantErr string  // a substring of the error; want is ignored
}

func runDiffCases(t *testing.T, cases []diffCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := build(t, tc.kind, "/srv/app/x", tc.attrs)
			o := parseReply(t, r, tc.records...)
			c, err := r.Diff(o)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Diff = %+v, %v; want an error containing %q", c, err, tc.wantErr)
				}
				if c != nil {
					t.Errorf("Diff returned a change with its error: %+v", c)
				}
				return
			}
			if err != nil {
				t.Fatalf("Diff: %v", err)
			}
			want := *tc.want
			want.Addr = r.Addr()
			if pr, ok := r.(PathResource); ok {
				want.Path = pr.Path()
			}
			if d := cmp.Diff(&want, c); d != "" {
				t.Errorf("Diff (-want +got):\n%s", d)
			}
			// Diff is pure: the same inputs give the same change.
			again, err := r.Diff(o)
			if err != nil || cmp.Diff(c, again) != "" {
				t.Errorf("second Diff differs: %+v, %v", again, err)
			}
		})
	}
}

func TestFileDiff(t *testing.T) {
	x := map[string]cty.Value{"content": str("x")}
	with := func(kv ...string) map[string]cty.Value {
		m := map[string]cty.Value{"content": str("x")}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = str(kv[i+1])
		}
		return m
	}
	createX := &ContentChange{Path: "/srv/app/x", BeforeSize: -1, AfterSize: 1, AfterHash: hashX, After: []byte("x"), BeforeKnown: true}
	updateX := &ContentChange{Path: "/srv/app/x", BeforeSize: 6, BeforeHash: hashHello, AfterSize: 1, AfterHash: hashX, After: []byte("x")}
	runDiffCases(t, []diffCase{
		{
			name: "create", kind: "file", attrs: x,
			records: []string{"R 0 absent"},
			want: &Change{Action: Create, Content: createX,
				Attrs: []AttrChange{{Name: "mode", After: "0644"}}},
		},
		{
			name: "create with mode owner group", kind: "file",
			attrs:   with("mode", "0600", "owner", "app", "group", "www-data"),
			records: []string{"R 0 absent", "R 1 user 1001 1001", "R 2 group 33"},
			want: &Change{Action: Create, Content: createX, Attrs: []AttrChange{
				{Name: "mode", After: "0600"}, {Name: "owner", After: "app"}, {Name: "group", After: "www-data"},
			}},
		},
		{
			name: "create under a missing parent", kind: "file", attrs: x,
			// the probe says absent when a parent is missing or a file
			records: []string{"R 0 absent"},
			want: &Change{Action: Create, Content: createX,
				Attrs: []AttrChange{{Name: "mode", After: "0644"}}},
		},
		{
			name: "no-op", kind: "file", attrs: with("mode", "0644", "owner", "root", "group", "root"),
			records: []string{"R 0 path 81a4 0 0 1 root root", "R 0 sha " + hashX, "R 1 user 0 0", "R 2 group 0"},
			want:    &Change{Action: NoOp},
		},
		{
			name: "no-op with numeric ids", kind: "file", attrs: with("owner", "65534", "group", "65534"),
			records: []string{"R 0 path 81a4 65534 65534 1 nobody nogroup", "R 0 sha " + hashX},
			want:    &Change{Action: NoOp},
		},
		{
			name: "no-op numeric ids of accounts without names", kind: "file", attrs: with("owner", "4242", "group", "4343"),
			records: []string{"R 0 path 81a4 4242 4343 1 UNKNOWN UNKNOWN", "R 0 sha " + hashX},
			want:    &Change{Action: NoOp},
		},
		{
			name: "update content", kind: "file", attrs: x,
			records: []string{"R 0 path 81a4 0 0 6 root root", "R 0 sha " + hashHello},
			want:    &Change{Action: Update, Content: updateX},
		},
		{
			name: "update content of an empty file", kind: "file", attrs: x,
			records: []string{"R 0 path 81a4 0 0 0 root root", "R 0 sha " + hashEmpty},
			want: &Change{Action: Update, Content: &ContentChange{Path: "/srv/app/x", BeforeSize: 0, BeforeHash: hashEmpty,
				AfterSize: 1, AfterHash: hashX, After: []byte("x")}},
		},
		{
			name: "update mode", kind: "file", attrs: with("mode", "0640"),
			records: []string{"R 0 path 81a4 0 0 1 root root", "R 0 sha " + hashX},
			want: &Change{Action: Update, Attrs: []AttrChange{
				{Name: "mode", Before: "0644", After: "0640"}}},
		},
		{
			name: "update mode setuid", kind: "file", attrs: with("mode", "4755"),
			records: []string{"R 0 path 81ed 0 0 1 root root", "R 0 sha " + hashX},
			want: &Change{Action: Update, Attrs: []AttrChange{
				{Name: "mode", Before: "0755", After: "4755"}}},
		},
		{
			name: "no-op mode setuid", kind: "file", attrs: with("mode", "4755"),
			records: []string{"R 0 path 89ed 0 0 1 root root", "R 0 sha " + hashX},
			want:    &Change{Action: NoOp},
		},
		{
			name: "update owner and group by name", kind: "file", attrs: with("owner", "app", "group", "app"),
			records: []string{"R 0 path 81a4 0 0 1 root root", "R 0 sha " + hashX, "R 1 user 1001 1001", "R 2 group 1001"},
			want: &Change{Action: Update, Attrs: []AttrChange{
				{Name: "owner", Before: "root", After: "app"},
				{Name: "group", Before: "root", After: "app"}}},
		},
		{
			name: "update owner by numeric id", kind: "file", attrs: with("owner", "65534"),
			records: []string{"R 0 path 81a4 0 0 1 root root", "R 0 sha " + hashX},
			want: &Change{Action: Update, Attrs: []AttrChange{
				{Name: "owner", Before: "root", After: "65534"}}},
		},
		{
			name: "update group by numeric id", kind: "file", attrs: with("group", "0"),
			records: []string{"R 0 path 81a4 0 33 1 root www-data", "R 0 sha " + hashX},
			want: &Change{Action: Update, Attrs: []AttrChange{
				{Name: "group", Before: "www-data", After: "0"}}},
		},
		{
			name: "update owner to a user the host does not have yet", kind: "file", attrs: with("owner", "app"),
			records: []string{"R 0 path 81a4 0 0 1 root root", "R 0 sha " + hashX, "R 1 absent"},
			want: &Change{Action: Update, Attrs: []AttrChange{
				{Name: "owner", Before: "root", After: "app"}}},
		},
		{
			name: "update content and mode", kind: "file", attrs: with("mode", "0600"),
			records: []string{"R 0 path 81a4 0 0 6 root root", "R 0 sha " + hashHello},
			want: &Change{Action: Update, Content: updateX, Attrs: []AttrChange{
				{Name: "mode", Before: "0644", After: "0600"}}},
		},
		{
			name: "delete", kind: "file", attrs: map[string]cty.Value{"state": str("absent")},
			records: []string{"R 0 path 81a4 0 0 6 root root"},
			want:    &Change{Action: Delete},
		},
		{
			name: "delete a symlink in the way", kind: "file", attrs: map[string]cty.Value{"state": str("absent")},
			records: []string{"R 0 path a1ff 0 0 4 root root", "R 0 link /etc"},
			want:    &Change{Action: Delete},
		},
		{
			name: "absent and missing", kind: "file", attrs: map[string]cty.Value{"state": str("absent")},
			records: []string{"R 0 absent"},
			want:    &Change{Action: NoOp},
		},
		{
			name: "absent but a directory", kind: "file", attrs: map[string]cty.Value{"state": str("absent")},
			records: []string{"R 0 path 41ed 0 0 4096 root root"},
			wantErr: "is a directory",
		},
		{
			name: "absent but a fifo", kind: "file", attrs: map[string]cty.Value{"state": str("absent")},
			records: []string{"R 0 path 11a4 0 0 0 root root"},
			wantErr: "special file",
		},
		{
			name: "file over a directory", kind: "file", attrs: x,
			records: []string{"R 0 path 41ed 0 0 4096 root root"},
			wantErr: "is a directory",
		},
		{
			name: "file over a fifo", kind: "file", attrs: x,
			records: []string{"R 0 path 11a4 0 0 0 root root"},
			wantErr: "special file",
		},
		{
			name: "symlink replaced by file", kind: "file", attrs: x,
			records: []string{"R 0 path a1ff 0 0 9 root root", "R 0 link /etc/motd"},
			want: &Change{Action: Update, Content: createX, Attrs: []AttrChange{
				{Name: "type", Before: "symlink", After: "file"},
				{Name: "mode", After: "0644"},
			}},
		},
		{
			name: "error record", kind: "file", attrs: x,
			records: []string{"R 0 error permission denied: /srv/app"},
			wantErr: "permission denied",
		},
		{
			name: "error record after the stat (unreadable file)", kind: "file", attrs: x,
			records: []string{"R 0 path 8180 0 0 6 root root", "R 0 error sha256sum: /srv/app/x: Permission denied"},
			wantErr: "Permission denied",
		},
		{
			name: "error record of an absent file", kind: "file", attrs: map[string]cty.Value{"state": str("absent")},
			records: []string{"R 0 error stat: cannot statx"},
			wantErr: "cannot statx",
		},
		{
			name: "content unmanaged, existing", kind: "file", attrs: map[string]cty.Value{"mode": str("0644")},
			// no sha record: the content is not hashed when not managed
			records: []string{"R 0 path 81a4 0 0 123456 root root"},
			want:    &Change{Action: NoOp},
		},
		{
			name: "content unmanaged, mode differs", kind: "file", attrs: map[string]cty.Value{"mode": str("0600")},
			records: []string{"R 0 path 81a4 0 0 123456 root root"},
			want: &Change{Action: Update, Attrs: []AttrChange{
				{Name: "mode", Before: "0644", After: "0600"}}},
		},
		{
			name: "content unmanaged, missing", kind: "file", attrs: map[string]cty.Value{},
			records: []string{"R 0 absent"},
			want: &Change{Action: Create, Attrs: []AttrChange{{Name: "mode", After: "0644"}},
				Content: &ContentChange{Path: "/srv/app/x", BeforeSize: -1, AfterHash: hashEmpty, After: []byte{}, BeforeKnown: true}},
		},
		{
			name: "empty content managed", kind: "file", attrs: map[string]cty.Value{"content": str("")},
			records: []string{"R 0 path 81a4 0 0 1 root root", "R 0 sha " + hashX},
			want: &Change{Action: Update, Content: &ContentChange{Path: "/srv/app/x", BeforeSize: 1, BeforeHash: hashX,
				AfterHash: hashEmpty, After: []byte{}}},
		},
		{
			name: "sensitive binary content", kind: "file",
			attrs:   map[string]cty.Value{"content": str("a\x00b"), "sensitive": cty.True},
			records: []string{"R 0 absent"},
			want: &Change{Action: Create, Attrs: []AttrChange{{Name: "mode", After: "0644"}},
				Content: &ContentChange{Path: "/srv/app/x", BeforeSize: -1, AfterSize: 3, AfterHash: HashOf([]byte("a\x00b")),
					After: []byte("a\x00b"), BeforeKnown: true, Sensitive: true, Binary: true}},
		},
	})
}

func TestDirectoryDiff(t *testing.T) {
	none := map[string]cty.Value{}
	absent := map[string]cty.Value{"state": str("absent")}
	runDiffCases(t, []diffCase{
		{
			name: "create", kind: "directory", attrs: none,
			records: []string{"R 0 absent"},
			want:    &Change{Action: Create, Attrs: []AttrChange{{Name: "mode", After: "0755"}}},
		},
		{
			name: "create setgid owned", kind: "directory",
			attrs:   map[string]cty.Value{"mode": str("2775"), "owner": str("app"), "group": str("1001")},
			records: []string{"R 0 absent", "R 1 user 1001 1001"},
			want: &Change{Action: Create, Attrs: []AttrChange{
				{Name: "mode", After: "2775"}, {Name: "owner", After: "app"}, {Name: "group", After: "1001"}}},
		},
		{
			name: "no-op unmanaged", kind: "directory", attrs: none,
			records: []string{"R 0 path 41c0 1001 1001 4096 app app"},
			want:    &Change{Action: NoOp},
		},
		{
			name: "no-op setgid", kind: "directory", attrs: map[string]cty.Value{"mode": str("2775")},
			records: []string{"R 0 path 45fd 0 0 4096 root root"},
			want:    &Change{Action: NoOp},
		},
		{
			name: "update mode to setgid", kind: "directory", attrs: map[string]cty.Value{"mode": str("2775")},
			records: []string{"R 0 path 41ed 0 0 4096 root root"},
			want: &Change{Action: Update, Attrs: []AttrChange{
				{Name: "mode", Before: "0755", After: "2775"}}},
		},
		{
			name: "update owner and group", kind: "directory",
			attrs:   map[string]cty.Value{"owner": str("nobody"), "group": str("65534")},
			records: []string{"R 0 path 41ed 0 0 4096 root root", "R 1 user 65534 65534"},
			want: &Change{Action: Update, Attrs: []AttrChange{
				{Name: "owner", Before: "root", After: "nobody"},
				{Name: "group", Before: "root", After: "65534"}}},
		},
		{
			name: "delete", kind: "directory", attrs: absent,
			records: []string{"R 0 path 41ed 0 0 4096 root root"},
			want:    &Change{Action: Delete},
		},
		{
			name: "absent and missing", kind: "directory", attrs: absent,
			records: []string{"R 0 absent"},
			want:    &Change{Action: NoOp},
		},
		{
			name: "absent but a file", kind: "directory", attrs: absent,
			records: []string{"R 0 path 81a4 0 0 6 root root"},
			wantErr: "not a directory",
		},
		{
			name: "directory over a file", kind: "directory", attrs: none,
			records: []string{"R 0 path 81a4 0 0 6 root root"},
			wantErr: "is a file, not a directory",
		},
		{
			name: "symlink to a directory is not followed", kind: "directory", attrs: none,
			records: []string{"R 0 path a1ff 0 0 4 root root", "R 0 link /srv"},
			wantErr: "is a symlink, not a directory",
		},
		{
			name: "error record", kind: "directory", attrs: none,
			records: []string{"R 0 error permission denied: /srv/app"},
			wantErr: "permission denied",
		},
		{
			name: "error record of an absent directory", kind: "directory", attrs: absent,
			records: []string{"R 0 error permission denied: /srv/app"},
			wantErr: "permission denied",
		},
	})
}

func TestSymlinkDiff(t *testing.T) {
	to := func(target string, kv ...any) map[string]cty.Value {
		m := map[string]cty.Value{"target": str(target)}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1].(cty.Value)
		}
		return m
	}
	absent := map[string]cty.Value{"state": str("absent")}
	runDiffCases(t, []diffCase{
		{
			name: "create", kind: "symlink", attrs: to("/srv/app/releases/2"),
			records: []string{"R 0 absent"},
			want:    &Change{Action: Create, Attrs: []AttrChange{{Name: "target", After: "/srv/app/releases/2"}}},
		},
		{
			name: "no-op", kind: "symlink", attrs: to("releases/2 (new)"),
			records: []string{"R 0 path a1ff 0 0 16 root root", "R 0 link releases/2 (new)"},
			want:    &Change{Action: NoOp},
		},
		{
			name: "update target", kind: "symlink", attrs: to("/srv/app/releases/2"),
			records: []string{"R 0 path a1ff 0 0 19 root root", "R 0 link /srv/app/releases/1"},
			want: &Change{Action: Update, Attrs: []AttrChange{
				{Name: "target", Before: "/srv/app/releases/1", After: "/srv/app/releases/2"}}},
		},
		{
			name: "file in the way", kind: "symlink", attrs: to("/etc/motd"),
			records: []string{"R 0 path 81a4 0 0 6 root root"},
			wantErr: "force",
		},
		{
			name: "file replaced with force", kind: "symlink", attrs: to("/etc/motd", "force", cty.True),
			records: []string{"R 0 path 81a4 0 0 6 root root"},
			want: &Change{Action: Update, Attrs: []AttrChange{
				{Name: "type", Before: "file", After: "symlink"},
				{Name: "target", After: "/etc/motd"}}},
		},
		{
			name: "directory never replaced", kind: "symlink", attrs: to("/etc", "force", cty.True),
			records: []string{"R 0 path 41ed 0 0 4096 root root"},
			wantErr: "is a directory",
		},
		{
			name: "fifo never replaced", kind: "symlink", attrs: to("/etc", "force", cty.True),
			records: []string{"R 0 path 11a4 0 0 0 root root"},
			wantErr: "is a special file, not a symlink",
		},
		{
			name: "delete", kind: "symlink", attrs: absent,
			records: []string{"R 0 path a1ff 0 0 4 root root", "R 0 link /etc"},
			want:    &Change{Action: Delete, Attrs: []AttrChange{{Name: "target", Before: "/etc"}}},
		},
		{
			name: "absent and missing", kind: "symlink", attrs: absent,
			records: []string{"R 0 absent"},
			want:    &Change{Action: NoOp},
		},
		{
			name: "absent but a file", kind: "symlink", attrs: absent,
			records: []string{"R 0 path 81a4 0 0 6 root root"},
			wantErr: "not a symlink",
		},
		{
			name: "error record", kind: "symlink", attrs: to("/etc"),
			records: []string{"R 0 error permission denied: /srv"},
			wantErr: "permission denied",
		},
		{
			name: "error record from readlink", kind: "symlink", attrs: to("/etc"),
			records: []string{"R 0 path a1ff 0 0 4 root root", "R 0 error readlink: /srv/app/x: No such file or directory"},
			wantErr: "readlink",
		},
	})
}

// TestFileObserve checks what a file asks the probe for: the hash only when
// the content is managed, and the ids of named accounts only.
func TestFileObserve(t *testing.T) {
	for _, tc := range []struct {
		attrs map[string]cty.Value
		want  string // the probe's stdin
	}{
		{map[string]cty.Value{"content": str("x")}, "h\t/srv/app/x\n"},
		{map[string]cty.Value{"mode": str("0600")}, "p\t/srv/app/x\n"},
		{map[string]cty.Value{"content": str("x"), "owner": str("app"), "group": str("app")}, "h\t/srv/app/x\nu\tapp\ng\tapp\n"},
		{map[string]cty.Value{"content": str("x"), "owner": str("0"), "group": str("65534")}, "h\t/srv/app/x\n"},
	} {
		p := NewProbe()
		build(t, "file", "/srv/app/x", tc.attrs).Observe(p)
		if got := stdinOf(t, p); got != tc.want {
			t.Errorf("%v: probe input = %q, want %q", tc.attrs, got, tc.want)
		}
	}
}

// TestProbeDedup checks that resources sharing a path, account or group
// share one query, and that a hashing resource upgrades a plain stat.
func TestProbeDedup(t *testing.T) {
	p := NewProbe()
	build(t, "directory", "/srv/app", map[string]cty.Value{"owner": str("app")}).Observe(p)
	build(t, "symlink", "/srv/app/x", map[string]cty.Value{"target": str("/etc")}).Observe(p)
	build(t, "file", "/srv/app/x", map[string]cty.Value{"content": str("x"), "owner": str("app")}).Observe(p)
	build(t, "file", "/srv/app/y", map[string]cty.Value{"owner": str("app")}).Observe(p)
	want := "p\t/srv/app\nu\tapp\nh\t/srv/app/x\np\t/srv/app/y\n"
	if got := stdinOf(t, p); got != want {
		t.Errorf("probe input = %q, want %q", got, want)
	}
}

func stdinOf(t *testing.T, p *Probe) string {
	t.Helper()
	var b strings.Builder
	c := p.Cmd()
	if c.Stdin == nil {
		t.Fatal("probe command has no stdin")
	}
	buf := make([]byte, 4096)
	for {
		n, err := c.Stdin.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}

// TestParseProbeRecords covers the record rules the kinds rely on.
func TestParseProbeRecords(t *testing.T) {
	p := NewProbe()
	p.Path("/a", true)
	p.Path("/b", false)
	p.User("app")
	p.Group("app")
	for name, reply := range map[string]string{
		"symlink without target":   "R 0 path a1ff 0 0 4 root root\nR 1 absent\nR 2 absent\nR 3 absent",
		"two targets":              "R 0 path a1ff 0 0 4 root root\nR 0 link /x\nR 0 link /y\nR 1 absent\nR 2 absent\nR 3 absent",
		"link of a file":           "R 0 path 81a4 0 0 4 root root\nR 0 sha " + hashX + "\nR 0 link /x\nR 1 absent\nR 2 absent\nR 3 absent",
		"sha of a stat-only path":  "R 0 absent\nR 1 path 81a4 0 0 1 root root\nR 1 sha " + hashX + "\nR 2 absent\nR 3 absent",
		"bad sha":                  "R 0 path 81a4 0 0 4 root root\nR 0 sha XYZ\nR 1 absent\nR 2 absent\nR 3 absent",
		"absent with junk":         "R 0 absent junk\nR 1 absent\nR 2 absent\nR 3 absent",
		"user record for a group":  "R 0 absent\nR 1 absent\nR 2 absent\nR 3 user 1 1",
		"path record for a user":   "R 0 absent\nR 1 absent\nR 2 path 81a4 0 0 1 root root\nR 3 absent",
		"user record short":        "R 0 absent\nR 1 absent\nR 2 user 1001\nR 3 absent",
		"group record not numeric": "R 0 absent\nR 1 absent\nR 2 absent\nR 3 group www",
		"bad mode":                 "R 0 path zz 0 0 1 root root\nR 1 absent\nR 2 absent\nR 3 absent",
		"bad uid":                  "R 0 absent\nR 1 path 81a4 x 0 1 root root\nR 2 absent\nR 3 absent",
		"path after error":         "R 0 error boom\nR 0 path 81a4 0 0 1 root root\nR 1 absent\nR 2 absent\nR 3 absent",
		"bad uid fact":             "F uid root\nR 0 absent\nR 1 absent\nR 2 absent\nR 3 absent",
		"empty":                    "",
	} {
		full := "T tend-probe 1\n" + reply + "\nE 4\n"
		if name == "empty" {
			full = ""
		}
		if _, err := ParseProbe(p, []byte(full)); err == nil {
			t.Errorf("%s: no error for\n%s", name, full)
		}
	}

	// An error record after a path record wins; later records are ignored.
	o, err := ParseProbe(p, []byte("T tend-probe 1\nR 0 path 81a4 0 0 4 root root\nR 0 error sha256sum: /a: Permission denied\nR 0 sha "+hashX+
		"\nR 1 path a1ff 0 0 1 root root\nR 1 error readlink: gone\nR 1 link x\nR 2 user 1001 1002\nR 3 group 1003\nE 4\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/a", "/b"} {
		if s, err := o.Path(path); err == nil {
			t.Errorf("%s: %+v, want the error", path, s)
		}
	}
	if a, err := o.User("app"); err != nil || !a.Exists || a.ID != 1001 || a.GID != 1002 {
		t.Errorf("user = %+v, %v", a, err)
	}
	if a, err := o.Group("app"); err != nil || !a.Exists || a.ID != 1003 {
		t.Errorf("group = %+v, %v", a, err)
	}
	if _, err := o.User("other"); err == nil {
		t.Error("an account that was not probed must be an error")
	}
	if _, err := o.Path("/c"); err == nil {
		t.Error("a path that was not probed must be an error")
	}

	// An error record without a message is still an error, never absent.
	o, err = ParseProbe(p, []byte("T tend-probe 1\nR 0 error \nR 1 absent\nR 2 absent\nR 3 absent\nE 4\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s, err := o.Path("/a"); err == nil {
		t.Errorf("empty error record read as %+v", s)
	}
	o, err = ParseProbe(p, []byte("T tend-probe 1\nR 0 absent\nR 1 absent\nR 2 error \nR 3 error getent failed\nE 4\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a, err := o.User("app"); err == nil {
		t.Errorf("empty error record of a user read as %+v", a)
	}
	if a, err := o.Group("app"); err == nil || !strings.Contains(err.Error(), "getent failed") {
		t.Errorf("group: %+v, %v", a, err)
	}
}
