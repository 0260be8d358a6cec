package engine

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zclconf/go-cty/cty"
	"go.uber.org/zap"

	"github.com/tendhq/tend/engine/config"
	"github.com/tendhq/tend/engine/report"
	"github.com/tendhq/tend/resources"
)

// This file finds the orphans of a host (resources its manifest lists that
// the spec no longer has), reports them, prunes those that --prune or their
// role's prune = true asks to remove, and records the new manifest.
//
// An orphan is an entry of the manifest whose address is not in the host's
// graph, or whose resource now undoes differently (a file resource whose
// path changed leaves the old path orphaned). It is not an orphan when a
// resource of the spec manages the same thing (the same path, package,
// unit or account under another address: a rename), and it is kept, never
// pruned, while the spec needs it (a directory holding a managed path, a
// user owning a managed file).

// orphan is one orphaned resource of a host during a run.
type orphan struct {
	entry *manifestEntry
	key   string             // entry.pruneKey()
	res   resources.Resource // built from entry.Prune; nil when it cannot be
	rep   *report.Resource
	// prune is true when this run removes it.
	prune bool
	// hashed is true when its path was probed with its hash, to tell
	// whether a file changed since tend wrote it.
	hashed bool
	// kept is true while the spec needs it: it stays in the manifest, out
	// of the report, and becomes a reported orphan once nothing keeps it.
	kept bool
}

// orphanState is what planOrphans learned, for apply, verify and the
// manifest.
type orphanState struct {
	entries []*manifestEntry // the manifest read by the probe
	raw     []byte           // its bytes; nil when there was none
	// matched is true when raw is the manifest of the graph but for the
	// hashes (matchManifest): entries were not decoded, nothing is an
	// orphan.
	matched bool
	list    []*orphan // reported orphans, in prune order
	obs     *resources.Observed
}

// identityOf returns what r manages, as resources.Requirer names it: "path
// P" for a PathResource, Identity() for a resources.Identified, "" else.
func identityOf(r resources.Resource) string {
	switch v := r.(type) {
	case resources.PathResource:
		return "path " + v.Path()
	case resources.Identified:
		return v.Identity()
	}
	return ""
}

// pruneAttrs returns what undoes r, nil when nothing does.
func pruneAttrs(r resources.Resource) map[string]string {
	if p, ok := r.(resources.Prunable); ok {
		return p.PruneAttrs()
	}
	return nil
}

// buildOrphan builds, through the kind registry, the resource that undoes a
// manifest entry. The attributes are strings; kinds convert them as they
// convert any attribute value.
func buildOrphan(e *manifestEntry) (resources.Resource, error) {
	k := resources.Lookup(e.Kind)
	if k == nil {
		return nil, fmt.Errorf("this tend has no resource kind %q", e.Kind)
	}
	attrs := make(map[string]*resources.Attr, len(e.Prune))
	for n, v := range e.Prune {
		attrs[n] = &resources.Attr{Value: cty.StringVal(v)}
	}
	r, diags := k.New(&resources.Block{Addr: e.addr(), Kind: e.Kind, Name: e.Name, Attrs: attrs})
	if diags.HasErrors() {
		return nil, fmt.Errorf("prune attributes %s: %s", e.pruneKey(), diags.Error())
	}
	return r, nil
}

// wantsPrune reports whether this run prunes the orphans of role.
func (h *hostRun) wantsPrune(role string) bool {
	return h.o.Prune || h.o.PruneRoles[role]
}

// planOrphans reads the manifest from the probe's reply, finds the
// orphans, observes them in one more probe execution (only when there are
// some) and adds them to the host's report. It returns the number of
// changes it planned (orphans to prune).
func (h *hostRun) planOrphans(ctx context.Context, obs *resources.Observed) (int, error) {
	if h.o.Partial {
		// The graph is a part of the host's resources: the others are not
		// orphans, and the manifest stays as it is.
		return 0, nil
	}
	if obs.ContentSame(h.manifestPath()) {
		// The common case: the host said its manifest is the expected
		// one (expectedManifest), which lists the spec's resources as
		// they are. It is made only if an apply records a manifest.
		h.orphans = &orphanState{matched: true}
		return 0, nil
	}
	if raw, exists, err := obs.Content(h.manifestPath()); err == nil && exists && h.matchManifest(raw) {
		// The manifest lists the spec's resources as they are, but for
		// its hashes. It is decoded only if an apply needs its hashes
		// (recordManifest).
		h.orphans = &orphanState{raw: raw, matched: true}
		return 0, nil
	}
	entries, raw, err := h.readManifest(obs)
	if err != nil {
		return 0, err
	}
	st := &orphanState{entries: entries, raw: raw}
	h.orphans = st
	if len(entries) == 0 {
		return 0, nil
	}

	// What the spec manages now, and what it needs.
	current := make(map[string]string, len(h.g.Nodes)) // address -> canonical prune attributes
	managed := map[string]bool{}                       // identities
	needs := map[string]string{}                       // identity -> a resource that needs it
	var present []resources.PathResource
	for _, n := range h.g.Nodes {
		if n.Resource == nil {
			continue
		}
		current[n.Key()] = canonical(pruneAttrs(n.Resource))
		if id := identityOf(n.Resource); id != "" {
			managed[id] = true
		}
		if p, ok := n.Resource.(resources.PathResource); ok && p.Present() {
			present = append(present, p)
		}
		if rq, ok := n.Resource.(resources.Requirer); ok {
			for _, id := range rq.Requires() {
				if _, seen := needs[id]; !seen {
					needs[id] = n.Key()
				}
			}
		}
	}

	probe := resources.NewProbe()
	var observe []*orphan
	for _, e := range entries {
		key := e.pruneKey()
		attrs, inSpec := current[e.Address]
		if inSpec && attrs == key {
			continue // still managed as recorded
		}
		why := "no longer in the spec"
		if inSpec {
			why = e.Address + " of the spec now manages something else"
		}
		o := &orphan{entry: e, key: key, prune: h.wantsPrune(e.Role)}
		o.rep = &report.Resource{Addr: e.addr(), Orphaned: true}
		o.res, err = buildOrphan(e)
		if err != nil {
			o.fail(why, "cannot be pruned: "+err.Error())
			st.list = append(st.list, o)
			continue
		}
		id := identityOf(o.res)
		if managed[id] {
			// Renamed or moved in the spec: the spec manages it now.
			h.log.Debug("manifest entry is managed under another address", zap.String("resource", e.Address), zap.String("identity", id))
			continue
		}
		if by := keeper(id, needs, present); by != "" {
			h.log.Debug("orphan kept", zap.String("resource", e.Address), zap.String("because", by))
			o.prune, o.kept = false, true
			st.list = append(st.list, o)
			continue
		}
		o.res.Observe(probe)
		if p, ok := o.res.(resources.PathResource); ok && e.SHA256 != "" {
			probe.Path(p.Path(), true)
			o.hashed = true
		}
		o.rep.Change = &resources.Change{Addr: o.rep.Addr, Reason: why}
		observe = append(observe, o)
	}

	changes := 0
	if len(observe) > 0 {
		t0 := time.Now()
		st.obs, err = h.probe(ctx, probe)
		h.rep.Probe += time.Since(t0)
		if err != nil {
			return 0, fmt.Errorf("orphans: %w", err)
		}
		for _, o := range observe {
			why := o.rep.Change.Reason
			c, err := o.res.Diff(st.obs)
			switch {
			case err != nil:
				o.fail(why, err.Error())
			case !c.Changed():
				continue // already gone from the host: nothing to report
			default:
				if o.hashed && modified(st.obs, o) {
					why += "; changed on the host since tend wrote it"
				}
				if o.prune {
					c.Reason = "orphaned: " + why
					o.rep.Change, o.rep.Status = c, report.StatusPlanned
					changes++
				} else {
					o.rep.Status = report.StatusOrphaned
					o.rep.Change.Reason = why + "; " + pruneHint(o.entry.Role)
				}
			}
			st.list = append(st.list, o)
		}
	}
	sort.SliceStable(st.list, func(i, j int) bool { return pruneLess(st.list[i], st.list[j]) })
	for _, o := range st.list {
		if !o.kept {
			h.rep.Resources = append(h.rep.Resources, o.rep)
		}
	}
	return changes, nil
}

// fail reports an orphan that cannot be observed or built: an error when
// this run was to prune it, else an orphan left alone with the error.
func (o *orphan) fail(why, msg string) {
	if o.prune {
		o.rep.Status, o.rep.Error = report.StatusError, msg
		return
	}
	o.rep.Status, o.rep.Error = report.StatusOrphaned, msg
	o.rep.Change = &resources.Change{Addr: o.rep.Addr, Reason: why + "; " + pruneHint(o.entry.Role)}
}

// pruneHint says how to prune an orphan of role.
func pruneHint(role string) string {
	if role == "" {
		return "prune with --prune"
	}
	return "prune with --prune or prune = true on role " + strconv.Quote(role)
}

// keeper returns why an orphan that manages id must stay: a resource of the
// spec needs it, or a managed path is inside it; "" when nothing keeps it.
func keeper(id string, needs map[string]string, present []resources.PathResource) string {
	if by, ok := needs[id]; ok {
		return by + " needs it"
	}
	if p, ok := strings.CutPrefix(id, "path "); ok {
		for _, r := range present {
			if strings.HasPrefix(r.Path(), strings.TrimSuffix(p, "/")+"/") {
				return r.Addr().String() + " is inside it"
			}
		}
	}
	return ""
}

// modified reports whether an orphaned file's content differs from the
// content tend recorded.
func modified(obs *resources.Observed, o *orphan) bool {
	s, err := obs.Path(o.res.(resources.PathResource).Path())
	return err == nil && s.SHA256 != "" && s.SHA256 != o.entry.SHA256
}

// pruneRank orders the kinds of orphans for removal: services stop first,
// then paths (deepest first), other kinds, packages, users, and groups last
// (a user's group goes after the user).
func pruneRank(r resources.Resource) int {
	switch r.(type) {
	case resources.PathResource:
		return 1
	case resources.BatchResource:
		return 3
	}
	switch r.Addr().Kind {
	case "service":
		return 0
	case "user":
		return 4
	case "group":
		return 5
	}
	return 2
}

// pruneLess orders orphans for pruning and for the report.
func pruneLess(a, b *orphan) bool {
	if (a.res == nil) != (b.res == nil) {
		return b.res == nil
	}
	if a.res != nil {
		ra, rb := pruneRank(a.res), pruneRank(b.res)
		if ra != rb {
			return ra < rb
		}
		if ra == 1 {
			da := strings.Count(a.res.(resources.PathResource).Path(), "/")
			db := strings.Count(b.res.(resources.PathResource).Path(), "/")
			if da != db {
				return da > db
			}
		}
	}
	if a.entry.Address != b.entry.Address {
		return a.entry.Address < b.entry.Address
	}
	return a.key < b.key
}

// prune removes the orphans planned for pruning, after the graph's
// resources applied, one at a time in prune order; the members of a batch
// (packages) go in one call when the first of them is reached. A failure
// is reported and the others go on.
func (h *hostRun) prune(ctx context.Context, a *applier) {
	st := h.orphans
	if st == nil || st.obs == nil {
		return
	}
	target := *a.target
	target.Observed = st.obs
	done := map[*orphan]bool{}
	for _, o := range st.list {
		if done[o] || !o.prune || o.rep.Status != report.StatusPlanned {
			continue
		}
		if err := ctx.Err(); err != nil {
			o.rep.Status, o.rep.Error = report.StatusFailed, err.Error()
			continue
		}
		t0 := time.Now()
		b, ok := o.res.(resources.BatchResource)
		if !ok {
			err := o.res.Apply(ctx, &target, o.rep.Change)
			h.pruned(a, o, err, t0)
			continue
		}
		var members []*orphan
		var rs []resources.BatchResource
		var cs []*resources.Change
		for _, m := range st.list {
			if mb, ok := m.res.(resources.BatchResource); ok && m.prune && m.rep.Status == report.StatusPlanned && mb.BatchKey() == b.BatchKey() {
				members, rs, cs = append(members, m), append(rs, mb), append(cs, m.rep.Change)
				done[m] = true
			}
		}
		errs, err := b.ApplyBatch(ctx, &target, rs, cs)
		for i, m := range members {
			e := err
			if e == nil && i < len(errs) {
				e = errs[i]
			}
			h.pruned(a, m, e, t0)
		}
	}
}

// pruned records the outcome of pruning one orphan.
func (h *hostRun) pruned(a *applier, o *orphan, err error, t0 time.Time) {
	addr := o.entry.Address
	if err != nil {
		h.log.Info("prune failed", zap.String("resource", addr), zap.Error(err))
		o.rep.Status, o.rep.Error = report.StatusFailed, err.Error()
		return
	}
	h.log.Info("pruned", zap.String("resource", addr), zap.String("action", o.rep.Change.Action.String()), zap.Duration("took", time.Since(t0)))
	o.rep.Status = report.StatusApplied
	a.done(o.rep.Change)
}

// observePruned adds the pruned orphans to the verify probe.
func (h *hostRun) observePruned(p *resources.Probe) {
	if h.orphans == nil {
		return
	}
	for _, o := range h.orphans.list {
		if o.rep.Status == report.StatusApplied {
			o.res.Observe(p)
		}
	}
}

// verifyPruned reports every pruned orphan that the verify probe still
// sees as not converged.
func (h *hostRun) verifyPruned(obs *resources.Observed) {
	if h.orphans == nil {
		return
	}
	for _, o := range h.orphans.list {
		if o.rep.Status != report.StatusApplied {
			continue
		}
		c, err := o.res.Diff(obs)
		switch {
		case err != nil:
			o.rep.Status, o.rep.Error = report.StatusNotConverged, err.Error()
		case c.Changed():
			o.rep.Status, o.rep.Error = report.StatusNotConverged, "still differs after prune: "+describe(c)
		}
	}
}

// recordManifest writes the host's new manifest when it differs from the
// one read: an entry for every resource of the graph that can be undone,
// and the orphans that are still on the host (not pruned, or not pruned
// successfully). File hashes come from the verify probe for applied files
// (vobs, nil when there was no apply or verify failed) and from the plan's
// probe for unchanged ones.
func (h *hostRun) recordManifest(ctx context.Context, obs, vobs *resources.Observed) error {
	st := h.orphans
	if st == nil {
		return nil
	}
	if st.matched {
		// The plan only checked the manifest; an apply needs its hashes.
		if st.raw == nil {
			// The expected one, by hash: made now.
			raw, _, err := obs.Content(h.manifestPath())
			if err != nil {
				return fmt.Errorf("read manifest: %w", err)
			}
			st.raw = raw
		}
		entries, err := decodeManifest(st.raw)
		if err != nil {
			return fmt.Errorf("read manifest %s: %w", h.manifestPath(), err)
		}
		st.entries = entries
	}
	old := make(map[string]string, len(st.entries)) // address + prune -> sha256
	for _, e := range st.entries {
		old[e.Address+"\x00"+e.pruneKey()] = e.SHA256
	}
	var entries []*manifestEntry
	for i, n := range h.g.Nodes {
		if n.Resource == nil {
			continue
		}
		attrs := pruneAttrs(n.Resource)
		if attrs == nil {
			continue
		}
		e := &manifestEntry{Address: n.Key(), Module: n.Addr.Module, Kind: n.Addr.Kind,
			Name: n.Addr.Name, Key: n.Addr.Key, Role: n.Role, Prune: attrs}
		e.SHA256 = old[e.Address+"\x00"+e.pruneKey()]
		if p, ok := n.Resource.(resources.PathResource); ok {
			src := obs
			switch h.byNode[i].Status {
			case report.StatusUnchanged:
			case report.StatusApplied:
				src = vobs
			default:
				src = nil // unknown: keep the recorded hash
			}
			if src != nil {
				if s, err := src.Path(p.Path()); err == nil {
					e.SHA256 = s.SHA256
				}
			}
		}
		entries = append(entries, e)
	}
	for _, o := range st.list {
		if o.prune && o.rep.Status == report.StatusApplied {
			continue
		}
		entries = append(entries, o.entry)
	}
	var data []byte
	if len(entries) > 0 {
		data = encodeManifest(entries)
	}
	if bytes.Equal(data, st.raw) {
		return nil
	}
	return writeManifest(ctx, h.t, h.manifestPath(), data)
}

// matchManifest reports whether raw is, byte for byte, the manifest that
// recordManifest writes for the graph when nothing is orphaned, whatever
// the hashes it records for files: an entry for every resource that can be
// undone, with its address, role and prune attributes as the spec has them
// now, and valid (decodeManifest accepts it and gives the same strings
// back). Then no entry of raw is an orphan, and raw need not be decoded
// unless an apply needs its hashes (recordManifest).
//
// It formats the entries in a pooled buffer: a run of many hosts that
// changes nothing allocates little here.
func (h *hostRun) matchManifest(raw []byte) bool {
	rest, ok := bytes.CutPrefix(raw, []byte(manifestHeader))
	if !ok {
		return false
	}
	mb := matchPool.Get().(*matchBuffers)
	defer matchPool.Put(mb)
	first := true
	return h.eachEntry(mb, func(n *config.Node, prune pruneSpec) bool {
		sep := ",\n"
		if first {
			sep, first = "\n", false
		}
		if rest, ok = bytes.CutPrefix(rest, []byte(sep)); !ok {
			return false
		}
		var exact bool
		mb.line, exact = appendEntry(mb.line[:0], n.Key(), n.Addr.Module, n.Addr.Kind, n.Addr.Name, n.Addr.Key, n.Role, prune, "")
		if !exact {
			return false
		}
		// The entry but its closing brace, then the hash, when one is
		// recorded (hex digits only), then the brace.
		if rest, ok = bytes.CutPrefix(rest, mb.line[:len(mb.line)-1]); !ok {
			return false
		}
		if after, ok := bytes.CutPrefix(rest, []byte(`,"sha256":"`)); ok {
			end := 0
			for end < len(after) && (after[end] >= '0' && after[end] <= '9' || after[end] >= 'a' && after[end] <= 'f') {
				end++
			}
			if end == 0 || end == len(after) || after[end] != '"' {
				return false
			}
			rest = after[end+1:]
		}
		rest, ok = bytes.CutPrefix(rest, []byte("}"))
		return ok
	}) && string(rest) == manifestTrailer
}

// expectedManifest appends to dst the manifest a converged host has: the
// one recordManifest writes for the graph when nothing is orphaned and
// every file has the content the spec gives it (its hash, ContentSHA256,
// is what the probe observed after the apply). The probe sends its hash,
// and the host sends the manifest only when its own differs
// (Probe.ContentUnless). ok is false when the graph has no manifest to
// expect: no entries, or one matchManifest would not accept.
func (h *hostRun) expectedManifest(dst []byte) (_ []byte, ok bool) {
	mb := matchPool.Get().(*matchBuffers)
	defer matchPool.Put(mb)
	dst = append(dst, manifestHeader...)
	entries := 0
	ok = h.eachEntry(mb, func(n *config.Node, prune pruneSpec) bool {
		if entries > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '\n')
		entries++
		sha := ""
		if c, ok := n.Resource.(interface{ ContentSHA256() string }); ok {
			sha = c.ContentSHA256()
		}
		var exact bool
		dst, exact = appendEntry(dst, n.Key(), n.Addr.Module, n.Addr.Kind, n.Addr.Name, n.Addr.Key, n.Role, prune, sha)
		return exact
	})
	if !ok || entries == 0 {
		return dst, false // entries == 0: recordManifest removes the manifest
	}
	return append(dst, manifestTrailer...), true
}

// eachEntry calls fn, in address order, for every node of the graph that
// has a manifest entry, with what undoes it. It returns false, and stops,
// when fn does, or when the graph's manifest would not decode as written
// (two nodes of one address, an entry without kind, name or prune
// attributes): matchManifest and expectedManifest then leave the
// manifest to decodeManifest.
func (h *hostRun) eachEntry(mb *matchBuffers, fn func(n *config.Node, prune pruneSpec) bool) bool {
	if !h.manifestOrder(mb) {
		return false
	}
	for _, i := range mb.order {
		n := h.g.Nodes[i]
		prune, ok := pruneOf(n.Resource)
		if !ok {
			continue
		}
		if n.Addr.Kind == "" || n.Addr.Name == "" || prune.empty() || !fn(n, prune) {
			return false
		}
	}
	return true
}

// expectManifest asks probe for the host's manifest: by the hash of the
// expected one when there is one (expectedManifest, made in a reused
// buffer), whole otherwise.
func (h *hostRun) expectManifest(probe *resources.Probe) {
	if h.o.Partial {
		// A partial run does not look for orphans (planOrphans): the
		// manifest is read whole, as it always was, and left alone.
		probe.Content(h.manifestPath())
		return
	}
	buf := manifestBuffers.Get().(*[]byte)
	defer manifestBuffers.Put(buf)
	b, ok := h.expectedManifest((*buf)[:0])
	*buf = b[:0]
	if !ok {
		probe.Content(h.manifestPath())
		return
	}
	probe.ContentUnless(h.manifestPath(), resources.HashOf(b), expectedText{h})
}

// manifestBuffers are the buffers expectManifest hashes manifests in.
var manifestBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 32<<10); return &b }}

// expectedText is the expected manifest as a resources.Text, made when a
// caller needs its bytes (an apply that records the manifest).
type expectedText struct{ h *hostRun }

func (t expectedText) AppendText(dst []byte) []byte {
	b, _ := t.h.expectedManifest(dst)
	return b
}

// manifestOrder puts the indices of the graph's nodes in address order in
// mb.order; ok is false when two nodes share an address (then only the
// decoder can judge a manifest).
func (h *hostRun) manifestOrder(mb *matchBuffers) (ok bool) {
	nodes := h.g.Nodes
	mb.order = mb.order[:0]
	sorted := true
	for i := range nodes {
		mb.order = append(mb.order, i)
		if i > 0 && nodes[i-1].Key() >= nodes[i].Key() {
			sorted = false
		}
	}
	if sorted {
		return true
	}
	slices.SortFunc(mb.order, func(a, b int) int { return strings.Compare(nodes[a].Key(), nodes[b].Key()) })
	for k := 1; k < len(mb.order); k++ {
		if nodes[mb.order[k-1]].Key() == nodes[mb.order[k]].Key() {
			return false
		}
	}
	return true
}

// matchBuffers are the buffers of one matchManifest call.
type matchBuffers struct {
	order []int  // node indices in address order
	line  []byte // one entry
}

var matchPool = sync.Pool{New: func() any { return &matchBuffers{line: make([]byte, 0, 512)} }}
