package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tendhq/tend/internal/testhost"
)

// The web UI's acceptance test (issue 6): real headless Chromium, driven
// with chromedp, against `tend agent` converging Debian containers over
// SSH. Run with TEND_UPDATE_SCREENSHOTS=1 to write docs/screenshots/*.png.

// chromiumPath is Debian's Chromium binary itself (/usr/bin/chromium is a
// wrapper script that only adds start-up time).
const chromiumPath = "/usr/lib/chromium/chromium"

// uiViewerToken is the read-only token of the UI test's agent.
const uiViewerToken = "viewer-secret-1"

// uiSpec is the app of the UI test at version v: a directory, two files in
// it, a symlink to one of them and an exec it notifies, so that the graph
// has edges of every kind.
func uiSpec(v string) map[string]string {
	return map[string]string{"main.hcl": fmt.Sprintf(`role "app" {
  hosts = ["*"]

  directory "/srv/app" {
    mode = "0755"
  }

  file "/srv/app/app.toml" {
    content    = "version = \"%s\"\n"
    mode       = "0644"
    depends_on = [directory["/srv/app"]]
    notify     = [exec["reload-app"]]
  }

  file "/srv/app/README" {
    content = "Managed by tend.\n"
    mode    = "0644"
  }

  symlink "/srv/app/current.toml" {
    target     = "/srv/app/app.toml"
    depends_on = [file["/srv/app/app.toml"]]
  }

  exec "reload-app" {
    command      = ["/bin/true"]
    refresh_only = true
  }
}
`, v)}
}

// browser is one headless Chromium tab; a is the agent it talks to, for
// the log in failure messages.
type browser struct {
	t   *testing.T
	ctx context.Context
	a   *gitopsAgent
}

// startBrowser starts headless Chromium with a fresh profile, no network
// but loopback, and a laptop-sized window. It fails the test when Chromium
// is not installed. The browser and every process it started are killed
// at cleanup, by PID.
func startBrowser(t *testing.T, a *gitopsAgent) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("chromium is not installed (%v): apt-get install -y chromium", err)
	}
	profile := t.TempDir()
	var cmd *exec.Cmd
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox, // as root it does not start otherwise
		chromedp.DisableGPU,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// Chromium still tries to reach outside hosts: only 127.0.0.1
		// resolves.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"),
		chromedp.WindowSize(1280, 900),
		chromedp.ModifyCmdFunc(func(c *exec.Cmd) {
			cmd = c
			c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		}),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		acancel()
		if cmd != nil && cmd.Process != nil && cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
		killProfileProcesses(profile)
	})
	// The first action starts the browser, with no timeout on its context.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx, a: a}
}

// killProfileProcesses kills, by PID, any process left whose command line
// names the browser profile (helpers of a browser that died).
func killProfileProcesses(profile string) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), profile) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// do runs steps within 30 s, failing the test with what it was doing.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.fail(what, err)
	}
}

// click clicks the element of a CSS selector, as a mouse does.
func (b *browser) click(what, sel string) {
	b.t.Helper()
	b.do("click "+what, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

// confirm answers the confirmation dialog an action opened with OK.
func (b *browser) confirm(what string) {
	b.t.Helper()
	b.wait("the confirmation dialog of "+what, `document.getElementById("confirm").open`, 10*time.Second)
	b.click("OK in the dialog of "+what, "#confirm-ok")
}

// wait polls a JavaScript condition in the page until it is true.
func (b *browser) wait(what, cond string, timeout time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(100*time.Millisecond)))
	if err != nil {
		b.fail("wait for "+what, err)
	}
}

// eval evaluates a JavaScript expression (awaiting a promise) as a string.
func (b *browser) eval(expr string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.fail("evaluate "+expr, err)
	}
	return v
}

// choose picks value in the select element with this id, as a user does
// (the input event included).
func (b *browser) choose(id, value string) {
	b.t.Helper()
	got := b.eval(fmt.Sprintf(`(() => { const s = document.getElementById(%q); s.value = %q;
		s.dispatchEvent(new Event("input", {bubbles: true})); return s.value })()`, id, value))
	if got != value {
		b.t.Fatalf("select %s: %q is not an option", id, value)
	}
}

// fail ends the test with what the page and the agent showed.
func (b *browser) fail(what string, err error) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.hash + "\n" + document.getElementById("banner").innerText + "\n" + document.querySelector("main").innerText.slice(0, 3000)`))
	b.t.Fatalf("%s: %v\npage:\n%s\nagent log:\n%s", what, err, page, tailLines(b.a.logs.String(), 30))
}

// screenshot captures the page; with TEND_UPDATE_SCREENSHOTS=1 it writes
// docs/screenshots/NAME.png.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil || len(png) < 8 || string(png[1:4]) != "PNG" {
		b.t.Fatalf("screenshot %s: %v (%d bytes)", name, err, len(png))
	}
	if os.Getenv("TEND_UPDATE_SCREENSHOTS") != "1" {
		return
	}
	path := filepath.Join("..", "..", "docs", "screenshots", name+".png")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("wrote %s (%d bytes)", path, len(png))
}

// rowStatus is a JavaScript expression: the status badge of a host's row.
func rowStatus(host string) string {
	return fmt.Sprintf(`((document.querySelector('#hosts-body tr[data-host=%q] td.status .badge') || {}).textContent || "")`, host)
}

// apiStatus is POST path of the agent's API with a bearer token.
func apiStatus(t *testing.T, addr, token, path, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestUI drives the web UI in Chromium: login; the overview shows the
// hosts OutOfSync; Sync all and Sync of one host (confirmed) turn them
// Synced without a reload; a commit turns them OutOfSync live; the
// history shows each sync with author and message; Rollback from the
// history puts the old revision back; the host view draws the resource
// graph with its edges, and a file edited on the host shows its diff; the
// page fits a phone's width; a read-only token sees every button disabled
// and gets 403 from the API, through the UI's session and with a bearer
// token.
func TestUI(t *testing.T) {
	hosts := testhost.Boot(t, 2)
	h0, h1 := hosts[0], hosts[1]
	inv := testhost.WriteInventory(t, hosts, fmt.Sprintf("group \"frontend\" {\n  hosts = [%q]\n}\ngroup \"backend\" {\n  hosts = [%q]\n}\n", h0.Name, h1.Name))
	dir := t.TempDir()
	repo := newGitopsRepo(t, dir)
	rev1 := repo.commit(uiSpec("v0.5.0"), "deploy app v0.5.0")
	addr, dataDir, stateDir := freePort(t), filepath.Join(dir, "data"), testStateDir(t)
	cfg := gitopsConfig(t, dir, "agent.hcl", "file://"+repo.bare, inv, addr, dataDir, stateDir, fmt.Sprintf(`poll_interval  = "300ms"
drift_interval = "1s"
sync_policy    = "manual"
self_heal      = false
token "viewer" {
  secret    = %q
  read_only = true
}
`, uiViewerToken))
	a := startAgent(t, cfg, addr)
	b := startBrowser(t, a)
	content := func(h *testhost.Host) string { return h.Exec(t, "cat", "/srv/app/app.toml") }

	// Login with the ops token; the overview lists both hosts OutOfSync.
	b.do("open the UI", chromedp.Navigate("http://"+addr+"/"), chromedp.WaitVisible(chromedp.CSS("#login-token")))
	b.do("log in", chromedp.SendKeys(chromedp.CSS("#login-token"), gitopsToken), chromedp.Click(chromedp.CSS("#login-submit")))
	b.wait("2 hosts OutOfSync", fmt.Sprintf(`%s === "OutOfSync" && %s === "OutOfSync"`, rowStatus(h0.Name), rowStatus(h1.Name)), 60*time.Second)
	b.wait("the live indicator", `document.getElementById("live").dataset.state === "on"`, 10*time.Second)
	// A marker that a reload would lose.
	b.eval(`window.noReload = "still here"`)
	if got := b.eval(`document.getElementById("count-OutOfSync").querySelector(".n").textContent`); got != "2" {
		t.Fatalf("OutOfSync count: %q", got)
	}

	// Sync all, confirmed: both Synced, without a reload.
	b.click("Sync all", "#sync-all")
	b.confirm("Sync all")
	b.wait("2 hosts Synced", fmt.Sprintf(`%s === "Synced" && %s === "Synced"`, rowStatus(h0.Name), rowStatus(h1.Name)), 120*time.Second)
	b.wait("the sync's result in the banner", `document.getElementById("banner-text").textContent.includes("(manual) succeeded")`, 10*time.Second)
	if c0, c1 := content(h0), content(h1); c0 != "version = \"v0.5.0\"\n" || c1 != c0 {
		t.Fatalf("after Sync all: %q %q", c0, c1)
	}
	t.Log("Sync all: PASS")

	// A commit: the overview turns OutOfSync by itself (server-sent
	// events), the target column shows the new revision.
	rev2 := repo.commit(uiSpec("v0.6.0"), "deploy app v0.6.0")
	b.wait("OutOfSync after the commit, live", fmt.Sprintf(`%s === "OutOfSync" && %s === "OutOfSync" && document.querySelector('#hosts-body tr[data-host=%q]').textContent.includes(%q)`,
		rowStatus(h0.Name), rowStatus(h1.Name), h0.Name, "main@"+rev2[:8]), 30*time.Second)

	// Sync one host from its row: it turns Synced, the other stays.
	b.click("Sync of "+h0.Name, fmt.Sprintf(`button[aria-label="Sync %s"]`, h0.Name))
	b.confirm("Sync " + h0.Name)
	b.wait(h0.Name+" Synced", fmt.Sprintf(`%s === "Synced"`, rowStatus(h0.Name)), 120*time.Second)
	if s := b.eval(rowStatus(h1.Name)); s != "OutOfSync" {
		t.Fatalf("%s after syncing %s only: %s", h1.Name, h0.Name, s)
	}
	if c0, c1 := content(h0), content(h1); c0 != "version = \"v0.6.0\"\n" || c1 != "version = \"v0.5.0\"\n" {
		t.Fatalf("after syncing %s: %q %q", h0.Name, c0, c1)
	}
	if got := b.eval(`window.noReload || "reloaded"`); got != "still here" {
		t.Fatal("the page was reloaded")
	}
	// Filters: by group and by status.
	b.choose("f-group", "backend")
	if n := b.eval(`String(document.querySelectorAll("#hosts-body tr").length) + " " + document.querySelector("#hosts-body tr").dataset.host`); n != "1 "+h1.Name {
		t.Fatalf("group filter: %s", n)
	}
	b.choose("f-group", "")
	b.click("the Synced count", "#count-Synced")
	if n := b.eval(`String(document.querySelectorAll("#hosts-body tr").length)`); n != "1" {
		t.Fatalf("status filter: %s rows", n)
	}
	b.click("the Hosts count", "#count-all")
	t.Log("Sync of one host, live OutOfSync, filters: PASS")
	b.screenshot("overview")

	// History: the new entry with author and message.
	b.click("History", `a[href="#/history"]`)
	b.wait("the second sync in the history", `[...document.querySelectorAll("#syncs li[data-sync]")].some(li =>
		li.querySelector(".msg").textContent === "deploy app v0.6.0" && li.querySelector(".author").textContent === "Grace Ops <grace@example.test>" &&
		li.textContent.includes("manual by ops") && li.textContent.includes("succeeded"))`, 10*time.Second)
	t.Log("history: PASS")

	// Rollback to the first sync, from its entry.
	b.click("Rollback of sync 1", `button[aria-label="Roll back to sync 1"]`)
	b.confirm("Rollback")
	b.wait("the rollback's result", `document.getElementById("banner-text").textContent.includes("(rollback) succeeded")`, 120*time.Second)
	if c0, c1 := content(h0), content(h1); c0 != "version = \"v0.5.0\"\n" || c1 != c0 {
		t.Fatalf("after the rollback: %q %q", c0, c1)
	}
	b.wait("the rollback in the history", `[...document.querySelectorAll("#syncs li[data-sync]")].some(li => li.textContent.includes("rollback by ops") && li.querySelector(".msg").textContent === "deploy app v0.5.0")`, 10*time.Second)
	st := a.status()
	for _, h := range st.Hosts {
		if !strings.HasSuffix(h.Applied, rev1) || h.Reason != "rollback" {
			t.Fatalf("after the rollback %s: applied %s, reason %q", h.Name, h.Applied, h.Reason)
		}
	}
	t.Log("rollback: PASS")

	// The host view: the graph with its dependency and notification edges.
	b.click("Hosts", `a[href="#/"]`)
	b.click("host "+h0.Name, fmt.Sprintf(`#hosts-body a[href="#/hosts/%s"]`, h0.Name))
	b.wait("the resource graph", `document.querySelectorAll("#graph g.node").length === 5 &&
		document.querySelector('#graph path.edge[data-from="directory[/srv/app]"][data-to="file[/srv/app/app.toml]"]') !== null &&
		document.querySelector('#graph path.edge[data-kind="notify"][data-from="file[/srv/app/app.toml]"][data-to="exec[reload-app]"]') !== null &&
		document.querySelector('#graph path.edge[data-from="file[/srv/app/app.toml]"][data-to="symlink[/srv/app/current.toml]"]') !== null`, 30*time.Second)
	// Dependencies are drawn to the left of what depends on them.
	if got := b.eval(`(() => {
		const x = (id) => document.querySelector('#graph a[data-id="' + id + '"] rect').x.baseVal.value;
		return String(x("directory[/srv/app]") < x("file[/srv/app/app.toml]") && x("file[/srv/app/app.toml]") < x("symlink[/srv/app/current.toml]"));
	})()`); got != "true" {
		t.Fatal("the graph is not laid out by dependency depth")
	}

	// Drift: the file is edited on the host; the host view turns it
	// "planned" by itself, and clicking it shows the diff.
	h0.Exec(t, "sh", "-c", `printf 'version = "hacked"\n' > /srv/app/app.toml`)
	file := `#graph g.node[data-s="planned"] a[data-id="file[/srv/app/app.toml]"]`
	b.wait("the drifted file in the graph", fmt.Sprintf(`document.querySelector('%s') !== null`, file), 30*time.Second)
	b.click("the drifted file", file)
	b.wait("the file's diff", `(() => { const d = document.querySelector("#diff-body pre.diff"); return d !== null &&
		d.textContent.includes('-version = "hacked"') && d.textContent.includes('+version = "v0.5.0"') })()`, 10*time.Second)
	if got := b.eval(`document.activeElement.id`); got != "diff-title" {
		t.Errorf("the focus is on %q, not on the diff", got)
	}
	b.screenshot("host")
	// The drift in the history, with the file; the screenshot of the
	// history shows syncs, the rollback and the drift.
	b.click("History", `a[href="#/history"]`)
	b.wait("the drift event in the history", fmt.Sprintf(`[...document.querySelectorAll("#drifts li[data-drift]")].some(li =>
		li.textContent.includes(%q) && li.textContent.includes("file[/srv/app/app.toml]") && li.textContent.includes("content changed"))`, h0.Name), 10*time.Second)
	b.screenshot("history")
	t.Log("host view, drift diff, drift in the history: PASS")

	// Accessibility: landmarks, names of buttons and controls.
	if got := b.eval(`(() => {
		const bad = [];
		for (const sel of ["header", "nav", "main"]) if (!document.querySelector(sel)) bad.push("no " + sel);
		for (const el of document.querySelectorAll("button")) if (!(el.getAttribute("aria-label") || el.textContent.trim())) bad.push("unnamed button " + el.outerHTML.slice(0, 80));
		for (const el of document.querySelectorAll("input, select")) if (!document.querySelector('label[for="' + el.id + '"]') && !el.getAttribute("aria-label")) bad.push("unlabelled " + el.id);
		for (const el of document.querySelectorAll("[onclick], div[tabindex]")) bad.push("clickable non-button " + el.tagName);
		return bad.join("; ");
	})()`); got != "" {
		t.Errorf("accessibility: %s", got)
	}
	// A phone's width: nothing wider than the screen but the graph, which
	// scrolls in its own box.
	b.do("phone viewport", chromedp.EmulateViewport(390, 844))
	for _, hash := range []string{"#/", "#/history", "#/hosts/" + h0.Name} {
		b.eval(fmt.Sprintf(`location.hash = %q`, hash))
		b.wait("the page at "+hash, `document.querySelector(".view:not([hidden])") !== null`, 10*time.Second)
		time.Sleep(300 * time.Millisecond) // drawn after the API's reply
		// The elements that stick out, if any, outside the graph's box.
		if wide := b.eval(`[...document.querySelectorAll("body *")].filter(e => !e.closest(".graph-wrap") && !e.closest("pre.diff") &&
			e.getBoundingClientRect().right > window.innerWidth + 1 && e.offsetParent !== null).slice(0, 5)
			.map(e => e.tagName + "." + e.className + "#" + e.id + " " + Math.round(e.getBoundingClientRect().right)).join(", ")`); wide != "" {
			t.Errorf("wider than a phone (390 px) at %s: %s", hash, wide)
		}
		if hash == "#/" {
			b.screenshot("phone")
		}
	}
	b.do("laptop viewport", chromedp.EmulateViewport(1280, 900))
	t.Log("accessibility and phone width: PASS")

	// The actions of a role: resume and pause its auto-sync, sync it.
	b.eval(`location.hash = "#/"`)
	b.choose("f-role", "app")
	b.wait("the role's buttons", `document.getElementById("pause").textContent === "Resume auto-sync of app" && !document.getElementById("sync-role").hidden`, 10*time.Second)
	b.click("Resume auto-sync of app", "#pause")
	b.confirm("Resume")
	b.wait("auto-sync of app resumed", `document.getElementById("pause").textContent === "Pause auto-sync of app"`, 30*time.Second)
	if p := a.status().Paused; len(p) != 0 {
		t.Fatalf("paused after Resume: %v", p)
	}
	b.click("Pause auto-sync of app", "#pause")
	b.confirm("Pause")
	b.wait("auto-sync of app paused", `document.getElementById("pause").textContent === "Resume auto-sync of app"`, 30*time.Second)
	if p := a.status().Paused; len(p) != 1 || p[0] != "app" {
		t.Fatalf("paused after Pause: %v", p)
	}
	b.click("Sync role app", "#sync-role")
	b.confirm("Sync role")
	b.wait("both hosts Synced by the role's sync", fmt.Sprintf(`%s === "Synced" && %s === "Synced"`, rowStatus(h0.Name), rowStatus(h1.Name)), 120*time.Second)
	if c0, c1 := content(h0), content(h1); c0 != "version = \"v0.6.0\"\n" || c1 != c0 {
		t.Fatalf("after Sync role: %q %q", c0, c1)
	}
	b.choose("f-role", "")
	t.Log("pause, resume and sync of a role: PASS")

	// A read-only token: everything visible, every action disabled, and
	// the API refuses with 403 through the UI's session and with a bearer
	// token.
	before := len(a.history().Syncs)
	b.eval(`location.hash = "#/"`)
	b.click("Log out", "#logout")
	b.do("log in read-only", chromedp.WaitVisible(chromedp.CSS("#login-token")),
		chromedp.SendKeys(chromedp.CSS("#login-token"), uiViewerToken), chromedp.Click(chromedp.CSS("#login-submit")))
	b.wait("the overview, read-only", fmt.Sprintf(`%s !== "" && document.getElementById("who").textContent.includes("read-only")`, rowStatus(h0.Name)), 30*time.Second)
	disabled := `[...document.querySelectorAll("[data-write]")].filter(e => !e.hidden && e.offsetParent !== null).every(e => e.disabled) && document.querySelectorAll("[data-write]").length > 0`
	b.wait("disabled actions in the overview", disabled+` && document.getElementById("sync-all").disabled && document.querySelector('button[aria-label="Sync `+h0.Name+`"]').disabled`, 10*time.Second)
	b.click("History", `a[href="#/history"]`)
	b.wait("disabled Rollback buttons", `document.querySelectorAll('#syncs button[aria-label^="Roll back"]').length > 0 && [...document.querySelectorAll('#syncs button[aria-label^="Roll back"]')].every(e => e.disabled)`, 10*time.Second)
	for _, c := range []struct{ path, body string }{{"/api/v1/sync", "{}"}, {"/api/v1/rollback", `{"id":1}`}} {
		got := b.eval(fmt.Sprintf(`fetch("/api/v1/session").then(r => r.json()).then(s => fetch(%q, {method: "POST",
			headers: {"Content-Type": "application/json", "X-Tend-CSRF": s.csrf}, body: %q})).then(r => String(r.status))`, c.path, c.body))
		if got != "403" {
			t.Errorf("POST %s from the read-only UI session: %s, want 403", c.path, got)
		}
		if code := apiStatus(t, addr, uiViewerToken, c.path, c.body); code != http.StatusForbidden {
			t.Errorf("POST %s with the read-only token: %d, want 403", c.path, code)
		}
	}
	if after := len(a.history().Syncs); after != before {
		t.Errorf("the read-only token changed the history: %d syncs, then %d", before, after)
	}
	if c0 := content(h0); c0 != "version = \"v0.6.0\"\n" {
		t.Errorf("the read-only token changed %s: %q", h0.Name, c0)
	}
	t.Log("read-only token: PASS")
}
