package agent

import (
	"crypto/tls"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/robfig/cron/v3"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"golang.org/x/crypto/ssh"

	"github.com/tendhq/tend/engine/config"
	"github.com/tendhq/tend/engine/source"
	"github.com/tendhq/tend/internal/hclsrc"
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
	// AgeIdentityFiles are the age_identity files, and AgeIdentities the
	// identities read from them, with which the specs' secret() calls are
	// decrypted. The files are read once, when the configuration is.
	AgeIdentityFiles []string
	AgeIdentities    []age.Identity
	// MetricsRequireToken makes GET /metrics ask for an API token (any,
	// read-only ones too); by default it answers without one, as
	// Prometheus scrapers expect.
	MetricsRequireToken bool
	// Notifications are the webhooks called on the agent's events
	// (notify.go).
	Notifications []Notification
	// TLS, when set, is the listener's certificate (tls_cert_file and
	// tls_key_file, read and checked when the configuration is loaded):
	// the API and the UI are served over HTTPS only.
	TLS *tls.Certificate
	// TLSCertFile and TLSKeyFile are where TLS was read from.
	TLSCertFile, TLSKeyFile string
}

// Notification is a webhook the agent posts to on some events.
type Notification struct {
	Name string
	// URL is where to post (http or https); it is never logged, since
	// incoming-webhook URLs are secrets.
	URL string
	// Format is FormatJSON (a Notice, the default) or FormatSlack.
	Format string
	// Events are the Notify* events to post; all when empty.
	Events []string
	// Secret, when set, signs each body: HeaderSignature is
	// "sha256=" and the hex HMAC-SHA256 of the body.
	Secret string
	// Headers are added to each request (e.g. Authorization).
	Headers map[string]string
	// Retries is how many times a failed post (network error, timeout,
	// 5xx, 408, 429) is tried again (default 5); Backoff the first wait
	// (default 1s), doubled after each retry up to 5 minutes; Timeout
	// bounds each attempt (default 10s).
	Retries int
	Backoff time.Duration
	Timeout time.Duration
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
	AgeIdentity   *hcl.Attribute `hcl:"age_identity,optional"`
	// MetricsRequireToken and Notifications: metrics.go, notify.go.
	MetricsRequireToken bool                 `hcl:"metrics_require_token,optional"`
	Notifications       []*notificationBlock `hcl:"notification,block"`
	TLSCertFile         *hcl.Attribute       `hcl:"tls_cert_file,optional"`
	TLSKeyFile          *hcl.Attribute       `hcl:"tls_key_file,optional"`
}

// notificationBlock is a webhook called on events; attributes checked by
// hand are kept as *hcl.Attribute so that errors point at them.
type notificationBlock struct {
	Name     string            `hcl:"name,label"`
	URL      *hcl.Attribute    `hcl:"url"`
	Format   *hcl.Attribute    `hcl:"format,optional"`
	Events   *hcl.Attribute    `hcl:"events,optional"`
	Secret   string            `hcl:"secret,optional"`
	Headers  map[string]string `hcl:"headers,optional"`
	Retries  *hcl.Attribute    `hcl:"retries,optional"`
	Backoff  *hcl.Attribute    `hcl:"backoff,optional"`
	Timeout  *hcl.Attribute    `hcl:"timeout,optional"`
	DefRange hcl.Range         `hcl:",def_range"`
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
	f, diags := hclsrc.ParseConfig(src, name)
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
	c.AgeIdentityFiles, c.AgeIdentities = d.identities(fc.AgeIdentity)
	c.TLS, c.TLSCertFile, c.TLSKeyFile = d.tlsPair(fc.TLSCertFile, fc.TLSKeyFile)
	c.MetricsRequireToken = fc.MetricsRequireToken
	names := map[string]bool{}
	for _, n := range fc.Notifications {
		if names[n.Name] {
			d.errorf(&n.DefRange, "Duplicate notification", "A notification named %q is declared twice.", n.Name)
		}
		names[n.Name] = true
		if nc, ok := d.notification(n); ok {
			c.Notifications = append(c.Notifications, nc)
		}
	}
	return c
}

// notification checks a notification block and fills in its defaults;
// false when it is unusable (its problems are in the diagnostics). Errors
// never quote the URL: it may hold a token.
func (d *decoder) notification(b *notificationBlock) (Notification, bool) {
	n := Notification{Name: b.Name, URL: d.str(b.URL), Format: FormatJSON, Secret: b.Secret, Headers: b.Headers,
		Retries: 5, Backoff: d.duration(b.Backoff, time.Second), Timeout: d.duration(b.Timeout, 10*time.Second)}
	ok := true
	if u, err := url.Parse(n.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		d.errorf(b.URL.Expr.Range().Ptr(), "Invalid notification url", "The url of notification %q must be an http:// or https:// URL.", b.Name)
		ok = false
	}
	switch f := d.str(b.Format); f {
	case "", FormatJSON:
	case FormatSlack:
		n.Format = FormatSlack
	default:
		d.errorf(b.Format.Expr.Range().Ptr(), "Invalid notification format", "format must be %q or %q, not %q.", FormatJSON, FormatSlack, f)
		ok = false
	}
	if b.Events != nil {
		d.diags = append(d.diags, gohcl.DecodeExpression(b.Events.Expr, nil, &n.Events)...)
		for _, e := range n.Events {
			if !slices.Contains(NotifyEvents, e) {
				d.errorf(b.Events.Expr.Range().Ptr(), "Unknown notification event", "%q is not an event; the events are %s.", e, strings.Join(NotifyEvents, ", "))
				ok = false
			}
		}
	}
	if b.Retries != nil {
		d.diags = append(d.diags, gohcl.DecodeExpression(b.Retries.Expr, nil, &n.Retries)...)
		if n.Retries < 0 || n.Retries > 20 {
			d.errorf(b.Retries.Expr.Range().Ptr(), "Invalid retries", "retries must be between 0 and 20, not %d.", n.Retries)
			ok = false
		}
	}
	return n, ok
}

// identities reads age_identity: one identity file or a list of them
// (age-keygen files, or SSH private keys without passphrase), relative to
// agent.hcl. Errors point at the attribute and never quote a key.
func (d *decoder) identities(a *hcl.Attribute) ([]string, []age.Identity) {
	if a == nil {
		return nil, nil
	}
	rng := a.Expr.Range().Ptr()
	v, ds := a.Expr.Value(nil)
	if ds.HasErrors() {
		d.diags = append(d.diags, ds...)
		return nil, nil
	}
	var files []string
	ty := v.Type()
	lv, err := convert.Convert(v, cty.List(cty.String))
	switch {
	case v.IsNull() || !v.IsWhollyKnown():
		d.errorf(rng, "Invalid age_identity", "age_identity must be an identity file or a list of them, such as [\"/etc/tend/age.key\"].")
		return nil, nil
	case ty == cty.String:
		files = []string{v.AsString()}
	case (ty.IsListType() || ty.IsTupleType()) && err == nil:
		for _, e := range lv.AsValueSlice() {
			if e.IsNull() {
				d.errorf(rng, "Invalid age_identity", "age_identity must not hold null.")
				return nil, nil
			}
			files = append(files, e.AsString())
		}
	default:
		d.errorf(rng, "Invalid age_identity", "age_identity must be an identity file or a list of them, such as [\"/etc/tend/age.key\"].")
		return nil, nil
	}
	var ids []age.Identity
	for i, f := range files {
		files[i] = d.path(f)
		got, err := config.ReadIdentityFile(files[i])
		if err != nil {
			d.errorf(rng, "Cannot read age identity", "The age identity %s cannot be used: %v.", f, err)
			continue
		}
		ids = append(ids, got...)
	}
	return files, ids
}

// tlsPair reads the listener's certificate and key (PEM files, relative to
// agent.hcl); both or neither must be given.
func (d *decoder) tlsPair(certA, keyA *hcl.Attribute) (*tls.Certificate, string, string) {
	if certA == nil && keyA == nil {
		return nil, "", ""
	}
	file := func(a *hcl.Attribute) (string, bool) {
		v, ds := a.Expr.Value(nil)
		if ds.HasErrors() || v.IsNull() || !v.IsKnown() || v.Type() != cty.String || v.AsString() == "" {
			d.errorf(a.Expr.Range().Ptr(), "Invalid "+a.Name, "%s must be the path of a PEM file.", a.Name)
			return "", false
		}
		return d.path(v.AsString()), true
	}
	if certA == nil || keyA == nil {
		a := certA
		if a == nil {
			a = keyA
		}
		d.errorf(a.Range.Ptr(), "Incomplete TLS settings", "TLS needs both tls_cert_file and tls_key_file.")
		return nil, "", ""
	}
	cf, ok1 := file(certA)
	kf, ok2 := file(keyA)
	if !ok1 || !ok2 {
		return nil, "", ""
	}
	cert, err := tls.LoadX509KeyPair(cf, kf)
	if err != nil {
		// The error names the files, never their content.
		d.errorf(certA.Range.Ptr(), "Cannot load the TLS certificate", "The certificate %s and key %s cannot be used: %v.", cf, kf, err)
		return nil, "", ""
	}
	return &cert, cf, kf
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
