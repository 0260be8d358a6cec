package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/tendhq/tend/resources"
)

// This file builds the Run values the golden tests render. Every duration
// and time is fixed, so that the goldens compare byte for byte.

var started = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// addr returns the address of a resource of kind and name.
func addr(kind, name string) resources.Addr { return resources.Addr{Kind: kind, Name: name} }

// res returns a resource with a change of action a (nil for NoOp) and status.
func res(kind, name string, a resources.Action, st Status, attrs ...resources.AttrChange) *Resource {
	r := &Resource{Addr: addr(kind, name), Status: st}
	if a != resources.NoOp {
		r.Change = &resources.Change{Addr: r.Addr, Action: a, Attrs: attrs}
	}
	return r
}

// withContent sets the content change of r and returns r.
func withContent(r *Resource, c *resources.ContentChange) *Resource {
	r.Change.Content = c
	return r
}

// attr returns an attribute change.
func attr(name, before, after string) resources.AttrChange {
	return resources.AttrChange{Name: name, Before: before, After: after}
}

// textContent returns a content change whose before is known.
func textContent(path, before, after string) *resources.ContentChange {
	return &resources.ContentChange{
		Path:        path,
		BeforeSize:  int64(len(before)),
		AfterSize:   int64(len(after)),
		BeforeHash:  fakeHash(before),
		AfterHash:   fakeHash(after),
		Before:      []byte(before),
		After:       []byte(after),
		BeforeKnown: true,
	}
}

// fakeHash returns a fixed 64-digit hex string derived from s, standing in
// for a sha256 (the renderers never check it).
func fakeHash(s string) string {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return strings.Repeat(fmt.Sprintf("%08x", h), 8)
}

// unchanged returns n unchanged file resources.
func unchanged(n int) []*Resource {
	var out []*Resource
	for i := range n {
		out = append(out, res("file", fmt.Sprintf("/etc/app/conf.d/%02d.conf", i), resources.NoOp, StatusUnchanged))
	}
	return out
}

// planMixed is a plan over three hosts: one converged, one unreachable, one
// with every kind of change the text renderer knows.
func planMixed() *Run {
	config := withContent(res("file", "/etc/devops-map/config.toml", resources.Update, StatusPlanned,
		attr("mode", "0644", "0640")),
		textContent("/etc/devops-map/config.toml",
			"# devops-map\nlisten = \"0.0.0.0\"\nport = 5000\ndebug = true\nworkers = 4\ntimeout = \"30s\"\nlog = \"info\"\n",
			"# devops-map\nlisten = \"0.0.0.0\"\nport = 5000\ndebug = false\nworkers = 4\ntimeout = \"30s\"\nlog = \"info\"\n"))
	newFile := withContent(res("file", "/etc/devops-map/app.env", resources.Create, StatusPlanned,
		attr("mode", "", "0600"), attr("owner", "", "app")),
		&resources.ContentChange{
			Path: "/etc/devops-map/app.env", BeforeSize: -1, AfterSize: 29,
			AfterHash: fakeHash("new"), After: []byte("APP_ENV=production\nWORKERS=4\n"),
		})
	token := withContent(res("file", "/etc/devops-map/token", resources.Update, StatusPlanned),
		&resources.ContentChange{
			Path: "/etc/devops-map/token", BeforeSize: 41, AfterSize: 41,
			BeforeHash: fakeHash("a"), AfterHash: fakeHash("b"),
			Before: []byte("old-token"), After: []byte("new-token"), BeforeKnown: true, Sensitive: true,
		})
	logo := withContent(res("file", "/usr/share/app/logo.png", resources.Update, StatusPlanned),
		&resources.ContentChange{
			Path: "/usr/share/app/logo.png", BeforeSize: 12034, AfterSize: 12990,
			BeforeHash: fakeHash("logo1"), AfterHash: fakeHash("logo2"),
			After: []byte("\x89PNG\r\n\x1a\n\x00\x00"), Binary: true,
		})
	large := withContent(res("file", "/var/lib/app/data.csv", resources.Update, StatusPlanned),
		&resources.ContentChange{
			Path: "/var/lib/app/data.csv", BeforeSize: 5242880, AfterSize: 5243001,
			BeforeHash: fakeHash("csv1"), AfterHash: fakeHash("csv2"),
			After: []byte("id,name\n1,a\n"),
		})
	user := res("user", "deploy", resources.Update, StatusPlanned,
		attr("shell", "/bin/sh", "/bin/bash"),
		resources.AttrChange{Name: "password_hash", Before: "$6$old", After: "$6$new", Sensitive: true})
	return &Run{
		Mode:     ModePlan,
		Revision: "main@sha1:4f2a9c0d1e2b3a4c5d6e7f8091a2b3c4d5e6f708",
		Started:  started,
		Duration: 2310 * time.Millisecond,
		Hosts: []*Host{
			{Name: "app1", Address: "10.0.0.31", Resources: unchanged(3), Duration: 800 * time.Millisecond},
			{Name: "db1", Address: "10.0.0.21",
				Error:    "unreachable: connect db1 (10.0.0.21:22): dial tcp 10.0.0.21:22: i/o timeout",
				Duration: 2 * time.Second},
			{Name: "web1", Address: "10.0.0.11", Duration: 1200 * time.Millisecond, Resources: []*Resource{
				res("directory", "/etc/devops-map", resources.Create, StatusPlanned,
					attr("mode", "", "0755"), attr("owner", "", "root")),
				config,
				newFile,
				res("symlink", "/usr/local/bin/old", resources.Delete, StatusPlanned),
				token,
				logo,
				large,
				user,
				res("file", "/etc/motd", resources.NoOp, StatusUnchanged),
			}},
		},
	}
}

// applyStatuses is an apply where resources failed, were skipped, did not
// converge or could not be observed, next to a clean host and an unreachable
// one.
func applyStatuses() *Run {
	config := withContent(res("file", "/etc/app/app.conf", resources.Update, StatusApplied),
		textContent("/etc/app/app.conf", "a = 1\nb = 2\n", "a = 1\nb = 3\n"))
	return &Run{
		Mode:     ModeApply,
		Started:  started,
		Duration: 3450 * time.Millisecond,
		Hosts: []*Host{
			{Name: "db1", Address: "10.0.0.21",
				Error:    "unreachable: connect db1 (10.0.0.21:22): dial tcp 10.0.0.21:22: i/o timeout",
				Duration: 2 * time.Second, Connect: 2 * time.Second},
			{Name: "web1", Address: "10.0.0.11",
				Duration: 1200 * time.Millisecond, Connect: 100 * time.Millisecond, Probe: 50 * time.Millisecond,
				Apply: 900 * time.Millisecond, Verify: 150 * time.Millisecond,
				Resources: append([]*Resource{
					res("directory", "/etc/app", resources.Create, StatusApplied, attr("mode", "", "0755")),
					config,
					func() *Resource {
						r := res("file", "/x", resources.Update, StatusFailed, attr("mode", "0644", "0600"))
						r.Error = "write /x on web1: permission denied"
						return r
					}(),
					func() *Resource {
						r := res("symlink", "/y", resources.Create, StatusSkipped, attr("target", "", "/x"))
						r.SkippedBecause = "file[/x]"
						return r
					}(),
					func() *Resource {
						r := res("file", "/z", resources.Update, StatusNotConverged, attr("mode", "0644", "0640"))
						r.Error = "mode is 0644 after apply"
						return r
					}(),
					func() *Resource {
						r := res("file", "/w", resources.NoOp, StatusError)
						r.Error = "stat /w: permission denied"
						return r
					}(),
				}, unchanged(2)...)},
			{Name: "web2", Address: "10.0.0.12",
				Duration: 950 * time.Millisecond, Connect: 80 * time.Millisecond, Probe: 40 * time.Millisecond,
				Apply: 700 * time.Millisecond, Verify: 130 * time.Millisecond,
				Resources: append([]*Resource{
					res("directory", "/etc/app", resources.Create, StatusApplied, attr("mode", "", "0755")),
					res("symlink", "/usr/local/bin/app", resources.Delete, StatusApplied),
				}, unchanged(28)...)},
			{Name: "web3", Address: "web3", Duration: 310 * time.Millisecond,
				Connect: 90 * time.Millisecond, Probe: 60 * time.Millisecond, Resources: unchanged(30)},
		},
	}
}

// noChanges is a plan where every host is converged.
func noChanges() *Run {
	r := &Run{Mode: ModePlan, Started: started, Duration: 1500 * time.Millisecond}
	for _, n := range []string{"app1", "db1", "web1"} {
		r.Hosts = append(r.Hosts, &Host{Name: n, Address: n + ".example.org",
			Resources: unchanged(2), Duration: time.Second, Connect: 200 * time.Millisecond, Probe: 300 * time.Millisecond})
	}
	return r
}

// singleHost is a plan over one converged host.
func singleHost() *Run {
	return &Run{Mode: ModePlan, Started: started, Duration: 400 * time.Millisecond,
		Hosts: []*Host{{Name: "solo", Resources: unchanged(1), Duration: 400 * time.Millisecond}}}
}

// failedNoChanges is a plan without changes where one host failed: it must
// not claim "No changes".
func failedNoChanges() *Run {
	return &Run{Mode: ModePlan, Started: started, Duration: 5 * time.Second, Hosts: []*Host{
		{Name: "db1", Address: "10.0.0.21", Error: "probe db1: exit status 127: sh: 1: stat: not found",
			Duration: 5 * time.Second},
		{Name: "web1", Address: "10.0.0.11", Resources: unchanged(2), Duration: time.Second},
	}}
}

// longDiff is a plan with a file whose diff is longer than the cap the
// golden test sets, a file with control characters, and a file whose
// content holds a Markdown fence.
func longDiff() *Run {
	var before, after strings.Builder
	for i := range 40 {
		fmt.Fprintf(&before, "line %d\n", i)
		if i%4 == 0 {
			fmt.Fprintf(&after, "line %d changed\n", i)
		} else {
			fmt.Fprintf(&after, "line %d\n", i)
		}
	}
	return &Run{Mode: ModePlan, Started: started, Duration: time.Second, Hosts: []*Host{
		{Name: "web1", Address: "10.0.0.11", Duration: time.Second, Resources: []*Resource{
			withContent(res("file", "/etc/long.txt", resources.Update, StatusPlanned),
				textContent("/etc/long.txt", before.String(), after.String())),
			withContent(res("file", "/etc/escape.txt", resources.Update, StatusPlanned),
				textContent("/etc/escape.txt", "plain\n", "\x1b[31mred\x1b[0m\nno newline")),
			withContent(res("file", "/srv/README.md", resources.Update, StatusPlanned),
				textContent("/srv/README.md", "# App\n", "# App\n\n```sh\nmake\n```\n")),
		}},
	}}
}

// orphans is a plan with orphans: on web1 two left alone (one of them
// edited by hand) and one that could not be observed; on web2 two being
// pruned, a file and a service.
func orphans() *Run {
	left := func(kind, name, reason string) *Resource {
		r := res(kind, name, resources.NoOp, StatusOrphaned)
		r.Orphaned, r.Change = true, &resources.Change{Addr: r.Addr, Reason: reason}
		return r
	}
	hint := `prune with --prune or prune = true on role "web"`
	broken := left("user", "old", "no longer in the spec; "+hint)
	broken.Error = "observe user old: getent passwd: status 1"
	rmFile := res("file", "/etc/old.conf", resources.Delete, StatusPlanned)
	rmFile.Orphaned, rmFile.Change.Reason = true, "orphaned: no longer in the spec"
	stop := res("service", "old", resources.Update, StatusPlanned,
		attr("enabled", "true", "false"), attr("state", "running", "stopped"))
	stop.Orphaned, stop.Change.Reason = true, "orphaned: no longer in the spec"
	return &Run{Mode: ModePlan, Started: started, Duration: time.Second, Hosts: []*Host{
		{Name: "web1", Address: "10.0.0.11", Duration: time.Second, Resources: append(unchanged(2),
			left("file", "/etc/app/old.conf", "no longer in the spec; changed on the host since tend wrote it; "+hint),
			left("package", "telnet", "no longer in the spec; "+hint),
			broken)},
		{Name: "web2", Address: "10.0.0.12", Duration: time.Second, Resources: append(unchanged(1), stop, rmFile)},
	}}
}
