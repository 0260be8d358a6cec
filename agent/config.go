package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/robfig/cron/v3"
	"golang.org/x/crypto/ssh"

	"github.com/tendhq/tend/engine/source"
)

// Policy says whether a new revision is applied on its own.
type Policy string

// The sync policies.
const (
	PolicyManual Policy = "manual" // wait for a sync request
	PolicyAuto   Policy = "auto"   // apply every new revision
)

// Config is a decoded agent.hcl.
type Config struct {
	// Source is where the specs come from (CacheDir is left to the caller).
	Source source.Spec
	// Inventory is a path in the snapshot's file system (relative to the
	// source's path) or, when absolute, a file or directory on this machine.
	Inventory     string
	PollInterval  time.Duration // default 1m
	DriftInterval time.Duration // default 5m
	Policy        Policy        // default manual
	SelfHeal      bool
	// Roles are the per-role overrides of Policy and SelfHeal.
	Roles    map[string]RoleConfig
	Listen   string // default 127.0.0.1:7070
	DataDir  string // default /var/lib/tend-agent
	StateDir string // tend's directory on the hosts (default /var/lib/tend)
	Tokens   []Token
	Windows  []Window
	// WebhookSecret verifies webhook deliveries; "" refuses all of them.
	WebhookSecret string
}

// RoleConfig overrides the agent's policy for one role.
type RoleConfig struct {
	Policy   Policy // "" keeps the agent's
	SelfHeal *bool  // nil keeps the agent's
}

// Token is an API bearer token.
type Token struct {
	Name     string
	Secret   string
	ReadOnly bool
}

// fileConfig is agent.hcl as gohcl decodes it; attributes kept as
// *hcl.Attribute are checked by hand so that errors point at them.
type fileConfig struct {
	Source        *sourceBlock   `hcl:"source,block"`
	Inventory     *hcl.Attribute `hcl:"inventory"`
	PollInterval  *hcl.Attribute `hcl:"poll_interval,optional"`
	DriftInterval *hcl.Attribute `hcl:"drift_interval,optional"`
	SyncPolicy    *hcl.Attribute `hcl:"sync_policy,optional"`
	SelfHeal      *bool          `hcl:"self_heal,optional"`
	Roles         []*roleBlock   `hcl:"role,block"`
	Listen        string         `hcl:"listen,optional"`
	DataDir       string         `hcl:"data_dir,optional"`
	StateDir      string         `hcl:"state_dir,optional"`
	Tokens        []*tokenBlock  `hcl:"token,block"`
	Windows       []*windowBlock `hcl:"window,block"`
	WebhookSecret string         `hcl:"webhook_secret,optional"`
}

// sourceBlock is the source block: where the specs are and how to
// authenticate and trust them.
type sourceBlock struct {
	URL           string         `hcl:"url"`
	Ref           string         `hcl:"ref,optional"`
	Path          string         `hcl:"path,optional"`
	Token         string         `hcl:"token,optional"`
	Username      string         `hcl:"username,optional"`
	Password      string         `hcl:"password,optional"`
	SSHKey        string         `hcl:"ssh_key,optional"`
	SSHAgent      bool           `hcl:"ssh_agent,optional"`
	KnownHosts    string         `hcl:"known_hosts,optional"`
	RequireSigned bool           `hcl:"require_signed,optional"`
	TrustedKeys   *hcl.Attribute `hcl:"trusted_keys,optional"`
}

// roleBlock overrides the policy and self-heal of one role.
type roleBlock struct {
	Name       string         `hcl:"name,label"`
	SyncPolicy *hcl.Attribute `hcl:"sync_policy,optional"`
	SelfHeal   *bool          `hcl:"self_heal,optional"`
}

// tokenBlock is an API token; DefRange points diagnostics at its header.
type tokenBlock struct {
	Name     string `hcl:"name,label"`
	Secret   string `hcl:"secret"`
	ReadOnly bool   `hcl:"read_only,optional"`
	DefRange hcl.Range
}

// windowBlock is a sync window: a cron schedule, how long each period
// lasts, and whether it allows or denies automatic syncs.
type windowBlock struct {
	Schedule *hcl.Attribute `hcl:"schedule"`
	Duration *hcl.Attribute `hcl:"duration"`
	Kind     *hcl.Attribute `hcl:"kind,optional"`
}

// LoadConfig reads and checks agent.hcl. Relative paths in it (trusted
// keys, ssh_key, known_hosts, a local inventory) are relative to the file's
// directory. It returns every problem as diagnostics with positions, and a
// nil Config when one is an error. The files map is for printing them.
func LoadConfig(path string) (*Config, map[string]*hcl.File, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read agent configuration", Detail: fmt.Sprintf("The file %s cannot be read: %v.", path, err)}}
	}
	return ParseConfig(src, path)
}

// ParseConfig is LoadConfig on the file's content; name is used in
// diagnostics and to resolve relative paths.
func ParseConfig(src []byte, name string) (*Config, map[string]*hcl.File, hcl.Diagnostics) {
	f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	files := map[string]*hcl.File{name: f}
	if diags.HasErrors() {
		return nil, files, diags
	}
	var fc fileConfig
	diags = append(diags, gohcl.DecodeBody(f.Body, nil, &fc)...)
	if diags.HasErrors() {
		return nil, files, diags
	}
	d := &decoder{base: filepath.Dir(name)}
	c := d.config(&fc, f.Body.MissingItemRange())
	diags = append(diags, d.diags...)
	if diags.HasErrors() {
		return nil, files, diags
	}
	return c, files, diags
}

// decoder collects the diagnostics of the checks gohcl cannot make.
type decoder struct {
	base  string
	diags hcl.Diagnostics
}

// errorf adds an error diagnostic pointing at rng.
func (d *decoder) errorf(rng *hcl.Range, summary, format string, args ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: rng})
}

// str evaluates a string attribute; "" when absent or invalid.
func (d *decoder) str(a *hcl.Attribute) string {
	if a == nil {
		return ""
	}
	var s string
	d.diags = append(d.diags, gohcl.DecodeExpression(a.Expr, nil, &s)...)
	return s
}

// duration evaluates a Go duration attribute ("30s", "5m"); def when
// absent or invalid.
func (d *decoder) duration(a *hcl.Attribute, def time.Duration) time.Duration {
	s := d.str(a)
	if s == "" {
		return def
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		d.errorf(a.Expr.Range().Ptr(), "Invalid duration", "%q is not a positive duration such as \"30s\", \"5m\" or \"2h\".", s)
		return def
	}
	return v
}

// policy evaluates a sync_policy attribute; "" when absent.
func (d *decoder) policy(a *hcl.Attribute) Policy {
	switch s := d.str(a); s {
	case "":
		return ""
	case string(PolicyManual), string(PolicyAuto):
		return Policy(s)
	default:
		d.errorf(a.Expr.Range().Ptr(), "Invalid sync policy", "sync_policy must be \"manual\" or \"auto\", not %q.", s)
		return ""
	}
}

// path makes a relative path relative to agent.hcl's directory.
func (d *decoder) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(d.base, p)
}

// config checks and completes the decoded file with the defaults.
func (d *decoder) config(fc *fileConfig, missing hcl.Range) *Config {
	c := &Config{
		Inventory:     d.str(fc.Inventory),
		PollInterval:  d.duration(fc.PollInterval, time.Minute),
		DriftInterval: d.duration(fc.DriftInterval, 5*time.Minute),
		Policy:        d.policy(fc.SyncPolicy),
		Roles:         map[string]RoleConfig{},
		Listen:        fc.Listen,
		DataDir:       fc.DataDir,
		StateDir:      fc.StateDir,
		WebhookSecret: fc.WebhookSecret,
	}
	if c.Policy == "" {
		c.Policy = PolicyManual
	}
	if fc.SelfHeal != nil {
		c.SelfHeal = *fc.SelfHeal
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:7070"
	}
	if c.DataDir == "" {
		c.DataDir = "/var/lib/tend-agent"
	}
	if c.Inventory == "" && fc.Inventory != nil {
		d.errorf(fc.Inventory.Expr.Range().Ptr(), "Empty inventory", "inventory must name the inventory file or directory.")
	}
	if fc.Source == nil {
		d.errorf(&missing, "Missing source block", "agent.hcl needs a source block with the Git repository's url.")
	} else {
		c.Source = d.source(fc.Source)
	}
	for _, r := range fc.Roles {
		rc := RoleConfig{Policy: d.policy(r.SyncPolicy), SelfHeal: r.SelfHeal}
		c.Roles[r.Name] = rc
	}
	seen := map[string]bool{}
	for _, t := range fc.Tokens {
		if seen[t.Name] {
			d.errorf(&t.DefRange, "Duplicate token", "A token named %q is declared twice.", t.Name)
		}
		seen[t.Name] = true
		if len(t.Secret) < 8 {
			d.errorf(&t.DefRange, "Token secret too short", "The secret of token %q must have at least 8 characters.", t.Name)
		}
		c.Tokens = append(c.Tokens, Token{Name: t.Name, Secret: t.Secret, ReadOnly: t.ReadOnly})
	}
	for _, w := range fc.Windows {
		if win, ok := d.window(w); ok {
			c.Windows = append(c.Windows, win)
		}
	}
	return c
}

// source builds the source.Spec and reads the trusted keys: a file
// holding an armored OpenPGP key is a PGP key, any other must parse as an
// SSH public key.
func (d *decoder) source(b *sourceBlock) source.Spec {
	s := source.Spec{
		URL:           b.URL,
		Ref:           b.Ref,
		Path:          b.Path,
		RequireSigned: b.RequireSigned,
		Auth: source.Auth{
			Token:      b.Token,
			Username:   b.Username,
			Password:   b.Password,
			SSHKeyFile: d.path(b.SSHKey),
			UseAgent:   b.SSHAgent,
			KnownHosts: d.path(b.KnownHosts),
		},
	}
	if b.TrustedKeys == nil {
		if b.RequireSigned {
			d.errorf(nil, "No trusted keys", "require_signed = true needs trusted_keys: the files of the keys whose signatures are trusted.")
		}
		return s
	}
	var files []string
	d.diags = append(d.diags, gohcl.DecodeExpression(b.TrustedKeys.Expr, nil, &files)...)
	rng := b.TrustedKeys.Expr.Range().Ptr()
	for _, f := range files {
		data, err := os.ReadFile(d.path(f))
		if err != nil {
			d.errorf(rng, "Cannot read trusted key", "The key file %s cannot be read: %v.", f, err)
			continue
		}
		text := strings.TrimSpace(string(data))
		if strings.Contains(text, "-----BEGIN PGP PUBLIC KEY BLOCK-----") {
			s.TrustedPGPKeys = append(s.TrustedPGPKeys, text)
			continue
		}
		if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(text)); err != nil {
			d.errorf(rng, "Invalid trusted key", "The key file %s holds neither an armored OpenPGP public key nor an SSH public key: %v.", f, err)
			continue
		}
		s.TrustedSSHKeys = append(s.TrustedSSHKeys, text)
	}
	if b.RequireSigned && len(files) == 0 {
		d.errorf(rng, "No trusted keys", "require_signed = true needs at least one trusted key.")
	}
	return s
}

// window parses a window block; false when it is unusable (its problems
// are in the diagnostics).
func (d *decoder) window(b *windowBlock) (Window, bool) {
	w := Window{Kind: WindowAllow}
	spec := d.str(b.Schedule)
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		d.errorf(b.Schedule.Expr.Range().Ptr(), "Invalid schedule", "%q is not a cron schedule (minute hour day-of-month month day-of-week): %v.", spec, err)
		return w, false
	}
	w.Spec, w.schedule = spec, sched
	w.Duration = d.duration(b.Duration, 0)
	switch k := d.str(b.Kind); k {
	case "", "allow":
	case "deny":
		w.Kind = WindowDeny
	default:
		d.errorf(b.Kind.Expr.Range().Ptr(), "Invalid window kind", "kind must be \"allow\" or \"deny\", not %q.", k)
		return w, false
	}
	return w, w.Duration > 0
}
