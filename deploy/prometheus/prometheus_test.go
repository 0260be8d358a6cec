package prometheus

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	yaml "github.com/zclconf/go-cty-yaml"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// series is one metric family the agent exports: its labels, and whether
// it is a histogram (exported as _bucket, _sum and _count).
type series struct {
	labels    []string
	histogram bool
}

// agentMetrics reads agent/metrics.go and returns the tend_* families it
// registers, by name: the Name of every prometheus *Opts literal, with the
// labels of the New*Vec call around it, and the name and labels of every
// prometheus.NewDesc.
func agentMetrics(t *testing.T) map[string]series {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "../../agent/metrics.go", nil, 0)
	if err != nil {
		t.Fatalf("parse agent/metrics.go: %v", err)
	}
	str := func(e ast.Expr) string {
		if l, ok := e.(*ast.BasicLit); ok && l.Kind == token.STRING {
			s, _ := strconv.Unquote(l.Value)
			return s
		}
		return ""
	}
	strs := func(e ast.Expr) []string {
		var out []string
		if c, ok := e.(*ast.CompositeLit); ok {
			for _, el := range c.Elts {
				out = append(out, str(el))
			}
		}
		return out
	}
	m := map[string]series{}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		switch fn := sel.Sel.Name; {
		case fn == "NewDesc" && len(call.Args) >= 3:
			m[str(call.Args[0])] = series{labels: strs(call.Args[2])}
		case strings.HasPrefix(fn, "New") && (strings.Contains(fn, "Counter") || strings.Contains(fn, "Gauge") || strings.Contains(fn, "Histogram")):
			opts, ok := call.Args[0].(*ast.CompositeLit)
			if !ok {
				return true
			}
			for _, el := range opts.Elts {
				if kv, ok := el.(*ast.KeyValueExpr); ok {
					if id, ok := kv.Key.(*ast.Ident); ok && id.Name == "Name" {
						s := series{histogram: strings.Contains(fn, "Histogram")}
						if len(call.Args) > 1 {
							s.labels = strs(call.Args[1])
						}
						m[str(kv.Value)] = s
					}
				}
			}
		}
		return true
	})
	for _, want := range []string{"tend_agent_syncs_total", "tend_agent_hosts", "tend_agent_drift_events_total", "tend_agent_sync_duration_seconds"} {
		if _, ok := m[want]; !ok {
			t.Fatalf("agent/metrics.go: %s not found (found %v): the parser of this test is out of date", want, keys(m))
		}
	}
	return m
}

func keys(m map[string]series) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// targetLabels are the labels Prometheus adds to every series it scrapes
// (prometheus.yml's static labels included).
var targetLabels = []string{"job", "instance", "mode", "environment"}

var (
	// metricRef is a tend series named in PromQL, with its matchers.
	metricRef = regexp.MustCompile(`\b(tend_[a-z0-9_]+)(\{[^}]*\})?`)
	// matcher is one label matcher inside {...}.
	matcher = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"`)
	// grouping is a by (...) or on (...) clause.
	grouping = regexp.MustCompile(`\b(?:by|on|without|ignoring)\s*\(([^)]*)\)`)
)

// checkExpr fails t for every tend series in expr the agent does not
// export, and every label expr matches or groups by that it does not have.
// It returns the tend series expr uses.
func checkExpr(t *testing.T, where, expr string, metrics map[string]series) []string {
	t.Helper()
	var used, labels []string
	for _, m := range metricRef.FindAllStringSubmatch(expr, -1) {
		name := m[1]
		base, s, ok := name, series{}, false
		if s, ok = metrics[name]; !ok {
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if b, found := strings.CutSuffix(name, suf); found {
					if hs, hok := metrics[b]; hok && hs.histogram {
						base, s, ok = b, hs, true
						if suf == "_bucket" {
							s.labels = append(slices.Clone(s.labels), "le")
						}
					}
				}
			}
		}
		if !ok {
			t.Errorf("%s: %s is not a series of the agent (agent/metrics.go exports %v)\n%s", where, name, keys(metrics), expr)
			continue
		}
		used = append(used, base)
		labels = append(labels, s.labels...)
		for _, lm := range matcher.FindAllStringSubmatch(m[2], -1) {
			if !slices.Contains(s.labels, lm[1]) && !slices.Contains(targetLabels, lm[1]) {
				t.Errorf("%s: %s has no label %q (it has %v)\n%s", where, name, lm[1], s.labels, expr)
			}
		}
	}
	// Grouping labels must exist on some series of the expression.
	for _, g := range grouping.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(g[1], ",") {
			l = strings.TrimSpace(l)
			if l != "" && !slices.Contains(labels, l) && !slices.Contains(targetLabels, l) && l != "le" {
				t.Errorf("%s: groups by %q, which none of its series has\n%s", where, l, expr)
			}
		}
	}
	return used
}

// readYAML decodes a YAML file into plain Go values.
func readYAML(t *testing.T, path string) any {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ty, err := yaml.ImpliedType(src)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	v, err := yaml.Unmarshal(src, ty)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return plain(t, v)
}

func plain(t *testing.T, v cty.Value) any {
	t.Helper()
	b, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// field walks maps by key: field(x, "groups") is x["groups"].
func field(v any, key string) any {
	m, _ := v.(map[string]any)
	return m[key]
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

// promtool runs promtool with args in dir and fails t with its output when
// it fails. promtool comes with Debian's prometheus package.
func promtool(t *testing.T, dir string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("promtool"); err != nil {
		t.Fatal("promtool is not installed: apt-get install -y --no-install-recommends prometheus")
	}
	cmd := exec.Command("promtool", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestPrometheusFiles checks prometheus.yml and alerts.yml with promtool,
// runs the rules' unit tests, and checks that the alerts use the agent's
// series and labels and cover what issue 9 asks for.
func TestPrometheusFiles(t *testing.T) {
	metrics := agentMetrics(t)

	// promtool check config reads the token file it names: check a copy
	// next to a token, as it is installed.
	dir := t.TempDir()
	for _, f := range []string{"prometheus.yml", "alerts.yml", "alerts_test.yml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "tend-token"), []byte("read-only-token\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if out := promtool(t, dir, "check", "config", "prometheus.yml"); !strings.Contains(out, "SUCCESS: 1 rule files found") {
		t.Errorf("promtool check config does not load alerts.yml:\n%s", out)
	}
	promtool(t, dir, "check", "rules", "alerts.yml")
	promtool(t, dir, "test", "rules", "alerts_test.yml")

	// Every alert uses the agent's series; together they cover the
	// failures an operator must hear about.
	covered := map[string]bool{}
	for _, g := range list(field(readYAML(t, "alerts.yml"), "groups")) {
		for _, r := range list(field(g, "rules")) {
			name, _ := field(r, "alert").(string)
			expr, _ := field(r, "expr").(string)
			if name == "" || expr == "" {
				t.Errorf("alerts.yml: a rule without alert or expr: %v", r)
				continue
			}
			sev, _ := field(field(r, "labels"), "severity").(string)
			if sev != "page" && sev != "ticket" {
				t.Errorf("alerts.yml: %s has severity %q, want page or ticket", name, sev)
			}
			if field(field(r, "annotations"), "summary") == nil || field(field(r, "annotations"), "description") == nil {
				t.Errorf("alerts.yml: %s lacks a summary or a description", name)
			}
			for _, m := range checkExpr(t, "alerts.yml "+name, expr, metrics) {
				covered[m+"/"+expr] = true
			}
			covered[name] = true
		}
	}
	for _, want := range []string{"TendHostsOutOfSync", "TendSyncFailures", "TendDriftDetected", "TendSourceUnreachable"} {
		if !covered[want] {
			t.Errorf("alerts.yml has no alert %s", want)
		}
	}

	// The unit tests feed series the agent really exports.
	for _, tc := range list(field(readYAML(t, "alerts_test.yml"), "tests")) {
		for _, s := range list(field(tc, "input_series")) {
			sel, _ := field(s, "series").(string)
			if strings.HasPrefix(sel, "tend_") {
				checkExpr(t, "alerts_test.yml", sel, metrics)
			}
		}
	}
}

// grafanaVars are the dashboard's variables, replaced by values promtool
// accepts, so that each query can be checked as PromQL.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__range", "1h", "$__interval", "1m", "$job", ".+", "$instance", ".+")

// TestGrafanaDashboard checks that deploy/grafana/tend.json is a dashboard
// whose every query is valid PromQL over the agent's series, and that it
// shows the hosts by status, the syncs and the drift.
func TestGrafanaDashboard(t *testing.T) {
	metrics := agentMetrics(t)
	b, err := os.ReadFile("../grafana/tend.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title     string `json:"title"`
		UID       string `json:"uid"`
		Templates struct {
			List []struct {
				Name       string `json:"name"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			ID      int    `json:"id"`
			Type    string `json:"type"`
			Title   string `json:"title"`
			GridPos struct {
				H, W, X, Y int
			} `json:"gridPos"`
			Targets []struct {
				Expr  string `json:"expr"`
				RefID string `json:"refId"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("deploy/grafana/tend.json: %v", err)
	}
	if dash.Title == "" || dash.UID == "" || len(dash.Panels) == 0 {
		t.Fatalf("deploy/grafana/tend.json: title %q, uid %q, %d panels", dash.Title, dash.UID, len(dash.Panels))
	}

	// All queries as recording rules, for promtool to parse.
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	used := map[string]bool{}
	ids := map[int]bool{}
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d is used twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W < 1 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: gridPos %+v leaves the 24 columns", p.Title, p.GridPos)
		}
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			for _, m := range checkExpr(t, "panel "+p.Title, q.Expr, metrics) {
				used[m] = true
			}
			expr := grafanaVars.Replace(q.Expr)
			if strings.Contains(expr, "$") {
				t.Errorf("panel %q: a variable the dashboard does not define: %s", p.Title, q.Expr)
			}
			rules.WriteString("      - record: dashboard:panel_" + strconv.Itoa(p.ID) + "_" + q.RefID + "\n        expr: " + strconv.Quote(expr) + "\n")
		}
	}
	for _, v := range dash.Templates.List {
		if v.Definition != "" {
			inner := strings.TrimSuffix(strings.TrimPrefix(v.Definition, "label_values("), ")")
			sel := inner[:strings.LastIndex(inner, ",")]
			checkExpr(t, "variable "+v.Name, grafanaVars.Replace(sel), metrics)
		}
	}
	for _, want := range []string{"tend_agent_hosts", "tend_agent_syncs_total", "tend_agent_drift_events_total", "tend_agent_source_last_fetch_success_timestamp_seconds", "tend_agent_sync_duration_seconds"} {
		if !used[want] {
			t.Errorf("the dashboard does not show %s", want)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dashboard.yml"), []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	promtool(t, dir, "check", "rules", "dashboard.yml")
}
