package resources

import (
	"slices"
	"testing"
)

// TestAddrAppendTo checks that AppendTo appends exactly String().
func TestAddrAppendTo(t *testing.T) {
	for _, a := range []Addr{
		{Kind: "file", Name: "motd"},
		{Kind: "file", Name: "conf", Key: "a b"},
		{Module: "module.app", Kind: "directory", Name: "d"},
		{Module: "module.app[\"x\"]", Kind: "exec", Name: "m", Key: "0"},
		{Kind: "k"},
	} {
		if got, want := string(a.AppendTo([]byte("prefix:"))), "prefix:"+a.String(); got != want {
			t.Errorf("AppendTo = %q, want %q", got, want)
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
