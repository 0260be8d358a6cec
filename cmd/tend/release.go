package main

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"
	"github.com/zclconf/go-cty/cty"

	"github.com/tendhq/tend/engine/config"
	"github.com/tendhq/tend/engine/graph"
	"github.com/tendhq/tend/resources"
)

func newRelease(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "release",
		Short: "Act on the releases of an application on its hosts",
	}
	cmd.AddCommand(newReleaseRollback(g))
	return cmd
}

func newReleaseRollback(g *globalFlags) *cobra.Command {
	f := &runFlags{}
	p := &planFlags{}
	var to string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "rollback ROLE/RELEASE [SPEC_DIR (default .)]",
		Short: "Switch a release back to an earlier version still on its hosts, health-gated",
		Long: `Switch current back to an earlier release on every host of ROLE that has
the release RELEASE: to --to VERSION when given, else to the newest release
prepared before the current one that did not fail. The release's service
restarts and its health check decides, as in a deploy: a host that fails
goes back to where it was. The role's rollout settings apply.

The spec still names its own version: the next apply (or the agent's next
sync) deploys it again. Commit the older version to make the rollback last.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			role, name, ok := strings.Cut(args[0], "/")
			if !ok || role == "" || name == "" {
				return &exitError{code: 1, err: fmt.Errorf("name the release as ROLE/RELEASE, e.g. web/shop, not %q", args[0])}
			}
			return rollbackRelease(cmd, g, f, p, specDir(args[1:]), role, name, to, !dryRun)
		},
	}
	f.register(cmd)
	p.register(cmd)
	cmd.Flags().StringVar(&to, "to", "", "the version to switch to (default: the release before the current one)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "only show what would be switched")
	return cmd
}

// rollbackRelease runs the engine over the hosts of role with one resource
// each: the release switched back.
func rollbackRelease(cmd *cobra.Command, g *globalFlags, f *runFlags, p *planFlags, dir, role, name, to string, apply bool) error {
	log, err := g.logger(cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	l, err := f.load(dir, true)
	if err != nil {
		return err
	}
	graphs := l.compile()
	l.printDiags(cmd.ErrOrStderr())
	if l.diags.HasErrors() {
		return &exitError{code: 1}
	}
	var found bool
	for _, r := range l.cfg.Roles() {
		found = found || r.Name == role
	}
	if !found {
		return &exitError{code: 1, err: fmt.Errorf("no role %q in the specs", role)}
	}
	var out []*config.HostGraph
	for _, hg := range graphs {
		if hg.Deferred != nil {
			deferred := hg.Deferred
			out = append(out, &config.HostGraph{Host: hg.Host, Roles: hg.Roles, Deferred: func(facts cty.Value) (*config.HostGraph, hcl.Diagnostics) {
				full, diags := deferred(facts)
				if diags.HasErrors() {
					return full, diags
				}
				one, err := rollbackGraph(full, role, name, to)
				if err != nil {
					return full, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No such release", Detail: err.Error()})
				}
				return one, diags
			}})
			continue
		}
		if one, err := rollbackGraph(hg, role, name, to); err == nil {
			out = append(out, one)
		}
	}
	if len(out) == 0 {
		return &exitError{code: 1, err: fmt.Errorf("no selected host has release %q of role %q", name, role)}
	}
	p.partial = true
	return execute(cmd, log, f, p, out, l.cfg, nil, apply)
}

// rollbackGraph returns a graph of hg's host holding only the release name
// of role, switched back to to (or the previous release).
func rollbackGraph(hg *config.HostGraph, role, name, to string) (*config.HostGraph, error) {
	for _, n := range hg.Nodes {
		rel, ok := n.Resource.(*resources.Release)
		if !ok || n.Role != role || (n.Addr.Name != name && n.Addr.String() != name) {
			continue
		}
		g := graph.New[string]()
		g.Add(n.Addr.String())
		node := *n
		node.Resource, node.Deps, node.Edges, node.Notify = rel.Rollback(to), nil, nil, nil
		return &config.HostGraph{Host: hg.Host, Roles: hg.Roles, Nodes: []*config.Node{&node}, Graph: g}, nil
	}
	return nil, fmt.Errorf("host %s has no release %q of role %q", hg.Host.Name, name, role)
}
