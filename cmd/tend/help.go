package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// help is the man-style text of every command that does not set its own:
// Long (what it does, in whole sentences) and Example, by command path.
// addHelp fills them in after the tree is built, so that `tend help CMD`,
// `tend CMD --help` and `make man` show them; a command that sets Long or
// Example itself keeps its own. help_test.go checks every command has both.
var help = map[string]struct{ long, example string }{
	"tend": {
		long: `tend converges hosts to the state their HCL specs describe, as Terraform
does for clouds and Argo CD for Kubernetes: files, directories, symlinks,
packages, services, users, groups, commands and application releases.

It reaches hosts over SSH (push mode: plan, apply, agent) or runs on each host
itself (pull mode: agent --local). Each host is observed with one batched
probe, a plan shows what differs, and apply changes only that, in dependency
order, then probes again to verify.

Exit codes: 0 success, 1 an error (invalid specs, a failed host), 2 with
plan --detailed-exitcode when something would change.`,
		example: `  tend validate -i inventory.hcl specs/
  tend plan -i inventory.hcl specs/
  tend apply -i inventory.hcl --limit group:web specs/
  tend agent -c /etc/tend/agent.hcl`,
	},
	"tend validate": {
		long: `Check the specs (every *.hcl file of SPEC_DIR) and, with -i, the inventory
and each selected host's compiled graph, without contacting any host. Every
problem is listed with its file:line:column and a source snippet; the exit
code is 1 when there is an error.

Without -i, roles are checked against a placeholder host, and secret()
values that cannot be decrypted are treated as unknown rather than errors.`,
		example: `  tend validate specs/
  tend validate -i inventory/ --var env=staging specs/
  tend validate --repo https://git.example.com/infra/hosts.git --ref main --path specs`,
	},
	"tend plan": {
		long: `Compile the specs for every selected host, observe each host with one
batched probe, and show what apply would change: resources to create,
update or delete, with diffs of file contents and attributes (sensitive
values are masked). Nothing is changed on any host.

Hosts are reached over SSH as the inventory says, or this machine through
the local transport with --local. --limit selects hosts by name, glob or
group; --shard takes one part of a fleet split among several control hosts.`,
		example: `  tend plan -i inventory.hcl specs/
  tend plan -i inventory.hcl --limit 'web*,group:db' -o markdown specs/
  tend plan -i inventory.hcl --shard 2/3 specs/
  tend plan --local --detailed-exitcode examples/quickstart`,
	},
	"tend apply": {
		long: `Plan every selected host, apply the changes in dependency order (in
parallel where the graph allows and up to --parallel hosts at once, in
rolling batches where a role has a rollout block), run notified handlers,
and probe again to verify. A resource that still differs is reported as not
converged. A host that cannot be reached or fails never stops the others,
unless a rollout's failure budget says so.

Each host is locked while it is applied, so two applies (or an agent) never
interleave their changes on it.`,
		example: `  tend apply -i inventory.hcl specs/
  tend apply -i inventory.hcl --limit host:web-1 --dry-run specs/
  tend apply -i inventory.hcl --shard 1/4 --parallel 50 specs/
  tend apply --local --state-dir /tmp/tend-quickstart/state examples/quickstart`,
	},
	"tend graph": {
		example: `  tend graph -i inventory.hcl --host web-1 specs/ | dot -Tsvg > web-1.svg
  tend graph --local examples/quickstart`,
	},
	"tend fmt": {
		example: `  tend fmt
  tend fmt --check --diff specs/ inventory.hcl`,
	},
	"tend version": {
		long: `Print tend's version and, when known, the Git revision it was built from.
make build embeds both; go install takes them from the module and its build
information.`,
		example: `  tend version`,
	},
	"tend agent": {
		long: `Run the agent: follow a Git branch (polling, or at once on a push
webhook), plan every host of the inventory at each new revision, apply it
where the sync policy is auto and a sync window is open, check for drift and
correct it with self_heal, keep a history of every sync, and serve an HTTP
API, a web UI and Prometheus metrics at the listen address of agent.hcl.

Push mode (the default) reaches hosts over SSH; --shard i/n takes one part of
the inventory, so that n agents share a fleet. Pull mode (--local) converges
only this machine through the local transport: it is the inventory host
named --host, or this machine's host name. tend install-agent sets pull mode
up as a systemd service. --check only checks agent.hcl.`,
		example: `  tend agent -c /etc/tend/agent.hcl
  tend agent -c agent.hcl --shard 2/3
  tend agent --local -c /etc/tend/agent.hcl --host web-1
  tend agent --check -c /etc/tend/agent.hcl`,
	},
	"tend agent pause": {
		long: `Suspend the auto-sync of a role (of the whole agent without ROLE) on a
running agent. Drift is still detected and shown; new revisions wait for
tend sync or tend agent resume.`,
		example: `  tend agent pause web --server http://127.0.0.1:7070
  TEND_TOKEN=... tend agent pause`,
	},
	"tend agent resume": {
		long: `Resume the auto-sync of a role (of the whole agent without ROLE) that
pause or a rollback suspended.`,
		example: `  tend agent resume web
  tend agent resume`,
	},
	"tend status": {
		long: `Show a running agent's source, head revision, sync policy, paused roles
and sync windows, and a table of its hosts: Synced, OutOfSync (and why),
Failed or Unreachable, with the revision each was applied at.`,
		example: `  tend status
  tend status --server http://ctl1:7070 --token "$TEND_TOKEN"`,
	},
	"tend sync": {
		long: `Ask a running agent to apply its target revision now, to every host or to
the hosts of --role and --host, and wait for the result. The sync is
recorded in the history with the token's name as who asked.`,
		example: `  tend sync
  tend sync --role web
  tend sync --host web-1 --host web-2`,
	},
	"tend history": {
		long: `List a running agent's syncs (revision, commit author and message,
trigger, who asked, duration, result per host) and drift events, newest
first.`,
		example: `  tend history
  tend history --limit 100`,
	},
	"tend rollback": {
		long: `Apply again the revision of sync ID (from tend history) to its hosts and
suspend the auto-sync of their roles, so that the next poll does not undo
it. tend agent resume or tend sync returns to the branch's head.`,
		example: `  tend history
  tend rollback 42`,
	},
	"tend release": {
		long: `Act on the releases of an application (release blocks of the specs) on
its hosts, outside a normal apply.`,
		example: `  tend release rollback web/shop -i inventory.hcl specs/`,
	},
	"tend release rollback": {
		example: `  tend release rollback web/shop -i inventory.hcl specs/
  tend release rollback web/shop --to v1.4.2 --dry-run -i inventory.hcl specs/`,
	},
	"tend completion": {
		example: `  tend completion bash > /etc/bash_completion.d/tend
  tend completion zsh > "${fpath[1]}/_tend"
  tend completion fish > ~/.config/fish/completions/tend.fish`,
	},
	"tend completion bash": {
		example: `  source <(tend completion bash)
  tend completion bash > /etc/bash_completion.d/tend`,
	},
	"tend completion zsh": {
		example: `  tend completion zsh > "${fpath[1]}/_tend"`,
	},
	"tend completion fish": {
		example: `  tend completion fish > ~/.config/fish/completions/tend.fish`,
	},
	"tend completion powershell": {
		example: `  tend completion powershell | Out-String | Invoke-Expression`,
	},
	"tend help": {
		example: `  tend help
  tend help agent`,
	},
}

// addHelp adds the help, completion and the texts of help to the command
// tree under root.
func addHelp(root *cobra.Command) {
	// Made now rather than on Execute, so that the texts, the tests and
	// the man pages see them.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	completionOutput(root)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if h, ok := help[c.CommandPath()]; ok {
			if c.Long == "" {
				c.Long = h.long
			}
			if c.Example == "" {
				c.Example = strings.TrimRight(h.example, "\n")
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// completionOutput makes `tend completion SHELL` write to the command's
// output (cobra's own write to the os.Stdout of the time the command was
// made, which tests cannot capture), and an unknown shell an error.
func completionOutput(root *cobra.Command) {
	gen := map[string]func(w io.Writer, desc bool) error{
		"bash": root.GenBashCompletionV2,
		"zsh": func(w io.Writer, desc bool) error {
			if desc {
				return root.GenZshCompletion(w)
			}
			return root.GenZshCompletionNoDesc(w)
		},
		"fish": root.GenFishCompletion,
		"powershell": func(w io.Writer, desc bool) error {
			if desc {
				return root.GenPowerShellCompletionWithDesc(w)
			}
			return root.GenPowerShellCompletion(w)
		},
	}
	for _, c := range root.Commands() {
		if c.Name() != "completion" {
			continue
		}
		c.Args = cobra.NoArgs
		c.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
		for _, sh := range c.Commands() {
			g, ok := gen[sh.Name()]
			if !ok {
				continue
			}
			sh.RunE = func(cmd *cobra.Command, _ []string) error {
				noDesc, _ := cmd.Flags().GetBool("no-descriptions")
				if err := g(cmd.OutOrStdout(), !noDesc); err != nil {
					return fmt.Errorf("write the %s completion script: %w", sh.Name(), err)
				}
				return nil
			}
			sh.Run = nil
		}
	}
}
