package ssh

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/tendhq/tend/inventory"
)

// awkward holds arguments a shell would mangle if quoting were wrong.
var awkward = []string{
	"plain",
	"two words",
	"",
	"it's",
	`double "quoted"`,
	"'",
	"''",
	`'\''`,
	"$(touch MARKER)",
	"`touch MARKER`",
	"${HOME}",
	"a;touch MARKER",
	"a && touch MARKER",
	"line1\nline2",
	"tab\there",
	"*",
	"-n",
	"--",
	`back\slash`,
	"ünïcödé ✓",
	"#not a comment",
	"~",
	"a|b>c<d",
}

func TestQuoteThroughLocalShell(t *testing.T) {
	// The quoted words must reach a real POSIX shell's program intact.
	line, err := commandLine(inventory.Cmd{Args: append([]string{"printf", `%s\n`}, awkward...)}, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c := exec.Command("sh", "-c", line)
	c.Dir = dir
	out, err := c.Output()
	if err != nil {
		t.Fatalf("sh -c %s: %v", line, err)
	}
	if want := strings.Join(awkward, "\n") + "\n"; string(out) != want {
		t.Errorf("got\n%q\nwant\n%q", out, want)
	}
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		name   string
		cmd    inventory.Cmd
		become string
		want   string
	}{
		{"plain", inventory.Cmd{Args: []string{"id", "-un"}}, "", `'id' '-un'`},
		{"quote", inventory.Cmd{Args: []string{"echo", "it's"}}, "", `'echo' 'it'\''s'`},
		{"env", inventory.Cmd{Args: []string{"x"}, Env: []string{"A=1 2", "B_2="}}, "", `'env' 'A=1 2' 'B_2=' 'x'`},
		{"become", inventory.Cmd{Args: []string{"id"}}, "nobody", `'sudo' '-n' '-u' 'nobody' '--' 'id'`},
		{"become env", inventory.Cmd{Args: []string{"id"}, Env: []string{"A=b"}}, "root",
			`'sudo' '-n' '-u' 'root' '--' 'env' 'A=b' 'id'`},
		{"no become", inventory.Cmd{Args: []string{"id"}, NoBecome: true}, "root", `'id'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := commandLine(tt.cmd, tt.become)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestCommandLineRejects(t *testing.T) {
	for _, c := range []inventory.Cmd{
		{},
		{Args: []string{"x"}, Env: []string{"NOEQUALS"}},
		{Args: []string{"x"}, Env: []string{"=v"}},
		{Args: []string{"x"}, Env: []string{"A B=v"}},
		{Args: []string{"x"}, Env: []string{"1A=v"}},
	} {
		if line, err := commandLine(c, ""); err == nil {
			t.Errorf("commandLine(%q, env %q) = %s, want an error", c.Args, c.Env, line)
		}
	}
}
