package resources

import (
	"context"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"go.uber.org/zap"

	"github.com/tendhq/tend/inventory"
)

func init() {
	Register(&Kind{
		Name: "release",
		Attributes: []hcl.AttributeSchema{
			{Name: "version", Required: true},
			{Name: "path", Required: true},
			{Name: "shared"},
			{Name: "keep"},
			{Name: "owner"},
			{Name: "before_switch"},
		},
		Blocks: []NestedSchema{artifactSchema, {Type: "health", Attributes: []hcl.AttributeSchema{
			{Name: "http"}, {Name: "tcp"}, {Name: "command"}, {Name: "expect"}, {Name: "timeout"}, {Name: "interval"},
		}}},
		Links: []string{"service"},
		New:   newRelease,
	})
}

// Release deploys a version of an application the way Capistrano laid it
// out, which the ops of monoliths know:
//
//	PATH/releases/VERSION/   one directory per release, complete or absent
//	PATH/current             -> releases/VERSION, moved by an atomic rename
//	PATH/shared/ENTRY        kept across releases, linked into each
//	PATH/.tend-history       what was switched, failed, rolled back
//
// A release directory is prepared completely before current moves: the
// artifact unpacked into it, the shared entries linked, the before_switch
// commands run in it, and last a marker file (.tend-release) written; a
// directory without the marker is an interrupted preparation, which the
// next run removes and prepares again. Then current moves, the linked
// service restarts, and the health check decides: passing, older releases
// beyond keep are removed; failing, current moves back to the previous
// release, the service restarts again, the failed release stays on disk for
// inspection and the resource fails with the health check's output. Only a
// release that passed is recorded as switched in the history: when current
// points at a release the history does not confirm (the run that switched
// it lost its connection during the health check), the next run restarts
// and checks it again, and goes back to the last confirmed release if it
// fails.
//
// The probe reads current, the releases with their markers and the history
// (probe_release.go), so that a converged release costs nothing more.
type Release struct {
	addr         Addr
	version      string
	base         string
	shared       []string
	keep         int
	owner        string
	beforeSwitch [][]string
	art          *artifact
	health       *HealthCheck
	service      *Service

	// rollback is set on the copy that `tend release rollback` applies:
	// it switches current back to a release still on disk (to, or the
	// one before current) instead of deploying version.
	rollback *rollbackTarget
}

// rollbackTarget is the release a rollback switches to: to when given,
// else the one before current, chosen at the first Diff and then kept, so
// that the verify after the switch sees it converged.
type rollbackTarget struct {
	to string
	mu sync.Mutex
	// pinned is the version chosen by the first Diff.
	pinned string
}

var (
	_ Resource   = (*Release)(nil)
	_ Preparer   = (*Release)(nil)
	_ Linker     = (*Release)(nil)
	_ Identified = (*Release)(nil)
	_ Requirer   = (*Release)(nil)
)

// defaultKeep is how many releases stay on disk by default.
const defaultKeep = 5

// validVersion accepts a version that can be a directory name: letters,
// digits and ._+-~@: , not starting with a dot or a dash.
func validVersion(s string) bool {
	return validChars(s, "._+-~@:") && s[0] != '.' && len(s) <= 128
}

func newRelease(b *Block) (Resource, hcl.Diagnostics) {
	d := &decoder{b: b}
	r := &Release{addr: b.Addr}
	r.version = d.str("version", "")
	if d.has("version") && !validVersion(r.version) {
		d.errorf(d.rangeOf("version"), "Invalid version",
			"The version %q must be usable as a directory name: letters, digits and . _ + - ~ @ :, not starting with a dot or a dash.", r.version)
	}
	r.base = d.path()
	if r.base == "/" {
		d.errorf(d.rangeOf("path"), "Invalid path", "A release needs a directory of its own, such as /opt/shop, not /.")
	}
	shared, _ := d.strList("shared")
	seen := map[string]bool{}
	for _, e := range shared {
		c := path.Clean(e)
		switch {
		case e == "" || path.IsAbs(e) || c != e || c == "." || strings.HasPrefix(c, "../") || c == ".." || !ValidArg(e):
			d.errorf(d.rangeOf("shared"), "Invalid shared entry",
				"The shared entry %q must be a clean relative path inside the release, such as \"log\" or \"config/app.toml\".", e)
		case strings.HasPrefix(c, ".tend-release"):
			d.errorf(d.rangeOf("shared"), "Invalid shared entry", "The shared entry %q is tend's marker file.", e)
		case seen[c]:
			d.errorf(d.rangeOf("shared"), "Duplicate shared entry", "The shared entry %q is listed twice.", e)
		}
		seen[c] = true
		r.shared = append(r.shared, c)
	}
	r.keep = d.whole("keep", defaultKeep, 1, 1000)
	r.owner = d.account("owner")
	r.beforeSwitch = decodeCommands(d, "before_switch")
	for _, n := range b.Blocks {
		switch n.Type {
		case "artifact":
			if r.art != nil {
				d.errorf(n.DeclRange, "Duplicate artifact block", "A release has one artifact block.")
				continue
			}
			a, ds := decodeArtifact(n, b.Kind, b.Files, b.Dir)
			d.diags = append(d.diags, ds...)
			r.art = a
		case "health":
			if r.health != nil {
				d.errorf(n.DeclRange, "Duplicate health block", "A release has at most one health block.")
				continue
			}
			hc, ds := DecodeHealth(n, b.Kind)
			d.diags = append(d.diags, ds...)
			r.health = hc
		}
	}
	if r.art == nil {
		d.errorf(b.DeclRange, "Missing artifact block",
			"A release needs an artifact block: artifact { url = \"https://...\", sha256 = \"...\" } or artifact { path = \"artifacts/app.tar.gz\" }.")
	}
	return r, d.diags
}

// decodeCommands reads a list of commands, each a list of strings (an
// argv), such as [["bin/app", "migrate"], ["bin/app", "warm-cache"]].
func decodeCommands(d *decoder, name string) [][]string {
	a, ok := d.b.Attrs[name]
	if !ok || a.Value.IsNull() {
		return nil
	}
	v, err := convert.Convert(a.Value, cty.List(cty.List(cty.String)))
	if err != nil || !v.IsWhollyKnown() {
		d.errorf(a.Range, "Incorrect attribute value type",
			"The attribute %q of %s must be a list of commands, each a list of strings: [[\"bin/app\", \"migrate\"]].", name, d.b.Kind)
		return nil
	}
	var out [][]string
	for it := v.ElementIterator(); it.Next(); {
		_, c := it.Element()
		var argv []string
		for it2 := c.ElementIterator(); !c.IsNull() && it2.Next(); {
			_, e := it2.Element()
			if e.IsNull() {
				argv = nil
				break
			}
			argv = append(argv, e.AsString())
		}
		if len(argv) == 0 || argv[0] == "" {
			d.errorf(a.Range, "Invalid command", "Every command of %q must be a non-empty list of strings.", name)
			return nil
		}
		out = append(out, argv)
	}
	return out
}

// Addr returns release[name].
func (r *Release) Addr() Addr { return r.addr }

// Identity returns "release PATH": one release per directory.
func (r *Release) Identity() string { return "release " + r.base }

// Requires returns the owner, the release directory and the shared
// entries, when other resources manage them (a shared config file).
func (r *Release) Requires() []string {
	out := []string{"path " + r.base}
	if r.owner != "" {
		out = append(out, "user "+r.owner)
	}
	for _, e := range r.shared {
		out = append(out, "path "+path.Join(r.base, "shared", e))
	}
	return out
}

// Link takes the service the release restarts after a switch.
func (r *Release) Link(attr string, target Resource) error {
	s, ok := target.(*Service)
	if attr != "service" || !ok {
		return fmt.Errorf("the service of a release must be a service resource, not %s", target.Addr())
	}
	r.service = s
	return nil
}

// Prepare fetches (or hashes) the artifact on the control host.
func (r *Release) Prepare(ctx context.Context) error {
	if r.rollback != nil {
		return nil // switches to a release already on the host
	}
	return r.art.prepare(ctx)
}

// Rollback returns a copy of r that, instead of deploying its version,
// switches current back to the release to (a version still on the host),
// or with to = "" to the newest complete release prepared before the
// current one; with the same restart and health gate.
func (r *Release) Rollback(to string) *Release {
	c := *r
	c.rollback = &rollbackTarget{to: to}
	return &c
}

// Observe asks for the release directory.
func (r *Release) Observe(p *Probe) { p.Release(r.base) }

// target returns the version r converges to on a host whose release
// directory is st: its version, or for a rollback the release chosen.
func (r *Release) target(st *ReleaseState) (string, error) {
	if r.rollback == nil {
		return r.version, nil
	}
	rb := r.rollback
	rb.mu.Lock()
	defer rb.mu.Unlock()
	if rb.pinned != "" {
		return rb.pinned, nil
	}
	cur := st.CurrentVersion(r.base)
	var onDisk []string
	for _, d := range st.Dirs {
		if d.Complete {
			onDisk = append(onDisk, d.Version)
		}
	}
	if rb.to != "" {
		if d := st.Dir(rb.to); d == nil || !d.Complete {
			return "", fmt.Errorf("release %s is not on the host (releases on disk: %s)", rb.to, listOrNone(onDisk))
		}
		rb.pinned = rb.to
		return rb.pinned, nil
	}
	if cur == "" {
		return "", fmt.Errorf("nothing to roll back: %s/current does not exist", r.base)
	}
	cd := st.Dir(cur)
	// Dirs are sorted oldest prepared first: the newest complete one that
	// did not fail, before the current one.
	for i := len(st.Dirs) - 1; i >= 0; i-- {
		d := st.Dirs[i]
		if d.Version == cur || !d.Complete || st.Failed(d.Version) || (cd != nil && !d.Prepared.Before(cd.Prepared)) {
			continue
		}
		rb.pinned = d.Version
		return rb.pinned, nil
	}
	return "", fmt.Errorf("no release older than %s is on the host to roll back to (releases on disk: %s)", cur, listOrNone(onDisk))
}

func listOrNone(vs []string) string {
	if len(vs) == 0 {
		return "none"
	}
	return strings.Join(vs, ", ")
}

// Diff compares the desired release with the release directory.
func (r *Release) Diff(o *Observed) (*Change, error) {
	st, err := o.Release(r.base)
	if err != nil {
		return nil, err
	}
	cur := st.CurrentVersion(r.base)
	if st.Current != "" && cur == "" {
		return nil, fmt.Errorf("%s/current points at %s, not at a release in %s/releases: move it away or remove it", r.base, st.Current, r.base)
	}
	want, err := r.target(st)
	if err != nil {
		return nil, err
	}
	c := &Change{Addr: r.addr}
	d := st.Dir(want)
	dg := ""
	if r.rollback == nil {
		dg = r.art.digest()
	}
	if d != nil && d.Complete && dg != "" && d.SHA256 != "" && d.SHA256 != dg {
		return nil, fmt.Errorf("release %s on the host was made from an artifact with sha256 %s, the spec's has %s: a new artifact needs a new version", want, d.SHA256, dg)
	}
	if cur == want {
		if d == nil || !d.Complete {
			return nil, fmt.Errorf("%s/current points at releases/%s, which is not a complete release: remove the link to let tend prepare it again", r.base, want)
		}
		if confirmed(st, want) {
			return c, nil
		}
		// current was switched, but the run that switched it never
		// recorded the release healthy (its connection dropped during
		// the restart or the health check): check it again, and go back
		// to the last confirmed release if it fails.
		prev := previousConfirmed(st, want)
		c.Action = Update
		c.Attrs = []AttrChange{{Name: "confirmed", Before: "false", After: "true"}}
		c.Headline = want + " (switch not confirmed)"
		c.Reason = fmt.Sprintf("current points at %s, but the run that switched it did not finish its health check; it runs again", want)
		c.Steps = r.steps(st, prev, want, true)
		return c, nil
	}
	reuse := d != nil && d.Complete
	if !reuse && r.rollback == nil {
		if err := r.checkTools(&o.Facts); err != nil {
			return nil, err
		}
	}
	c.Action = Update
	before := cur
	if cur == "" {
		c.Action = Create
		before = "(none)"
	}
	c.Attrs = []AttrChange{{Name: "version", Before: cur, After: want}}
	c.Headline = before + " -> " + want
	if r.rollback != nil {
		c.Headline += " (rollback)"
	}
	if st.Failed(want) {
		e := st.LastEvent(want)
		c.Reason = fmt.Sprintf("%s failed its health check at %s; trying it again", want, e.Time.UTC().Format(time.RFC3339))
	}
	c.Steps = r.steps(st, cur, want, reuse)
	return c, nil
}

// checkTools makes sure the host can unpack the artifact.
func (r *Release) checkTools(f *Facts) error {
	a := r.art
	if a.format == formatTarZst && !f.HasTool("zstd") {
		return fmt.Errorf("the artifact %s is a tar.zst and the host has no zstd: install it (package zstd) or use a tar.gz", a.source())
	}
	if a.fetchOnHost {
		if !f.HasTool("curl") && !f.HasTool("wget") {
			return fmt.Errorf("fetch_on_host needs curl or wget on the host: install one, or let tend upload the artifact (fetch_on_host = false)")
		}
		if a.format == formatZip && !f.HasTool("unzip") {
			return fmt.Errorf("the artifact %s is a zip fetched by the host, which has no unzip: install it, or let tend upload the artifact", a.source())
		}
	}
	return nil
}

// steps lists what Apply will run, for the plan.
func (r *Release) steps(st *ReleaseState, cur, want string, reuse bool) []string {
	rel := path.Join(r.base, "releases", want)
	var s []string
	switch {
	case reuse:
		d := st.Dir(want)
		s = append(s, fmt.Sprintf("reuse %s, prepared %s and still on disk", rel, d.Prepared.UTC().Format(time.RFC3339)))
	default:
		if d := st.Dir(want); d != nil {
			s = append(s, fmt.Sprintf("remove %s, an interrupted preparation", rel))
		}
		a := r.art
		if a.fetchOnHost {
			s = append(s, fmt.Sprintf("fetch %s on the host and check its sha256 %s", a.source(), short(a.digest())))
		} else {
			size := ""
			if n := a.size(); n >= 0 {
				size = humanSize(n) + ", "
			}
			s = append(s, fmt.Sprintf("upload %s (%ssha256 %s)", a.source(), size, short(a.digest())))
		}
		how := "unpack it into " + rel
		if a.format == formatBinary {
			how = "install it as " + path.Join(rel, a.filename)
		}
		s = append(s, how)
		if len(r.shared) > 0 {
			s = append(s, "link shared "+strings.Join(r.shared, ", ")+" from "+path.Join(r.base, "shared"))
		}
		for _, argv := range r.beforeSwitch {
			as := ""
			if r.owner != "" {
				as = " as " + r.owner
			}
			s = append(s, fmt.Sprintf("run %s in %s%s", displayArgv(argv), rel, as))
		}
	}
	s = append(s, fmt.Sprintf("switch %s/current -> releases/%s", r.base, want))
	if r.service != nil {
		s = append(s, r.service.restartVerb()+" "+r.service.unit)
	}
	if r.health != nil {
		back := "remove current"
		if cur != "" {
			back = "switch back to " + cur
		}
		s = append(s, fmt.Sprintf("health: %s; if it fails, %s", r.health.Describe(), back))
	}
	if r.rollback == nil {
		if rm := r.removable(st, want); len(rm) > 0 {
			s = append(s, fmt.Sprintf("remove old releases %s (keep = %d)", strings.Join(rm, ", "), r.keep))
		}
	}
	return s
}

// short abbreviates a hex digest for plans.
func short(digest string) string {
	if len(digest) > 12 {
		return digest[:12] + "..."
	}
	if digest == "" {
		return "(computed when applied)"
	}
	return digest
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// removable returns the releases to remove once want is current and
// healthy: all but the keep newest releases that did not fail (want
// included) and the newest failed one (kept for inspection), and every
// incomplete directory.
func (r *Release) removable(st *ReleaseState, want string) []string {
	kept := map[string]bool{want: true}
	n, failedKept := 1, false
	// Dirs are oldest prepared first, incomplete ones last.
	for i := len(st.Dirs) - 1; i >= 0; i-- {
		d := st.Dirs[i]
		switch {
		case !d.Complete || d.Version == want:
		case st.Failed(d.Version):
			if !failedKept {
				kept[d.Version], failedKept = true, true
			}
		case n < r.keep:
			kept[d.Version] = true
			n++
		}
	}
	var out []string
	for _, d := range st.Dirs {
		if !kept[d.Version] {
			out = append(out, d.Version)
		}
	}
	return out
}

// Apply prepares the release (unless it is on disk already), switches
// current to it, restarts the service and waits for the health check;
// when that fails it switches back and fails.
func (r *Release) Apply(ctx context.Context, t *Target, c *Change) error {
	st, err := t.Observed.Release(r.base)
	if err != nil {
		return err
	}
	cur := st.CurrentVersion(r.base)
	want, err := r.target(st)
	if err != nil {
		return err
	}
	if cur == want {
		// An unconfirmed switch (see Diff): a failure goes back to the
		// last release that was confirmed.
		cur = previousConfirmed(st, want)
	}
	log := t.logger().With(zap.String("release", r.addr.String()), zap.String("version", want))
	marker := ""
	if d := st.Dir(want); d == nil || !d.Complete {
		t0 := time.Now()
		if err := r.prepare(ctx, t, want); err != nil {
			return err
		}
		dir := ReleaseDir{SHA256: r.art.digest(), Prepared: time.Now()}
		marker = dir.marker()
		log.Info("release prepared", zap.Duration("took", time.Since(t0)))
	}
	event := "switch"
	if r.rollback != nil {
		event = "rollback"
	}
	if err := r.switchTo(ctx, t, want, marker); err != nil {
		return err
	}
	log.Info("current switched", zap.String("from", cur))
	health, herr := r.restartAndCheck(ctx, t)
	if herr != nil {
		return r.revert(ctx, t, cur, want, herr)
	}
	if health != "" {
		log.Info("release healthy", zap.String("health", health))
	}
	var remove []string
	if r.rollback == nil {
		remove = r.removable(st, want)
	}
	return r.finish(ctx, t, ReleaseEvent{Time: time.Now(), Event: event, Version: want, Detail: health}, remove)
}

// confirmed reports whether the history records version as switched to
// (or rolled back to) and healthy: its last event is a switch or a
// rollback, which a run writes only after the health check passed.
func confirmed(st *ReleaseState, version string) bool {
	e := st.LastEvent(version)
	return e != nil && (e.Event == "switch" || e.Event == "rollback")
}

// previousConfirmed returns the release a failing unconfirmed want goes
// back to: the newest release other than want that the history confirms
// and that is still complete on disk; "" when there is none.
func previousConfirmed(st *ReleaseState, want string) string {
	for i := len(st.History) - 1; i >= 0; i-- {
		e := st.History[i]
		if e.Version == want || (e.Event != "switch" && e.Event != "rollback") {
			continue
		}
		if d := st.Dir(e.Version); d != nil && d.Complete && confirmed(st, e.Version) {
			return e.Version
		}
	}
	return ""
}

// restartAndCheck restarts the service and runs the health check; it
// returns what the check saw.
func (r *Release) restartAndCheck(ctx context.Context, t *Target) (string, error) {
	if r.service != nil {
		if err := r.service.restartForRelease(ctx, t); err != nil {
			return "", err
		}
	}
	if r.health == nil {
		return "", nil
	}
	return r.health.Wait(ctx, t, path.Join(r.base, "current"))
}

// revert switches current back to prev after want failed (or removes
// current when there was no previous release), restarts the service
// again, records the failure and returns the error that says all of it.
func (r *Release) revert(ctx context.Context, t *Target, prev, want string, cause error) error {
	// The host must be put back even when the run is being cancelled.
	ctx = context.WithoutCancel(ctx)
	var back string
	if prev != "" && prev != want {
		if err := r.switchTo(ctx, t, prev, ""); err != nil {
			return fmt.Errorf("%s failed: %w; switching back to %s failed too: %v", want, cause, prev, err)
		}
		back = "switched back to " + prev
		if out, err := r.restartAndCheck(ctx, t); err != nil {
			back += ", which is not healthy either: " + err.Error()
		} else if r.health != nil {
			back += ", healthy again"
			if out != "" {
				back += " (" + out + ")"
			}
		}
	} else {
		if err := r.switchTo(ctx, t, "", ""); err != nil {
			return fmt.Errorf("%s failed: %w; removing %s/current failed too: %v", want, cause, r.base, err)
		}
		back = "removed current: there is no earlier release to go back to"
		if r.service != nil {
			_ = r.service.systemctl(ctx, t, "stop")
		}
	}
	ev := ReleaseEvent{Time: time.Now(), Event: "fail", Version: want, Detail: firstLineOf(cause.Error())}
	if err := r.finish(ctx, t, ev, nil); err != nil {
		t.logger().Warn("cannot record the failed release", zap.Error(err))
	}
	return fmt.Errorf("release %s failed: %w; %s; %s/releases/%s is kept for inspection", want, cause, back, r.base, want)
}

func firstLineOf(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// prepareScript makes PATH/releases/VERSION from the artifact, read from
// standard input or fetched by the host, and links the shared entries.
// Every value is an argument; nothing of the spec becomes shell code.
//
//	sh -c prepareScript sh BASE VERSION FORMAT URL|- SHA256 OWNER STRIP FILENAME SHARED...
const prepareScript = `set -eu
b=$1 v=$2 f=$3 src=$4 sha=$5 own=$6 strip=$7 fn=$8
shift 8
r=$b/releases/$v
mkdir -p -- "$b/releases" "$b/shared"
rm -rf -- "$r"
mkdir -- "$r"
tmp=
if [ "$src" != - ]; then
  tmp=$b/.tend-download.$$
  if command -v curl >/dev/null 2>&1; then curl -fsSL --retry 2 -o "$tmp" -- "$src"
  elif command -v wget >/dev/null 2>&1; then wget -q -O "$tmp" -- "$src"
  else echo "fetch_on_host needs curl or wget on the host" >&2; exit 1
  fi
  got=$(sha256sum < "$tmp"); got=${got%% *}
  if [ "$got" != "$sha" ]; then rm -f -- "$tmp"; echo "the artifact fetched by the host has sha256 $got, the spec says $sha" >&2; exit 1; fi
  exec < "$tmp"
fi
st=
[ "$strip" = 0 ] || st=--strip-components=$strip
case $f in
tar.gz) tar -xzo $st -f - -C "$r" ;;
tar) tar -xo $st -f - -C "$r" ;;
tar.zst) zstd -dcq | tar -xo $st -f - -C "$r" ;;
zip) unzip -qo "$tmp" -d "$r" ;;
binary) cat > "$r/$fn"; chmod 755 "$r/$fn" ;;
*) echo "unknown artifact format $f" >&2; exit 1 ;;
esac
[ -z "$tmp" ] || rm -f -- "$tmp"
for e in "$@"; do
  s=$b/shared/$e; t=$r/$e
  if [ ! -e "$s" ] && [ ! -L "$s" ]; then
    mkdir -p -- "${s%/*}"
    if [ -e "$t" ] || [ -L "$t" ]; then mv -- "$t" "$s"; else mkdir -- "$s"; fi
    [ -z "$own" ] || chown -hR -- "$own" "$s"
  fi
  rm -rf -- "$t"
  mkdir -p -- "${t%/*}"
  ln -s -- "$s" "$t"
done
[ -z "$own" ] || chown -hR -- "$own" "$r"
`

// prepare makes the release directory of version: artifact, shared links,
// before_switch commands. It leaves no marker: switchTo writes it.
func (r *Release) prepare(ctx context.Context, t *Target, version string) error {
	a := r.art
	src, format := "-", a.format
	var stdin io.ReadCloser
	if a.fetchOnHost {
		src = a.url
	} else {
		var err error
		stdin, format, err = a.open()
		if err != nil {
			return err
		}
		defer stdin.Close()
	}
	strip := a.strip
	if a.format == formatZip && !a.fetchOnHost {
		strip = 0 // applied while converting the zip
	}
	args := []string{"sh", "-c", prepareScript, "sh", r.base, version, format, src, a.digest(), r.owner, strconv.Itoa(strip), a.filename}
	args = append(args, r.shared...)
	cmd := inventory.Cmd{Args: args}
	if stdin != nil {
		cmd.Stdin = stdin
	}
	what := "prepare " + path.Join(r.base, "releases", version)
	if _, err := run(ctx, t, what, cmd); err != nil {
		if a.sensitive {
			return fmt.Errorf("%s on %s failed (its messages may hold the sensitive url)", what, t.hostName())
		}
		return err
	}
	rel := path.Join(r.base, "releases", version)
	for _, argv := range r.beforeSwitch {
		full := argv
		if r.owner != "" {
			full = append([]string{"runuser", "-u", r.owner, "--"}, argv...)
		}
		args := append([]string{"sh", "-c", `cd -- "$1" && shift && exec "$@"`, "sh", rel}, full...)
		cmd := inventory.Cmd{Args: args, Env: []string{"TEND_RELEASE=" + version, "TEND_RELEASE_DIR=" + rel}}
		if _, err := run(ctx, t, "before_switch "+displayArgv(argv)+" in "+rel, cmd); err != nil {
			return fmt.Errorf("%w; current still points at the previous release", err)
		}
	}
	return nil
}

// switchScript writes a release's marker (when given), then points
// PATH/current at it by renaming a new symlink over the old one; with an
// empty VERSION it removes current.
//
//	sh -c switchScript sh BASE VERSION MARKER
const switchScript = `set -eu
b=$1 v=$2 m=$3
if [ -z "$v" ]; then rm -f -- "$b/current"; exit 0; fi
r=$b/releases/$v
[ -d "$r" ] || { echo "$r does not exist" >&2; exit 1; }
if [ -n "$m" ]; then
  printf '%s\n' "$m" > "$r/.tend-release.tmp"
  mv -f -- "$r/.tend-release.tmp" "$r/.tend-release"
fi
[ -f "$r/.tend-release" ] || { echo "$r is not a complete release" >&2; exit 1; }
rm -f -- "$b/.current.tmp"
ln -s -- "releases/$v" "$b/.current.tmp"
mv -Tf -- "$b/.current.tmp" "$b/current"
`

// switchTo points current at version (writing its marker first when
// marker is set), or removes current when version is "".
func (r *Release) switchTo(ctx context.Context, t *Target, version, marker string) error {
	what := "switch " + r.base + "/current to releases/" + version
	if version == "" {
		what = "remove " + r.base + "/current"
	}
	_, err := run(ctx, t, what, inventory.Cmd{Args: []string{"sh", "-c", switchScript, "sh", r.base, version, marker}})
	return err
}

// finishScript removes old releases and appends a line to the history,
// which it keeps to its last 100 lines.
//
//	sh -c finishScript sh BASE HISTORY-LINE VERSION...
const finishScript = `set -eu
b=$1 h=$2
shift 2
for v in "$@"; do rm -rf -- "$b/releases/$v"; done
printf '%s\n' "$h" >> "$b/.tend-history"
n=0
while IFS= read -r l; do n=$((n+1)); done < "$b/.tend-history"
if [ "$n" -gt 200 ]; then
  tail -n 100 "$b/.tend-history" > "$b/.tend-history.tmp"
  mv -f -- "$b/.tend-history.tmp" "$b/.tend-history"
fi
`

// finish records ev in the history and removes the releases in remove.
func (r *Release) finish(ctx context.Context, t *Target, ev ReleaseEvent, remove []string) error {
	args := append([]string{"sh", "-c", finishScript, "sh", r.base, ev.line()}, remove...)
	what := "record " + ev.Event + " of " + ev.Version + " in " + r.base
	if len(remove) > 0 {
		what = "remove old releases " + strings.Join(remove, ", ") + " of " + r.base
	}
	_, err := run(ctx, t, what, inventory.Cmd{Args: args})
	return err
}
