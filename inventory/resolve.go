package inventory

import (
	"cmp"
	"container/heap"
	"fmt"
	"maps"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"

	"github.com/tendhq/tend/internal/hclsrc"
)

// Built-in defaults of the connection settings.
const (
	defaultPort           = 22
	defaultBecomeUser     = "root"
	defaultKnownHosts     = "~/.ssh/known_hosts"
	defaultConnectTimeout = 10 * time.Second
)

// defaultKeys are the private keys, in ~/.ssh, used when no level sets
// identity_file(s): those that exist when the inventory is loaded.
var defaultKeys = []string{"id_ed25519", "id_ecdsa", "id_rsa"}

// builder turns parsed files into an Inventory, in the steps of build.
type builder struct {
	sys        sysEnv
	d          decoder
	defaults   settings
	defaultsAt *hcl.Range
	groups     []*groupDecl // declaration order, duplicates left out
	groupBy    map[string]*groupDecl
	hosts      []*hostDecl // declaration order, duplicates left out
	hostBy     map[string]*hostDecl
	reported   map[string]bool // diagnostics already given, see once
}

// build decodes srcs (in the order given) into an Inventory; r resolves
// and checks the paths of vars_files. The steps:
//
//  1. parse every file and decode its blocks, dropping duplicates;
//  2. link names to declarations (group hosts and children, host groups);
//  3. reject group cycles and rank groups in precedence order;
//  4. merge each host's settings: defaults < its groups by rank < host;
//  5. resolve jump hosts, which needs every host merged.
func build(srcs []source, r reader, sys sysEnv) (*Inventory, hcl.Diagnostics) {
	b := &builder{
		sys:      sys,
		d:        decoder{ctx: evalContext(sys.lookupEnv), varFile: r.varFile},
		groupBy:  map[string]*groupDecl{},
		hostBy:   map[string]*hostDecl{},
		reported: map[string]bool{},
	}
	p := hclparse.NewParser()
	for _, s := range srcs {
		f, diags := hclsrc.Parse(p, s.src, s.name, isJSON(s.name))
		b.d.diags = append(b.d.diags, diags...)
		if f != nil {
			// A file with syntax errors still yields the blocks that
			// parsed; decoding them keeps references to them valid. What
			// decoding them finds wrong is dropped: a half-parsed
			// expression gives follow-up errors with meaningless ranges
			// (an unclosed call "A(" ends at line 0), and the syntax
			// errors already say what is wrong.
			n := len(b.d.diags)
			b.decodeFile(f)
			if diags.HasErrors() {
				b.d.diags = b.d.diags[:n]
			}
		}
	}
	b.link()
	b.cycles()
	b.rank()

	inv := &Inventory{
		Groups: make(map[string]*Group, len(b.groups)),
		files:  p.Files(),
		byName: make(map[string]*Host, len(b.hosts)),
	}
	for _, g := range b.groups {
		out := &Group{Name: g.name, DeclRange: g.declRange}
		for _, pg := range g.parents {
			out.Parents = append(out.Parents, pg.name)
		}
		for _, k := range g.kids {
			out.Children = append(out.Children, k.name)
		}
		inv.Groups[g.name] = out
	}
	merged := make(map[string]*settings, len(b.hosts))
	for _, hd := range b.hosts {
		h, s := b.merge(hd)
		inv.Hosts = append(inv.Hosts, h)
		inv.byName[h.Name] = h
		merged[h.Name] = s
	}
	b.jumps(inv, merged)
	slices.SortFunc(inv.Hosts, func(a, c *Host) int { return strings.Compare(a.Name, c.Name) })
	return inv, b.d.diags
}

// decodeFile decodes the blocks of one file.
func (b *builder) decodeFile(f *hcl.File) {
	content, diags := f.Body.Content(fileSchema)
	b.d.diags = append(b.d.diags, diags...)
	if content == nil {
		return
	}
	for _, blk := range content.Blocks {
		switch blk.Type {
		case "defaults":
			s := b.d.defaults(blk)
			if b.defaultsAt != nil {
				b.d.errorf(blk.DefRange, "Duplicate defaults block",
					"The defaults are already set at %s; an inventory has at most one defaults block.",
					position(*b.defaultsAt))
				continue
			}
			b.defaultsAt = blk.DefRange.Ptr()
			b.defaults = s
		case "group":
			g := b.d.group(blk)
			if !b.validName(g.name, g.nameRange, "group") {
				continue
			}
			if first := b.groupBy[g.name]; first != nil {
				b.d.errorf(g.nameRange, "Duplicate group",
					"A group named %q is already declared at %s; each group is declared once.",
					g.name, position(first.declRange))
				continue
			}
			g.index = len(b.groups)
			b.groups = append(b.groups, g)
			b.groupBy[g.name] = g
		case "host":
			h := b.d.host(blk)
			if !b.validName(h.name, h.nameRange, "host") {
				continue
			}
			if first := b.hostBy[h.name]; first != nil {
				b.d.errorf(h.nameRange, "Duplicate host",
					"A host named %q is already declared at %s; each host is declared once, "+
						"and joins more groups through its groups argument.",
					h.name, position(first.declRange))
				continue
			}
			b.hosts = append(b.hosts, h)
			b.hostBy[h.name] = h
		}
	}
}

// validName reports whether name can name a host or group (what), and
// reports it when it cannot.
func (b *builder) validName(name string, rng hcl.Range, what string) bool {
	switch {
	case name == "":
		b.d.errorf(rng, "Invalid "+what+" name", "A %s name must not be empty.", what)
		return false
	case hasSpace(name):
		b.d.errorf(rng, "Invalid "+what+" name",
			"The %s name %q contains white space or control characters.", what, name)
		return false
	}
	return true
}

// link resolves the names of group hosts, group children and host groups,
// and reports those that name nothing.
func (b *builder) link() {
	for _, g := range b.groups {
		for _, c := range g.children {
			k := b.groupBy[c.name]
			if k == nil {
				b.d.errorf(c.rng, "Unknown group",
					"Group %q lists %q in its children, but no group of that name is declared.%s",
					g.name, c.name, suggest(c.name, b.groupBy))
				continue
			}
			if slices.Contains(g.kids, k) {
				continue
			}
			g.kids = append(g.kids, k)
			g.kidRefs = append(g.kidRefs, c)
			k.parents = append(k.parents, g)
		}
		for _, r := range g.hosts {
			h := b.hostBy[r.name]
			if h == nil {
				b.d.errorf(r.rng, "Undeclared host",
					"Group %q lists host %q, but no host block declares it; add host %q {} to the inventory.%s",
					g.name, r.name, r.name, suggest(r.name, b.hostBy))
				continue
			}
			h.direct = append(h.direct, g)
		}
	}
	for _, h := range b.hosts {
		for _, r := range h.groups {
			g := b.groupBy[r.name]
			if g == nil {
				b.d.errorf(r.rng, "Unknown group",
					"Host %q lists group %q, but no group of that name is declared; declare it with group %q {}.%s",
					h.name, r.name, r.name, suggest(r.name, b.groupBy))
				continue
			}
			h.direct = append(h.direct, g)
		}
	}
}

// cycles reports every loop of group children once, as the shortest loop
// through its earliest-declared member, children followed in the order
// written. The diagnostic points at that member's child reference that
// starts the loop.
func (b *builder) cycles() {
	// Tarjan's strongly connected components.
	index := map[*groupDecl]int{}
	low := map[*groupDecl]int{}
	onStack := map[*groupDecl]bool{}
	var stack []*groupDecl
	var comps [][]*groupDecl
	var visit func(v *groupDecl)
	visit = func(v *groupDecl) {
		index[v] = len(index)
		low[v] = index[v]
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range v.kids {
			if _, seen := index[w]; !seen {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] != index[v] {
			return
		}
		var comp []*groupDecl
		for {
			w := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[w] = false
			comp = append(comp, w)
			if w == v {
				break
			}
		}
		comps = append(comps, comp)
	}
	for _, g := range b.groups {
		if _, seen := index[g]; !seen {
			visit(g)
		}
	}
	for _, comp := range comps {
		if len(comp) == 1 && !slices.Contains(comp[0].kids, comp[0]) {
			continue
		}
		loop := shortestLoop(comp)
		names := make([]string, len(loop))
		for i, g := range loop {
			names[i] = g.name
		}
		start := loop[0]
		at := start.kidRefs[slices.Index(start.kids, loop[1])].rng
		b.d.errorf(at, "Group cycle",
			"The children of these groups form a loop: %s. A group cannot be its own descendant.",
			strings.Join(names, " -> "))
	}
}

// shortestLoop returns a shortest loop through the earliest-declared group
// of the strongly connected component comp, first group repeated at the end.
func shortestLoop(comp []*groupDecl) []*groupDecl {
	start := slices.MinFunc(comp, func(a, c *groupDecl) int { return a.index - c.index })
	in := map[*groupDecl]bool{}
	for _, g := range comp {
		in[g] = true
	}
	prev := map[*groupDecl]*groupDecl{}
	queue := []*groupDecl{start}
	var last *groupDecl
	for len(queue) > 0 && last == nil {
		v := queue[0]
		queue = queue[1:]
		for _, w := range v.kids {
			if w == start {
				last = v
				break
			}
			if _, seen := prev[w]; seen || !in[w] {
				continue
			}
			prev[w] = v
			queue = append(queue, w)
		}
	}
	var back []*groupDecl
	for g := last; g != start; g = prev[g] {
		back = append(back, g)
	}
	slices.Reverse(back)
	loop := append([]*groupDecl{start}, back...)
	return append(loop, start)
}

// rank orders all groups by precedence: a group comes after every one of
// its ancestors, and otherwise the earliest-declared group that may come
// next does (a stable topological sort). Groups in a loop, already
// reported, come last in declaration order.
func (b *builder) rank() {
	waiting := make(map[*groupDecl]int, len(b.groups)) // parents not ranked yet
	ready := &declHeap{}
	for _, g := range b.groups {
		waiting[g] = len(g.parents)
		if len(g.parents) == 0 {
			heap.Push(ready, g)
		}
	}
	n := 0
	for ready.Len() > 0 {
		g := heap.Pop(ready).(*groupDecl)
		g.rank = n
		n++
		for _, k := range g.kids {
			waiting[k]--
			if waiting[k] == 0 {
				heap.Push(ready, k)
			}
		}
	}
	for _, g := range b.groups {
		if waiting[g] > 0 {
			g.rank = n
			n++
		}
	}
}

// declHeap is a min-heap of groups by declaration order.
type declHeap []*groupDecl

func (h declHeap) Len() int           { return len(h) }
func (h declHeap) Less(i, j int) bool { return h[i].index < h[j].index }
func (h declHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *declHeap) Push(x any)        { *h = append(*h, x.(*groupDecl)) }
func (h *declHeap) Pop() any {
	old := *h
	g := old[len(old)-1]
	*h = old[:len(old)-1]
	return g
}

// merge computes a host's groups (with their ancestors, in rank order) and
// its settings merged over them; the jump is left to jumps.
func (b *builder) merge(hd *hostDecl) (*Host, *settings) {
	in := map[*groupDecl]bool{}
	todo := slices.Clone(hd.direct)
	for len(todo) > 0 {
		g := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if in[g] {
			continue
		}
		in[g] = true
		todo = append(todo, g.parents...)
	}
	groups := make([]*groupDecl, 0, len(in))
	for g := range in {
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, c *groupDecl) int { return a.rank - c.rank })

	s := &settings{}
	s.merge(&b.defaults)
	h := &Host{Name: hd.name, DeclRange: hd.declRange}
	for _, g := range groups {
		s.merge(&g.s)
		h.Groups = append(h.Groups, g.name)
	}
	s.merge(&hd.s)

	h.Address = hd.name
	if hd.address.set {
		h.Address = hd.address.v
	}
	h.Port = or(s.port, defaultPort)
	h.User = or(s.user, b.sys.user)
	if s.identityFiles.set {
		for _, f := range s.identityFiles.v {
			h.IdentityFiles = append(h.IdentityFiles, b.expand(f))
		}
	} else {
		h.IdentityFiles = b.defaultIdentityFiles()
	}
	sock, _ := b.sys.lookupEnv("SSH_AUTH_SOCK")
	h.UseAgent = sock != "" && or(s.sshAgent, true)
	h.KnownHosts = b.expand(or(s.knownHosts, defaultKnownHosts))
	h.Become = s.become.v
	h.BecomeUser = or(s.becomeUser, defaultBecomeUser)
	h.ConnectTimeout = or(s.connectTimeout, defaultConnectTimeout)
	h.Vars = cty.EmptyObjectVal
	if len(s.vars) > 0 {
		h.Vars = cty.ObjectVal(s.vars)
	}
	h.VarFiles = lastOnce(s.varFiles)
	return h, s
}

// lastOnce returns files without repeats, each at the position of its last
// occurrence, or nil when files is empty.
func lastOnce(files []string) []string {
	if len(files) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(files))
	out := make([]string, 0, len(files))
	for i := len(files) - 1; i >= 0; i-- {
		if !seen[files[i]] {
			seen[files[i]] = true
			out = append(out, files[i])
		}
	}
	slices.Reverse(out)
	return out
}

// or returns o's value when it is set, def otherwise.
func or[T any](o opt[T], def T) T {
	if o.set {
		return o.v
	}
	return def
}

// expand replaces a leading "~/" (or a lone "~") with the home directory.
func (b *builder) expand(p string) string {
	if b.sys.home == "" {
		return p
	}
	if p == "~" {
		return b.sys.home
	}
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		return filepath.Join(b.sys.home, rest)
	}
	return p
}

// defaultIdentityFiles returns those of ~/.ssh/id_ed25519, id_ecdsa and
// id_rsa that exist, in that order.
func (b *builder) defaultIdentityFiles() []string {
	var files []string
	if b.sys.home == "" {
		return files
	}
	for _, k := range defaultKeys {
		if p := filepath.Join(b.sys.home, ".ssh", k); b.sys.exists(p) {
			files = append(files, p)
		}
	}
	return files
}

// jumps resolves every host's jump setting. A name of another host gives
// that host's connection settings; a host never jumps through itself, so an
// inherited jump naming the host itself is ignored (one set in its own block
// is an error). Anything else must read user@address:port (user and port
// optional, but one of "@" or ":" present, so that a misspelt host name is
// not taken for an address): the user defaults to the host's, the port to
// 22, and keys, agent and known_hosts are the host's.
func (b *builder) jumps(inv *Inventory, merged map[string]*settings) {
	// First, what each host's jump names: another host, or an address.
	targets := map[string]*Host{}
	literals := map[string]*Jump{}
	for _, h := range inv.Hosts {
		s := merged[h.Name]
		ref := s.jump.v
		if ref == "" {
			continue
		}
		if t := inv.byName[ref]; t != nil {
			if t != h {
				targets[h.Name] = t
			} else if b.hostBy[h.Name].s.jump.set {
				b.once(s.jump.rng, "Invalid jump host", "Host %q cannot jump through itself.", h.Name)
			}
			continue
		}
		if !strings.ContainsAny(ref, "@:") {
			b.once(s.jump.rng, "Unknown jump host",
				"No host named %q is in the inventory.%s To jump through a machine outside it, "+
					"write \"user@address\", \"address:port\" or \"user@address:port\".", ref, suggest(ref, b.hostBy))
			continue
		}
		j, err := parseJump(ref)
		if err != nil {
			b.once(s.jump.rng, "Invalid jump host",
				"The jump host %q is neither a host of the inventory nor of the form user@address:port: %s.", ref, err)
			continue
		}
		j.User = cmp.Or(j.User, h.User)
		j.IdentityFiles = slices.Clone(h.IdentityFiles)
		j.UseAgent = h.UseAgent
		j.KnownHosts = h.KnownHosts
		literals[h.Name] = j
	}
	// Then the jumps; the transport tunnels through one bastion only.
	for _, h := range inv.Hosts {
		if j := literals[h.Name]; j != nil {
			h.Jump = j
			continue
		}
		t := targets[h.Name]
		if t == nil {
			continue
		}
		if targets[t.Name] != nil || literals[t.Name] != nil {
			b.once(merged[h.Name].jump.rng, "Chained jump host",
				"The jump host %q itself connects through %q; jump hosts cannot be chained. "+
					"Set jump = \"\" on host %q.", t.Name, merged[t.Name].jump.v, t.Name)
			continue
		}
		h.Jump = &Jump{
			Address:       t.Address,
			Port:          t.Port,
			User:          t.User,
			IdentityFiles: slices.Clone(t.IdentityFiles),
			UseAgent:      t.UseAgent,
			KnownHosts:    t.KnownHosts,
		}
	}
}

// once reports an error unless the same one was reported already: a setting
// inherited from defaults or a group is wrong once, not once per host.
func (b *builder) once(rng hcl.Range, summary, format string, args ...any) {
	key := fmt.Sprintf("%s\x00%s\x00%s", rng, summary, fmt.Sprintf(format, args...))
	if b.reported[key] {
		return
	}
	b.reported[key] = true
	b.d.errorf(rng, summary, format, args...)
}

// parseJump parses "[user@]address[:port]"; an IPv6 address with a port is
// written in brackets ("[::1]:2222").
func parseJump(s string) (*Jump, error) {
	j := &Jump{Port: defaultPort}
	hostport := s
	if i := strings.LastIndex(s, "@"); i >= 0 {
		j.User, hostport = s[:i], s[i+1:]
		if j.User == "" {
			return nil, fmt.Errorf("the user before \"@\" is empty")
		}
	}
	switch {
	case strings.HasPrefix(hostport, "[") && strings.HasSuffix(hostport, "]"):
		j.Address = hostport[1 : len(hostport)-1]
	case strings.HasPrefix(hostport, "[") || strings.Count(hostport, ":") == 1:
		addr, port, err := net.SplitHostPort(hostport)
		if err != nil {
			return nil, err
		}
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("the port %q is not a number from 1 to 65535", port)
		}
		j.Address, j.Port = addr, n
	default:
		// No port, or an IPv6 address without brackets.
		j.Address = hostport
	}
	if j.Address == "" {
		return nil, fmt.Errorf("the address is empty")
	}
	if hasSpace(j.User) || hasSpace(j.Address) {
		return nil, fmt.Errorf("it contains white space or control characters")
	}
	return j, nil
}

// suggest returns " Did you mean "NAME"?" for the declared name closest to
// a misspelt one, when one is close enough, and "" otherwise.
func suggest[V any](name string, declared map[string]V) string {
	best, bestDist := "", 3 // farther than two edits is no typo
	for _, c := range slices.Sorted(maps.Keys(declared)) {
		if d := levenshtein.Distance(name, c, nil); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}
