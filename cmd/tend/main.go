// Command tend converges hosts to the state their HCL specs describe: it
// plans (tend plan), applies (tend apply) and checks specs (tend validate).
// This file wires flags, logging and exit codes; the work is in engine.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// exitError carries a process exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func main() {
	root := newRoot()
	err := root.Execute()
	if err == nil {
		return
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(os.Stderr, "Error:", ee.err)
		}
		os.Exit(ee.code)
	}
	fmt.Fprintln(os.Stderr, "Error:", err)
	os.Exit(1)
}

func newRoot() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:           "tend",
		Short:         "GitOps for virtual machines: plan and converge hosts from HCL specs",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "warn", "log level: debug, info, warn or error")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "console", "log format: console or json")
	root.AddCommand(newValidate(g), newPlan(g), newApply(g), newGraph(g), newFmt(), newVersion(), newAgent(g), newStatus(), newSync(), newHistory(), newRollback(), newRelease(g))
	root.AddCommand(newInstallAgent())
	addHelp(root)
	return root
}
