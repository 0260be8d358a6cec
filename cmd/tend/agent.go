package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/tendhq/tend/agent"
	"github.com/tendhq/tend/agent/store"
	"github.com/tendhq/tend/engine/report"
	"github.com/tendhq/tend/engine/source"
)

// historyRetain bounds the syncs and drift events the agent keeps.
const historyRetain = 1000

// newAgent is `tend agent -c agent.hcl` (the daemon) and its pause and
// resume subcommands (clients of a running agent).
func newAgent(g *globalFlags) *cobra.Command {
	var path string
	var local, tofu, check bool
	var ids []string
	var host, shard string
	cmd := &cobra.Command{
		Use:   "agent [-c agent.hcl]",
		Short: "Run the agent: follow a Git source, converge the hosts, correct drift, serve the API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if check {
				return checkAgentConfig(cmd, path)
			}
			sel, err := agentSelect(local, host, shard)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			return runAgent(cmd, g, path, &runFlags{local: local, tofu: tofu, ageIdentities: ids, selectHosts: sel})
		},
	}
	cmd.Flags().StringArrayVar(&ids, "age-identity", nil, "an age identity file to decrypt secret() files with, instead of agent.hcl's age_identity (repeatable; default agent.hcl's, else $TEND_AGE_IDENTITY)")
	cmd.Flags().StringVarP(&path, "config", "c", "agent.hcl", "the agent's configuration file")
	cmd.Flags().BoolVar(&local, "local", false, "converge this machine through the local transport (pull mode) instead of SSH")
	cmd.Flags().BoolVar(&tofu, "trust-on-first-use", false, "accept and record the host keys of hosts not in known_hosts")
	cmd.Flags().StringVar(&host, "host", "", "with --local: this machine's name in the inventory (default: its host name, or the host name's first label)")
	cmd.Flags().StringVar(&shard, "shard", "", shardFlagHelp)
	cmd.Flags().BoolVar(&check, "check", false, "only check agent.hcl and exit: 0 when it is valid, 1 with its problems")
	cmd.AddCommand(newPauseResume(g, "pause"), newPauseResume(g, "resume"))
	return cmd
}

// runAgent wires the agent to the Git source, the history store and the
// transports, serves the API, and runs the loop until SIGINT or SIGTERM.
func runAgent(cmd *cobra.Command, g *globalFlags, path string, f *runFlags) error {
	log, err := g.logger(cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	cfg, files, diags := agent.LoadConfig(path)
	if len(diags) > 0 {
		_ = report.Diagnostics(cmd.ErrOrStderr(), files, diags, isTerminal(cmd.ErrOrStderr()))
	}
	if diags.HasErrors() {
		return &exitError{code: 1}
	}
	// The identities of secret(): the flags, else agent.hcl's age_identity
	// (read with it), else $TEND_AGE_IDENTITY.
	if len(f.ageIdentities) > 0 || len(cfg.AgeIdentityFiles) == 0 {
		files := identityFiles(f.ageIdentities)
		ids, err := readIdentities(files)
		if err != nil {
			return err
		}
		cfg.AgeIdentityFiles, cfg.AgeIdentities = files, ids
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return &exitError{code: 1, err: fmt.Errorf("create data directory %s: %w", cfg.DataDir, err)}
	}
	// The clone is kept, so that a restart fetches instead of cloning and
	// drift is corrected even when the remote cannot be reached.
	cfg.Source.CacheDir = filepath.Join(cfg.DataDir, "source")
	src, err := source.New(cfg.Source, log)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	// Opening marks the syncs a crash interrupted.
	hist, err := store.Open(filepath.Join(cfg.DataDir, "history.db"), historyRetain)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("open history in %s: %w", cfg.DataDir, err)}
	}
	defer func() { _ = hist.Close() }()
	a, err := agent.New(agent.Options{Config: cfg, Source: src, History: hist, Dial: f.dialer(log), SelectHosts: f.selectHosts, Log: log})
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("listen on %s: %w", cfg.Listen, err)}
	}
	scheme := "http"
	if cfg.TLS != nil {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{*cfg.TLS}, MinVersion: tls.VersionTLS12})
		scheme = "https"
	} else if !isLoopback(ln.Addr()) {
		log.Warn("the API listens beyond this machine without TLS: tokens and sessions cross the network in clear; set tls_cert_file and tls_key_file in agent.hcl",
			zap.String("address", ln.Addr().String()))
	}
	srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("api listening", zap.String("address", ln.Addr().String()), zap.String("scheme", scheme))

	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	runErr := a.Run(ctx)
	// The loop has finished its last sync; API requests in flight (a
	// manual sync) get time to finish too.
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	err = srv.Shutdown(sctx)
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if err = errors.Join(runErr, err); err != nil {
		return &exitError{code: 1, err: err}
	}
	return nil
}

// checkAgentConfig is `tend agent --check`: it loads agent.hcl, prints its
// problems, and exits 1 when there are errors. Package scripts use it to
// start only an agent that is configured.
func checkAgentConfig(cmd *cobra.Command, path string) error {
	_, files, diags := agent.LoadConfig(path)
	if len(diags) > 0 {
		_ = report.Diagnostics(cmd.ErrOrStderr(), files, diags, isTerminal(cmd.ErrOrStderr()))
	}
	if diags.HasErrors() {
		return &exitError{code: 1}
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s is valid.\n", path)
	return nil
}

// isLoopback reports whether addr is a loopback address (127.0.0.1, ::1).
func isLoopback(addr net.Addr) bool {
	ta, ok := addr.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}
