package agent

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tendhq/tend/engine/config"
	"github.com/tendhq/tend/engine/report"
)

// HostView is the reply of GET /api/v1/hosts/{name}: a host's status, its
// resource graph at the revision last planned or applied, and what that
// run found or did to each resource. The web UI draws it as a tree.
type HostView struct {
	Host HostStatus `json:"host"`
	// Revision is the revision of the graph and of the run (main@sha1:<hex>).
	Revision string `json:"revision,omitempty"`
	// Mode is "plan" (a status check or a drift check) or "apply" (a sync).
	Mode string `json:"mode,omitempty"`
	// Time is when that run ended; zero when the host was not run yet.
	Time time.Time `json:"time,omitzero"`
	// Error is the host-level failure of that run (unreachable, probe
	// failed), or "".
	Error string `json:"error,omitempty"`
	// Nodes are the host's resources in graph order (dependencies first).
	Nodes []ViewNode `json:"nodes"`
	// Edges run from a dependency to what depends on it (apply order).
	Edges []ViewEdge `json:"edges"`
}

// ViewNode is one resource of a HostView.
type ViewNode struct {
	// ID is the resource's address, e.g. file[/etc/motd]; edges refer to it.
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Module string `json:"module,omitempty"`
	// Role is the role that declares the resource.
	Role string `json:"role,omitempty"`
	// Depth is the length of the longest dependency chain under the
	// resource: 0 for one that depends on nothing.
	Depth int `json:"depth"`
	// Status is the run's report status (unchanged, planned, applied,
	// failed, skipped, not-converged, error, orphaned), or "unknown" when
	// the run did not reach the resource.
	Status string `json:"status"`
	// Change is what the run found or did: attributes before -> after and
	// a file's unified diff, sensitive values left out exactly as in the
	// JSON plan (engine/report). Nil when the run did not reach the
	// resource.
	Change *report.JSONResource `json:"change,omitempty"`
}

// ViewEdge is one edge of a HostView.
type ViewEdge struct {
	From string `json:"from"` // the dependency (or the notifier)
	To   string `json:"to"`   // the resource that depends on it
	// Kind is why: "path", "reference", "depends_on" or "notify".
	Kind string `json:"kind"`
}

// StatusUnknownResource is a ViewNode's Status when the last run did not
// reach the resource.
const StatusUnknownResource = "unknown"

// hostViews keeps the last HostView of every host, built from the runs of
// the reconcile loop, the drift checks and the syncs. Its zero value is
// ready.
type hostViews struct {
	mu sync.Mutex
	m  map[string]*HostView // Host is filled in when read
}

// recordRun keeps, for every host of run, its graph at c's revision and
// what the run found or did. It is called after each engine run of the
// agent (plan or apply); hosts not in run keep their last view.
func (a *Agent) recordRun(c *compiled, run *report.Run) {
	if run == nil {
		return
	}
	// One conversion for the whole run: the JSON model is the one place
	// that masks sensitive values and renders file diffs.
	j := report.NewJSONReport(run)
	now := a.now()
	views := make(map[string]*HostView, len(j.Hosts))
	for i, h := range run.Hosts {
		views[h.Name] = buildView(c.graphs[h.Name], h, &j.Hosts[i], c.rev.String(), string(run.Mode), now)
	}
	v := &a.views
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = map[string]*HostView{}
	}
	for name, hv := range views {
		v.m[name] = hv
	}
}

// buildView joins a host's graph g (nil when unknown) with its report h
// and jh, h in the JSON model.
func buildView(g *config.HostGraph, h *report.Host, jh *report.JSONHost, rev, mode string, at time.Time) *HostView {
	hv := &HostView{Revision: rev, Mode: mode, Time: at, Error: h.Error, Nodes: []ViewNode{}, Edges: []ViewEdge{}}
	byID := map[string]int{}
	add := func(n ViewNode) int {
		if i, ok := byID[n.ID]; ok {
			return i
		}
		n.Status = StatusUnknownResource
		byID[n.ID] = len(hv.Nodes)
		hv.Nodes = append(hv.Nodes, n)
		return len(hv.Nodes) - 1
	}
	seen := map[[2]string]bool{}
	edge := func(from, to, kind string) {
		if k := [2]string{from, to}; !seen[k] {
			seen[k] = true
			hv.Edges = append(hv.Edges, ViewEdge{From: from, To: to, Kind: kind})
		}
	}
	// A graph that needs the host's facts (Deferred) has no nodes before
	// the engine runs it: the report's resources stand in, without edges.
	if g != nil {
		for _, n := range g.Nodes {
			add(ViewNode{ID: n.Addr.String(), Kind: n.Addr.Kind, Name: n.Addr.Name, Module: n.Addr.Module, Role: n.Role})
		}
		for _, n := range g.Nodes {
			id := n.Addr.String()
			for _, e := range n.Edges {
				add(ViewNode{ID: e.To.String(), Kind: e.To.Kind, Name: e.To.Name, Module: e.To.Module})
				edge(e.To.String(), id, e.Kind.String())
			}
			for _, r := range n.Notify {
				add(ViewNode{ID: r.String(), Kind: r.Kind, Name: r.Name, Module: r.Module})
				edge(id, r.String(), config.EdgeNotify.String())
			}
		}
	}
	for i, r := range jh.Resources {
		// An orphan, or a resource of a deferred graph, is not among the
		// graph's nodes: it is drawn on its own.
		k := add(ViewNode{ID: r.Address, Kind: r.Kind, Name: r.Name, Module: h.Resources[i].Addr.Module})
		res := jh.Resources[i]
		hv.Nodes[k].Status, hv.Nodes[k].Change = r.Status, &res
	}
	depths(hv)
	return hv
}

// depths sets every node's Depth, the longest chain of edges that leads to
// it; the edges form a DAG (Compile rejects cycles), and a guard keeps a
// malformed graph from looping.
func depths(hv *HostView) {
	in := map[string][]string{}
	for _, e := range hv.Edges {
		in[e.To] = append(in[e.To], e.From)
	}
	memo := map[string]int{}
	var depth func(id string, guard int) int
	depth = func(id string, guard int) int {
		if d, ok := memo[id]; ok {
			return d
		}
		d := 0
		if guard < len(hv.Nodes) {
			for _, from := range in[id] {
				d = max(d, depth(from, guard+1)+1)
			}
		}
		memo[id] = d
		return d
	}
	for i := range hv.Nodes {
		hv.Nodes[i].Depth = depth(hv.Nodes[i].ID, 0)
	}
}

// HostView returns the view of the named host: its status and its last
// graph and run. false when the agent knows no such host.
func (a *Agent) HostView(name string) (HostView, bool) {
	var st *HostStatus
	for _, h := range a.Status().Hosts {
		if h.Name == name {
			st = &h
			break
		}
	}
	if st == nil {
		return HostView{}, false
	}
	v := &a.views
	v.mu.Lock()
	defer v.mu.Unlock()
	out := HostView{Host: *st, Nodes: []ViewNode{}, Edges: []ViewEdge{}}
	if hv := v.m[name]; hv != nil {
		// The stored view is never changed after it is recorded: sharing
		// its slices with the reply is safe.
		out.Revision, out.Mode, out.Time, out.Error = hv.Revision, hv.Mode, hv.Time, hv.Error
		out.Nodes, out.Edges = slices.Clip(hv.Nodes), slices.Clip(hv.Edges)
	}
	return out, true
}

// hostView is GET /api/v1/hosts/{name}.
func (a *Agent) hostView(w http.ResponseWriter, r *http.Request, _ string) {
	name := r.PathValue("name")
	hv, ok := a.HostView(name)
	if !ok {
		writeJSON(w, http.StatusNotFound, ErrorReply{Error: "no host " + strings.TrimSpace(name) + " in the agent's inventory"})
		return
	}
	writeJSON(w, http.StatusOK, hv)
}
