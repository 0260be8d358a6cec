package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestEveryCommandHasHelp checks the man-style help of every command of
// the tree, cobra's help and completion included: a Short line, a Long
// text in sentences and Examples that start with `tend`.
func TestEveryCommandHasHelp(t *testing.T) {
	root := newRoot()
	n := 0
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		n++
		path := c.CommandPath()
		if strings.TrimSpace(c.Short) == "" {
			t.Errorf("%s has no Short", path)
		}
		if long := strings.TrimSpace(c.Long); len(long) < 40 || !strings.ContainsAny(long, ".") {
			t.Errorf("%s has no Long text in sentences: %q", path, long)
		}
		ex := strings.TrimSpace(c.Example)
		if ex == "" {
			t.Errorf("%s has no Example", path)
		}
		for _, line := range strings.Split(ex, "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.Contains(line, "tend") {
				t.Errorf("%s: example line %q does not run tend", path, line)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	// validate, plan, apply, graph, fmt, version, agent (pause, resume),
	// status, sync, history, rollback, release (rollback), install-agent,
	// help, completion (bash, zsh, fish, powershell) and the root.
	if n < 23 {
		t.Errorf("walked %d commands, want at least 23: is a command missing from the tree?", n)
	}
}

// TestHelpShowsLongAndExamples checks that `tend help CMD` and
// `tend CMD --help` print the texts.
func TestHelpShowsLongAndExamples(t *testing.T) {
	for _, args := range [][]string{{"help", "agent"}, {"agent", "--help"}} {
		r := tend(t, args...)
		for _, want := range []string{"Pull mode (--local)", "Examples:", "tend agent --local -c /etc/tend/agent.hcl --host web-1", "--shard"} {
			if r.code != 0 || !strings.Contains(r.stdout, want) {
				t.Errorf("tend %s lacks %q:\n%s", strings.Join(args, " "), want, r)
			}
		}
	}
	if r := tend(t, "help", "install-agent"); r.code != 0 || !strings.Contains(r.stdout, "--dry-run") || !strings.Contains(r.stdout, "tend-agent.service") {
		t.Errorf("tend help install-agent:\n%s", r)
	}
}

// TestCompletion checks `tend completion bash|zsh|fish`: each prints a
// script of its shell that completes tend's commands.
func TestCompletion(t *testing.T) {
	for shell, want := range map[string]string{
		"bash": "complete -o default -F __start_tend tend",
		"zsh":  "#compdef tend",
		"fish": "complete -c tend",
	} {
		r := tend(t, "completion", shell)
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("tend completion %s lacks %q:\n%.400s", shell, want, r.stdout)
		}
	}
	// The scripts ask tend itself (cobra's __complete) for candidates:
	// subcommands, and flag names.
	r := tend(t, "__complete", "ag")
	if r.code != 0 || !strings.Contains(r.stdout, "agent\t") {
		t.Errorf("tend __complete ag does not offer agent:\n%s", r)
	}
	r = tend(t, "__complete", "plan", "--sha")
	if r.code != 0 || !strings.Contains(r.stdout, "--shard\t") {
		t.Errorf("tend __complete plan --sha does not offer --shard:\n%s", r)
	}
	if r := tend(t, "completion", "tcsh"); r.code == 0 {
		t.Errorf("tend completion tcsh succeeded:\n%s", r)
	}
}
