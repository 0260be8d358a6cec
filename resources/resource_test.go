package resources

import (
	"slices"
	"strings"
	"testing"
)

// TestAddrString checks the printed forms of addresses, and that AppendTo
// appends the same after what the buffer holds.
func TestAddrString(t *testing.T) {
	for _, tc := range []struct {
		a    Addr
		want string
	}{
		{Addr{Kind: "file", Name: "motd"}, "file[motd]"},
		{Addr{Kind: "file", Name: "conf", Key: "a b"}, "file.conf[a b]"},
		{Addr{Module: "module.app", Kind: "directory", Name: "d"}, "module.app.directory[d]"},
		{Addr{Module: `module.app["x"]`, Kind: "exec", Name: "m", Key: "0"}, `module.app["x"].exec.m[0]`},
		{Addr{Kind: "file", Name: strings.Repeat("n", 200)}, "file[" + strings.Repeat("n", 200) + "]"},
	} {
		if got := tc.a.String(); got != tc.want {
			t.Errorf("String = %q, want %q", got, tc.want)
		}
		if got := string(tc.a.AppendTo([]byte("prefix:"))); got != "prefix:"+tc.want {
			t.Errorf("AppendTo = %q, want %q", got, "prefix:"+tc.want)
		}
	}
}

// TestPermsRequires checks a file's and a directory's requirements by
// owner and group, asked twice (the second answer is remembered): names
// are required, numeric IDs are not.
func TestPermsRequires(t *testing.T) {
	for _, tc := range []struct {
		owner, group string
		want         []string
	}{
		{"", "", nil},
		{"app", "", []string{"user app"}},
		{"", "web", []string{"group web"}},
		{"app", "web", []string{"user app", "group web"}},
		{"1000", "web", []string{"group web"}},
		{"app", "1000", []string{"user app"}},
		{"0", "0", nil},
	} {
		for range 2 {
			p := perms{owner: tc.owner, group: tc.group}
			if got := p.requires(); !slices.Equal(got, tc.want) {
				t.Errorf("owner %q group %q: requires %q, want %q", tc.owner, tc.group, got, tc.want)
			}
		}
	}
}
