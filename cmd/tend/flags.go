package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"
	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"
	"github.com/zclconf/go-cty/cty"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/tendhq/tend/engine"
	"github.com/tendhq/tend/engine/config"
	"github.com/tendhq/tend/engine/report"
	"github.com/tendhq/tend/engine/source"
	"github.com/tendhq/tend/inventory"
	"github.com/tendhq/tend/inventory/local"
	"github.com/tendhq/tend/inventory/ssh"
)

// globalFlags are the flags of every command.
type globalFlags struct {
	logLevel  string
	logFormat string
}

func (g *globalFlags) logger(w io.Writer) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(g.logLevel)
	if err != nil {
		return nil, &exitError{code: 1, err: fmt.Errorf("--log-level: %w", err)}
	}
	var enc zapcore.Encoder
	switch g.logFormat {
	case "console":
		cfg := zap.NewDevelopmentEncoderConfig()
		enc = zapcore.NewConsoleEncoder(cfg)
	case "json":
		enc = zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	default:
		return nil, &exitError{code: 1, err: fmt.Errorf("--log-format must be console or json, not %q", g.logFormat)}
	}
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), lvl)), nil
}

// runFlags are the flags of validate, plan and apply.
type runFlags struct {
	inventory string
	limit     []string
	parallel  int
	local     bool
	vars      []string
	varFiles  []string
	tofu      bool
	stateDir  string
	// repo, ref and repoPath fetch the specs from Git instead of a
	// directory; revision is what load fetched ("" for a directory).
	repo     string
	ref      string
	repoPath string
	// repoSSHKey and repoKnownHosts authenticate an ssh --repo; an https
	// token comes from $TEND_GIT_TOKEN (never a flag: it would show in
	// process lists and shell history).
	repoSSHKey     string
	repoKnownHosts string
	revision       string
	// ageIdentities are the identity files secret() decrypts with; without
	// any, $TEND_AGE_IDENTITY (files separated by ':') is read.
	ageIdentities []string
	// shard ("i/n") keeps one part of the selected hosts (shard.go).
	shard string
	// selectHosts is the agent's host selection (pull mode, --shard).
	selectHosts func([]*inventory.Host) ([]*inventory.Host, error)
}

func (f *runFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVarP(&f.inventory, "inventory", "i", "", "inventory file or directory (HCL)")
	fl.StringSliceVar(&f.limit, "limit", nil, "only these hosts: names, globs, group:NAME, host:NAME (comma-separated or repeated)")
	fl.IntVar(&f.parallel, "parallel", 20, "hosts handled at once")
	fl.BoolVar(&f.local, "local", false, "converge this machine through the local transport instead of SSH")
	fl.StringArrayVar(&f.vars, "var", nil, "set a variable: NAME=VALUE (repeatable)")
	fl.StringArrayVar(&f.varFiles, "var-file", nil, "read variables from an HCL file (repeatable)")
	fl.StringVar(&f.stateDir, "state-dir", "", "tend's state directory on the hosts: manifest and pending notifications (default /var/lib/tend)")
	fl.StringVar(&f.repo, "repo", "", "read the specs from this Git repository (https, ssh, file:// or a path) instead of SPEC_DIR")
	fl.StringVar(&f.ref, "ref", "", "with --repo: a branch, tag or commit (default: the remote's HEAD branch)")
	fl.StringVar(&f.repoPath, "path", "", "with --repo: the spec directory inside the repository")
	fl.StringVar(&f.repoSSHKey, "repo-ssh-key", "", "with an ssh --repo: the private key file (default: ssh-agent)")
	fl.StringVar(&f.repoKnownHosts, "repo-known-hosts", "", "with an ssh --repo: the known_hosts file to check the server's key against")
	fl.BoolVar(&f.tofu, "trust-on-first-use", false, "accept and record the host keys of hosts not in known_hosts (a changed key is always refused)")
	fl.StringVar(&f.shard, "shard", "", shardFlagHelp)
	fl.StringArrayVar(&f.ageIdentities, "age-identity", nil, "an age identity file (age-keygen, or an SSH private key) to decrypt secret() files with (repeatable; default $TEND_AGE_IDENTITY, files separated by ':')")
}

// ageIdentityEnv names the variable that gives identity files when no
// --age-identity flag does.
const ageIdentityEnv = "TEND_AGE_IDENTITY"

// identityFiles returns the age identity files: the flags, else those of
// $TEND_AGE_IDENTITY.
func identityFiles(flags []string) []string {
	if len(flags) > 0 {
		return flags
	}
	var out []string
	for _, p := range filepath.SplitList(os.Getenv(ageIdentityEnv)) {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// readIdentities reads the age identity files; errors name the file, never
// a key.
func readIdentities(files []string) ([]age.Identity, error) {
	var ids []age.Identity
	for _, p := range files {
		got, err := config.ReadIdentityFile(p)
		if err != nil {
			return nil, &exitError{code: 1, err: fmt.Errorf("--age-identity %s: %w", p, err)}
		}
		ids = append(ids, got...)
	}
	return ids, nil
}

// loaded is what validate, plan and apply start from.
type loaded struct {
	cfg   *config.Config
	inv   *inventory.Inventory
	hosts []*inventory.Host
	vars  map[string]config.Value
	files map[string]*hcl.File
	diags hcl.Diagnostics
}

// load reads the specs, variables and inventory. It returns every problem as
// diagnostics; hosts are selected only when the inventory loaded.
func (f *runFlags) load(specDir string, needHosts bool) (*loaded, error) {
	l := &loaded{files: map[string]*hcl.File{}, vars: map[string]config.Value{}}
	if f.parallel < 1 {
		return nil, &exitError{code: 1, err: fmt.Errorf("--parallel must be at least 1, not %d", f.parallel)}
	}
	specs, err := f.specFS(specDir)
	if err != nil {
		return nil, err
	}
	ids, err := readIdentities(identityFiles(f.ageIdentities))
	if err != nil {
		return nil, err
	}
	opts := []config.Option{config.WithIdentities(ids...)}
	if !needHosts {
		// validate and graph check specs without the identity at hand:
		// secrets are then unknown (sensitive) values, not errors.
		opts = append(opts, config.WithUnknownSecrets())
	}
	cfg, diags := config.Load(specs, ".", opts...)
	l.cfg = cfg
	l.diags = append(l.diags, diags...)
	for _, vf := range f.varFiles {
		// Through the Config, so that diagnostics show the file's lines.
		vals, ds := cfg.LoadVarFile(vf)
		l.diags = append(l.diags, ds...)
		for k, v := range vals {
			l.vars[k] = v
		}
	}
	if cfg != nil {
		for _, a := range f.vars {
			name, v, ds := config.ParseVar(cfg, a)
			l.diags = append(l.diags, ds...)
			if !ds.HasErrors() {
				l.vars[name] = config.Value{Value: v}
			}
		}
	}
	switch {
	case f.inventory != "":
		inv, ds := inventory.Load(f.inventory)
		l.inv = inv
		l.diags = append(l.diags, ds...)
		if inv != nil {
			for k, v := range inv.Files() {
				l.files[k] = v
			}
		}
		if ds.HasErrors() || inv == nil {
			return l, nil
		}
		hosts, err := inv.Select(f.limit)
		if err == nil {
			hosts, err = shardHosts(f.shard, hosts)
		}
		if err != nil {
			return nil, &exitError{code: 1, err: err}
		}
		l.hosts = hosts
		if f.local && len(hosts) != 1 {
			return nil, &exitError{code: 1, err: fmt.Errorf("--local converges this machine as one host, but %d hosts are selected: pick one with --limit", len(hosts))}
		}
	case f.local && f.shard != "":
		return nil, &exitError{code: 1, err: fmt.Errorf("--shard splits an inventory among control hosts: give one with -i FILE")}
	case f.local:
		h := localHost()
		if len(f.limit) > 0 {
			if ok, err := inventory.MatchAny(f.limit, h); err != nil || !ok {
				if err == nil {
					err = fmt.Errorf("--limit %s does not select this machine (%s)", strings.Join(f.limit, ","), h.Name)
				}
				return nil, &exitError{code: 1, err: err}
			}
		}
		l.hosts = []*inventory.Host{h}
	case needHosts:
		return nil, &exitError{code: 1, err: fmt.Errorf("no inventory: give one with -i FILE, or use --local to converge this machine")}
	}
	return l, nil
}

// specFS is the spec tree: the directory, or with --repo the tree of the
// fetched revision (recorded in f.revision).
func (f *runFlags) specFS(specDir string) (fs.FS, error) {
	if f.repo == "" {
		if f.ref != "" || f.repoPath != "" {
			return nil, &exitError{code: 1, err: fmt.Errorf("--ref and --path need --repo")}
		}
		if st, err := os.Stat(specDir); err != nil || !st.IsDir() {
			if err == nil {
				err = fmt.Errorf("not a directory")
			}
			return nil, &exitError{code: 1, err: fmt.Errorf("spec directory %s: %w", specDir, err)}
		}
		return os.DirFS(specDir), nil
	}
	auth := source.Auth{
		Token:      os.Getenv("TEND_GIT_TOKEN"),
		SSHKeyFile: f.repoSSHKey,
		UseAgent:   f.repoSSHKey == "",
		KnownHosts: f.repoKnownHosts,
	}
	src, err := source.New(source.Spec{URL: f.repo, Ref: f.ref, Path: f.repoPath, Auth: auth}, zap.NewNop())
	if err != nil {
		return nil, &exitError{code: 1, err: err}
	}
	snap, err := src.Fetch(context.Background())
	if err != nil {
		return nil, &exitError{code: 1, err: err}
	}
	f.revision = snap.Revision.String()
	return snap.FS, nil
}

// localHost is the host --local stands for when there is no inventory.
func localHost() *inventory.Host {
	name, err := os.Hostname()
	if err != nil || name == "" {
		name = "localhost"
	}
	return &inventory.Host{Name: name, Address: "localhost", Vars: cty.EmptyObjectVal, BecomeUser: "root"}
}

// compile checks every selected host's graph (or, without hosts, every role
// against a placeholder host). It runs even when loading found problems, so
// that all of them are listed at once; the graphs are only usable when no
// diagnostic is an error.
func (l *loaded) compile() []*config.HostGraph {
	var graphs []*config.HostGraph
	var ds hcl.Diagnostics
	if len(l.hosts) > 0 {
		graphs, ds = engine.Compile(l.cfg, l.hosts, l.vars)
	} else {
		ds = l.cfg.Validate(l.vars)
	}
	l.diags = append(l.diags, ds...)
	return graphs
}

// printDiags writes the diagnostics with source snippets to w.
func (l *loaded) printDiags(w io.Writer) {
	if len(l.diags) == 0 {
		return
	}
	// Templates join the files as compiling reads them.
	for k, v := range l.cfg.Files() {
		l.files[k] = v
	}
	// Compile keeps secrets out of its diagnostics; this covers the rest.
	diags := l.cfg.Redact(dedupe(l.diags))
	_ = report.Diagnostics(w, l.files, diags, isTerminal(w))
}

// dedupe drops repeated diagnostics (the same problem found by loading and
// by compiling, or for several hosts).
func dedupe(diags hcl.Diagnostics) hcl.Diagnostics {
	seen := map[string]bool{}
	var out hcl.Diagnostics
	for _, d := range diags {
		k := fmt.Sprintf("%d|%s|%s", d.Severity, d.Summary, d.Detail)
		if d.Subject != nil {
			k += "|" + d.Subject.String()
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, d)
		}
	}
	return out
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0 && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
}

// dialer returns how hosts are reached.
func (f *runFlags) dialer(log *zap.Logger) engine.DialFunc {
	if f.local {
		return func(ctx context.Context, h *inventory.Host) (inventory.Transport, error) {
			return local.New(local.Options{Name: h.Name, Become: h.Become, BecomeUser: h.BecomeUser, Log: log}), nil
		}
	}
	return func(ctx context.Context, h *inventory.Host) (inventory.Transport, error) {
		return ssh.Dial(ctx, h, ssh.Options{TrustOnFirstUse: f.tofu, Log: log})
	}
}
