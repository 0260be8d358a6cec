package resources

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/tendhq/tend/inventory"
)

func init() {
	Register(&Kind{
		Name: "service",
		Attributes: []hcl.AttributeSchema{
			{Name: "name"},
			{Name: "state"},
			{Name: "enabled"},
			{Name: "masked"},
			{Name: "on_notify"},
		},
		New: newService,
	})
}

// Service manages a systemd unit: whether it runs (state), starts at boot
// (enabled) and is masked. Unset attributes are not managed. The name is
// the label unless name sets it; ".service" is appended when it has no unit
// suffix.
//
// Before touching any unit, Apply runs `systemctl daemon-reload` once per
// host and run when a file or symlink under a systemd unit directory
// changed earlier in the run (or systemd says the unit's file changed on
// disk). When notified, a running service restarts (on_notify = "restart",
// the default) or reloads (`systemctl reload-or-restart`); a service that
// is to be stopped, or was started by this very run, is left alone.
type Service struct {
	addr     Addr
	unit     string
	state    string // "running", "stopped" or "" (unmanaged)
	enabled  *bool
	masked   *bool
	onNotify string
}

var (
	_ Resource   = (*Service)(nil)
	_ Notifiable = (*Service)(nil)
)

// unitSuffixes are the unit types a service name may end with.
var unitSuffixes = []string{".service", ".socket", ".timer", ".target", ".mount", ".automount",
	".path", ".slice", ".scope", ".swap", ".device"}

// unitName appends ".service" to a name without a unit suffix.
func unitName(s string) string {
	for _, suf := range unitSuffixes {
		if strings.HasSuffix(s, suf) && len(s) > len(suf) {
			return s
		}
	}
	return s + ".service"
}

// validUnitName accepts what systemd accepts as a unit name, without
// templates that lack an instance (foo@.service).
func validUnitName(s string) bool {
	u := unitName(s)
	return validChars(s, ":_.\\@-") && len(u) <= 255 && !strings.Contains(u, "@.")
}

func newService(b *Block) (Resource, hcl.Diagnostics) {
	d := &decoder{b: b}
	r := &Service{addr: b.Addr}
	r.unit = unitName(d.nameAttr("systemd unit name", validUnitName))
	if d.has("state") {
		r.state = d.oneOf("state", "running", "stopped")
	}
	if d.has("enabled") {
		v := d.boolean("enabled", false)
		r.enabled = &v
	}
	if d.has("masked") {
		v := d.boolean("masked", false)
		r.masked = &v
	}
	r.onNotify = d.oneOf("on_notify", "restart", "reload")
	if r.masked != nil && *r.masked {
		if r.state == "running" {
			d.errorf(d.rangeOf("state"), "Conflicting attributes", "A masked unit cannot run: use state = \"stopped\" with masked = true.")
		}
		if r.enabled != nil && *r.enabled {
			d.errorf(d.rangeOf("enabled"), "Conflicting attributes", "A masked unit cannot be enabled.")
		}
	}
	return r, d.diags
}

// Addr returns service[name].
func (r *Service) Addr() Addr { return r.addr }

// Unit returns the systemd unit name, e.g. "nginx.service".
func (r *Service) Unit() string { return r.unit }

// Observe asks for the unit's state.
func (r *Service) Observe(p *Probe) { p.Unit(r.unit) }

// UnitState is the observed state of a systemd unit, as systemctl show
// reports it.
type UnitState struct {
	ID               string
	LoadState        string // loaded, not-found, masked, bad-setting, error
	ActiveState      string // active, reloading, inactive, failed, activating, deactivating
	SubState         string // running, dead, exited, auto-restart, ...
	UnitFileState    string // enabled, disabled, static, masked, ..., "" when not found
	MainPID          int
	NeedDaemonReload bool
	FragmentPath     string // the unit file, "" when not found
	Err              string
}

// running reports whether the unit runs or is starting.
func (u *UnitState) running() bool {
	switch u.ActiveState {
	case "active", "reloading", "activating":
		return true
	}
	return false
}

// stateWord is how a plan prints the unit's activity: running, stopped,
// failed, or systemd's own words for the states in between.
func (u *UnitState) stateWord() string {
	switch {
	case u.LoadState == "not-found":
		return "not-found"
	case u.ActiveState == "active" || u.ActiveState == "reloading":
		return "running"
	case u.ActiveState == "inactive":
		return "stopped"
	case u.ActiveState == "failed":
		return "failed"
	}
	return u.ActiveState + " (" + u.SubState + ")"
}

// enabledness returns whether the unit starts at boot, and whether that can
// be changed at all: static, generated and transient units have no
// [Install] section to enable.
func (u *UnitState) enabledness() (enabled, fixed bool) {
	switch u.UnitFileState {
	case "enabled", "enabled-runtime", "alias":
		return true, false
	case "static", "generated", "transient":
		return true, true
	}
	return false, false
}

func (u *UnitState) isMasked() bool {
	return u.LoadState == "masked" || strings.HasPrefix(u.UnitFileState, "masked")
}

// Diff compares the desired unit with the observed one. A unit that does
// not exist yet (its file is written in the same run) plans its start and
// enabling; if it still does not exist then, Apply fails.
func (r *Service) Diff(o *Observed) (*Change, error) {
	if o.Facts.Init != "systemd" {
		init := o.Facts.Init
		if init == "" {
			init = "an unknown init"
		}
		return nil, fmt.Errorf("service needs systemd; host has %s", init)
	}
	u, err := o.Unit(r.unit)
	if err != nil {
		return nil, err
	}
	// Attributes in the order Apply changes them: masked, enabled, state.
	c := &Change{Addr: r.addr}
	if r.masked != nil && *r.masked != u.isMasked() {
		if *r.masked && strings.HasPrefix(u.FragmentPath, "/etc/systemd/system/") {
			// systemctl mask puts a link to /dev/null in its place.
			return nil, fmt.Errorf("unit %s cannot be masked: its unit file %s is in /etc/systemd/system; remove the file instead", r.unit, u.FragmentPath)
		}
		c.Attrs = append(c.Attrs, AttrChange{Name: "masked", Before: strconv.FormatBool(u.isMasked()), After: strconv.FormatBool(*r.masked)})
	}
	masked := u.isMasked()
	if r.masked != nil {
		masked = *r.masked
	}
	// A masked unit cannot be enabled: enabled is not compared then.
	if r.enabled != nil && !masked {
		en, fixed := u.enabledness()
		switch {
		case fixed && !*r.enabled:
			return nil, fmt.Errorf("unit %s is %s: it cannot be disabled (it has no [Install] section); drop enabled = false", r.unit, u.UnitFileState)
		case en != *r.enabled:
			before := strconv.FormatBool(en)
			if u.LoadState == "not-found" {
				before = "not-found"
			}
			c.Attrs = append(c.Attrs, AttrChange{Name: "enabled", Before: before, After: strconv.FormatBool(*r.enabled)})
		}
	}
	if r.state != "" {
		// A unit that is still starting (activating) is started again:
		// systemctl start waits for it, so apply returns once it runs.
		want := r.state == "running"
		if u.running() != want || (want && u.ActiveState == "activating") {
			if !(u.LoadState == "not-found" && !want) {
				c.Attrs = append(c.Attrs, AttrChange{Name: "state", Before: u.stateWord(), After: r.state})
			}
		}
	}
	if len(c.Attrs) > 0 {
		c.Action = Update
	}
	return c, nil
}

// unitDirs are the directories whose changes need a daemon-reload.
var unitDirs = []string{"/etc/systemd/system/", "/lib/systemd/system/", "/usr/lib/systemd/system/", "/run/systemd/system/"}

// changedPath returns the path a file or symlink change is about.
func changedPath(c *Change) string {
	if c.Path != "" {
		return c.Path
	}
	if c.Content != nil {
		return c.Content.Path
	}
	return c.Addr.Name
}

// needsReload reports whether a change applied earlier in the run touched
// a unit file.
func needsReload(t *Target) bool {
	if t.Applied == nil {
		return false
	}
	for _, c := range t.Applied() {
		if c == nil || !c.Changed() || (c.Addr.Kind != "file" && c.Addr.Kind != "symlink") {
			continue
		}
		p := changedPath(c)
		for _, d := range unitDirs {
			if strings.HasPrefix(p, d) {
				return true
			}
		}
	}
	return false
}

// daemonReload runs systemctl daemon-reload once per host and run.
func daemonReload(ctx context.Context, t *Target) error {
	return t.RunOnce("daemon-reload", func() error {
		_, err := run(ctx, t, "systemctl daemon-reload", inventory.Cmd{Args: []string{"systemctl", "daemon-reload"}})
		return err
	})
}

// systemctl runs one systemctl verb on the unit.
func (r *Service) systemctl(ctx context.Context, t *Target, verb ...string) error {
	args := append(append([]string{"systemctl"}, verb...), "--", r.unit)
	_, err := run(ctx, t, "systemctl "+strings.Join(verb, " ")+" "+r.unit, inventory.Cmd{Args: args})
	return err
}

// reloadSystemd runs systemctl daemon-reload (once per host and run) when a
// unit file changed earlier in this run or systemd says the unit's file
// changed on disk.
func (r *Service) reloadSystemd(ctx context.Context, t *Target) error {
	u, err := t.Observed.Unit(r.unit)
	if !needsReload(t) && (err != nil || !u.NeedDaemonReload) {
		return nil
	}
	return daemonReload(ctx, t)
}

// restartVerb is what a release does to its service after a switch.
func (r *Service) restartVerb() string {
	if r.onNotify == "reload" {
		return "reload-or-restart"
	}
	return "restart"
}

// restartForRelease restarts (or reloads) the service after a release
// switched, reloading systemd first when a unit file changed in this run.
func (r *Service) restartForRelease(ctx context.Context, t *Target) error {
	if err := r.reloadSystemd(ctx, t); err != nil {
		return err
	}
	return r.systemctl(ctx, t, r.restartVerb())
}

// Apply reloads systemd when unit files changed, then unmasks, enables or
// disables, starts or stops, and masks, in that order.
func (r *Service) Apply(ctx context.Context, t *Target, c *Change) error {
	if _, err := t.Observed.Unit(r.unit); err != nil {
		return err
	}
	if err := r.reloadSystemd(ctx, t); err != nil {
		return err
	}
	// Unmask first (nothing else works on a masked unit), mask last (a
	// unit is stopped before it is masked).
	attrs := map[string]AttrChange{}
	for _, a := range c.Attrs {
		attrs[a.Name] = a
	}
	if a, ok := attrs["masked"]; ok && a.After == "false" {
		if err := r.systemctl(ctx, t, "unmask"); err != nil {
			return err
		}
	}
	if a, ok := attrs["enabled"]; ok {
		verb := "disable"
		if a.After == "true" {
			verb = "enable"
		}
		if err := r.systemctl(ctx, t, verb); err != nil {
			return err
		}
	}
	if a, ok := attrs["state"]; ok {
		verb := "stop"
		if a.After == "running" {
			verb = "start"
		}
		if err := r.systemctl(ctx, t, verb); err != nil {
			return err
		}
	}
	if a, ok := attrs["masked"]; ok && a.After == "true" {
		if err := r.systemctl(ctx, t, "mask"); err != nil {
			return err
		}
	}
	return nil
}

// Notify restarts or reloads the service (how is "restart" or "reload";
// "" means the service's on_notify). A service that is to be stopped or
// masked is left alone, and so is one this run just started: it runs the
// new configuration already.
func (r *Service) Notify(ctx context.Context, t *Target, how string) error {
	if how == "" || how == "run" {
		how = r.onNotify
	}
	if r.state == "stopped" || (r.masked != nil && *r.masked) {
		return nil
	}
	// A service started in this same run is restarted all the same: its
	// start may have been a no-op (a package's install script started it
	// already, with the stock configuration), and a restart costs little.
	if err := r.reloadSystemd(ctx, t); err != nil {
		return err
	}
	if r.state == "" {
		// Unmanaged state: restart only what runs, as try-restart does.
		if how == "reload" {
			return r.systemctl(ctx, t, "try-reload-or-restart")
		}
		return r.systemctl(ctx, t, "try-restart")
	}
	if how == "reload" {
		return r.systemctl(ctx, t, "reload-or-restart")
	}
	return r.systemctl(ctx, t, "restart")
}

// unitProps are the properties the probe asks systemctl show for.
var unitProps = map[string]bool{"Id": true, "LoadState": true, "ActiveState": true, "SubState": true,
	"UnitFileState": true, "MainPID": true, "NeedDaemonReload": true, "FragmentPath": true}

// parseUnits parses `systemctl show --property=... units...` with stderr
// merged in: one block of Key=Value lines per unit, in the order asked.
// The probe's line splitting drops the blank lines between blocks, so a
// block ends where a key repeats.
func parseUnits(s *section, names []string) map[string]*UnitState {
	fail := func(msg string) map[string]*UnitState {
		return allErr(names, func() *UnitState { return &UnitState{Err: msg} })
	}
	switch {
	case s.tool == "none":
		return fail("systemctl is not available: the host does not run systemd")
	case s.tool != "systemctl":
		return fail("unknown unit query tool " + s.tool)
	case s.status != 0:
		return fail(sectionError(s))
	}
	var blocks []map[string]string
	var cur map[string]string
	for _, l := range s.lines {
		k, v, ok := strings.Cut(l, "=")
		if !ok || !unitProps[k] {
			continue // a warning on stderr
		}
		if cur == nil || hasKey(cur, k) {
			cur = map[string]string{}
			blocks = append(blocks, cur)
		}
		cur[k] = v
	}
	if len(blocks) != len(names) {
		return fail(fmt.Sprintf("systemctl show returned %d units for %d asked", len(blocks), len(names)))
	}
	res := map[string]*UnitState{}
	for i, n := range names {
		b := blocks[i]
		u := &UnitState{ID: b["Id"], LoadState: b["LoadState"], ActiveState: b["ActiveState"], SubState: b["SubState"],
			UnitFileState: b["UnitFileState"], NeedDaemonReload: b["NeedDaemonReload"] == "yes", FragmentPath: b["FragmentPath"]}
		if pid, err := strconv.Atoi(b["MainPID"]); err == nil {
			u.MainPID = pid
		}
		if u.LoadState == "" || u.ActiveState == "" {
			u.Err = "systemctl show did not report its LoadState and ActiveState"
		}
		res[n] = u
	}
	return res
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}
