package main

import (
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/tendhq/tend/engine"
	"github.com/tendhq/tend/engine/config"
	"github.com/tendhq/tend/engine/report"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

// revision is the Git commit, set at build time by make build with
// -ldflags "-X main.revision=<hex>"; without it, the build information's
// vcs.revision (go build -buildvcs=true in a Git checkout) is used.
var revision = ""

func newVersion() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print tend's version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			v, rev := version, revision
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" && rev == "" {
						rev = s.Value
					}
				}
				if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
					v = bi.Main.Version
				}
			}
			if rev != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "tend %s (%s)\n", v, rev)
				return
			}
			fmt.Fprintf(cmd.OutOrStdout(), "tend %s\n", v)
		},
	}
}

func specDir(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	return "."
}

func newValidate(g *globalFlags) *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "validate [SPEC_DIR (default .)]",
		Short: "Check specs (and the inventory, when given) without contacting any host",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := f.load(specDir(args), false)
			if err != nil {
				return err
			}
			l.compile()
			l.printDiags(cmd.ErrOrStderr())
			if l.diags.HasErrors() {
				return &exitError{code: 1}
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Success! The specs are valid.")
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

// planFlags are the output flags of plan (and of apply's printed plan).
type planFlags struct {
	output   string
	detailed bool
	noColor  bool
	prune    bool
	// partial is set by commands that run a part of each host's graph
	// (release rollback): see engine.Options.Partial.
	partial bool
}

// register adds the flags plan and apply share.
func (p *planFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&p.output, "output", "o", "text", "output format: text, json or markdown")
	cmd.Flags().BoolVar(&p.noColor, "no-color", false, "never color the output")
	cmd.Flags().BoolVar(&p.prune, "prune", false, "remove orphans: resources tend applied before that are no longer in the spec (without it, only the roles with prune = true are pruned)")
}

func newPlan(g *globalFlags) *cobra.Command {
	f := &runFlags{}
	p := &planFlags{}
	cmd := &cobra.Command{
		Use:   "plan [SPEC_DIR (default .)]",
		Short: "Show what apply would change on each host (a dry run)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd, g, f, p, specDir(args), false)
		},
	}
	f.register(cmd)
	p.register(cmd)
	cmd.Flags().BoolVar(&p.detailed, "detailed-exitcode", false, "exit 0 when nothing changes, 2 when something would change or is orphaned, 1 on error")
	return cmd
}

func newApply(g *globalFlags) *cobra.Command {
	f := &runFlags{}
	p := &planFlags{}
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "apply [SPEC_DIR (default .)]",
		Short: "Converge the hosts: print the plan, apply it, verify, and summarise",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd, g, f, p, specDir(args), !dryRun)
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "only plan (the same as tend plan)")
	p.register(cmd)
	cmd.Flags().BoolVar(&p.detailed, "detailed-exitcode", false, "with --dry-run: exit 0 when nothing changes, 2 when something would change or is orphaned, 1 on error")
	return cmd
}

// run is plan and apply: load, compile every host (nothing is contacted when
// that fails), run the engine, print, and choose the exit code.
func run(cmd *cobra.Command, g *globalFlags, f *runFlags, p *planFlags, dir string, apply bool) error {
	defer engine.TuneGC()()
	log, err := g.logger(cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	switch p.output {
	case "text", "json", "markdown":
	default:
		return &exitError{code: 1, err: fmt.Errorf("--output must be text, json or markdown, not %q", p.output)}
	}
	l, err := f.load(dir, true)
	if err != nil {
		return err
	}
	graphs := l.compile()
	l.printDiags(cmd.ErrOrStderr())
	if l.diags.HasErrors() {
		return &exitError{code: 1}
	}
	pruneRoles := map[string]bool{}
	for _, r := range l.cfg.Roles() {
		if r.Prune {
			pruneRoles[r.Name] = true
		}
	}
	return execute(cmd, log, f, p, graphs, l.cfg, pruneRoles, apply)
}

// execute runs the engine over graphs, prints the report and chooses the
// exit code. The rollout blocks of cfg's roles order the hosts of those
// roles into batches; pruneRoles are the roles whose orphans are removed.
func execute(cmd *cobra.Command, log *zap.Logger, f *runFlags, p *planFlags, graphs []*config.HostGraph, cfg *config.Config, pruneRoles map[string]bool, apply bool) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rollouts := map[string]*config.Rollout{}
	if cfg != nil {
		for _, r := range cfg.Roles() {
			if r.Rollout != nil {
				rollouts[r.Name] = r.Rollout
			}
		}
	}
	r := engine.Run(ctx, graphs, engine.Options{
		Apply:      apply,
		Dial:       f.dialer(log),
		Parallel:   f.parallel,
		Prune:      p.prune,
		StateDir:   f.stateDir,
		PruneRoles: pruneRoles,
		Rollouts:   rollouts,
		Partial:    p.partial,
		Revision:   f.revision,
		Log:        log,
	})
	out := cmd.OutOrStdout()
	var err error
	switch p.output {
	case "json":
		err = report.JSON(out, r)
	case "markdown":
		err = report.Markdown(out, r)
	default:
		err = report.Text(out, r, report.Options{Color: !p.noColor && isTerminal(out)})
		if err == nil && apply {
			fmt.Fprintln(out)
			err = report.Summary(out, r)
		}
	}
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("write report: %w", err)}
	}
	c := r.Count()
	switch {
	case c.Failed > 0 || r.Error != "" || ctx.Err() != nil:
		return &exitError{code: 1}
	case !apply && p.detailed && c.Create+c.Update+c.Delete+c.Orphaned > 0:
		return &exitError{code: 2}
	}
	return nil
}
