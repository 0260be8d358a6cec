package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tendhq/tend/agent"
	"github.com/tendhq/tend/agent/store"
	"github.com/tendhq/tend/internal/testhost"
)

// The GitOps acceptance tests (issue 4): the agent follows a real Git
// repository (file:// or git http-backend over HTTP) and converges Debian
// containers booted with systemd, reached over SSH.

// gitopsToken is the API token of every agent these tests start.
const gitopsToken = "gitops-secret-1"

// gitopsWebhookSecret signs the test's webhook deliveries.
const gitopsWebhookSecret = "hook-secret-1"

// appFile is the file the app spec manages on every host.
const appFile = "/srv/app/app.toml"

// lockedBuffer is a bytes.Buffer safe for a writer goroutine and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// gitopsRepo is a bare repository (HEAD main) and a working clone pushing
// to it, driven by the hermetic git CLI; env may carry GNUPGHOME.
type gitopsRepo struct {
	t    *testing.T
	bare string
	work string
	env  []string
}

// newGitopsRepo makes the repositories under dir; the bare one is
// dir/infra.git, so that git http-backend serves it as /infra.git.
func newGitopsRepo(t *testing.T, dir string) *gitopsRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is not installed: apt-get install -y git")
	}
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "GIT_") {
			env = append(env, e)
		}
	}
	env = append(env, "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Grace Ops", "GIT_AUTHOR_EMAIL=grace@example.test",
		"GIT_COMMITTER_NAME=Grace Ops", "GIT_COMMITTER_EMAIL=grace@example.test")
	r := &gitopsRepo{t: t, bare: filepath.Join(dir, "infra.git"), work: filepath.Join(dir, "work"), env: env}
	r.git(dir, "init", "-q", "--bare", "-b", "main", r.bare)
	r.git(dir, "init", "-q", "-b", "main", r.work)
	r.git(r.work, "remote", "add", "origin", r.bare)
	return r
}

// git runs the git CLI in dir and returns its trimmed output.
func (r *gitopsRepo) git(dir string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = r.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes files (name -> content), commits them with msg,
// pushes main and returns the new hash.
func (r *gitopsRepo) commit(files map[string]string, msg string) string {
	r.t.Helper()
	for name, content := range files {
		writeFile(r.t, filepath.Join(r.work, name), content)
	}
	r.git(r.work, "add", "-A")
	r.git(r.work, "commit", "-q", "-m", msg)
	r.git(r.work, "push", "-q", "origin", "HEAD:main")
	return r.git(r.work, "rev-parse", "HEAD")
}

// signedCommit is commit, signed with the OpenPGP key fpr of the
// GNUPGHOME in r.env.
func (r *gitopsRepo) signedCommit(files map[string]string, msg, fpr string) string {
	r.t.Helper()
	for name, content := range files {
		writeFile(r.t, filepath.Join(r.work, name), content)
	}
	r.git(r.work, "add", "-A")
	r.git(r.work, "commit", "-q", "-S"+fpr, "-m", msg)
	r.git(r.work, "push", "-q", "origin", "HEAD:main")
	return r.git(r.work, "rev-parse", "HEAD")
}

// appSpec is the app spec of testdata/e2e/gitops/app at version v.
func appSpec(t *testing.T, v string) map[string]string {
	t.Helper()
	src := readFile(t, "../../testdata/e2e/gitops/app/main.hcl")
	return map[string]string{"main.hcl": strings.ReplaceAll(src, "v0.5.0", v)}
}

// appContent is what appFile holds at version v.
func appContent(v string) string { return fmt.Sprintf("version = %q\n", v) }

// gitopsConfig writes an agent.hcl into dir and returns its path; body is
// added after the common part (source, inventory, listen, data and state
// directories, token, webhook secret).
func gitopsConfig(t *testing.T, dir, name, url, inv, listen, dataDir, stateDir, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	writeFile(t, path, fmt.Sprintf(`source {
  url = %q
  ref = "main"
}
inventory      = %q
listen         = %q
data_dir       = %q
state_dir      = %q
webhook_secret = %q
token "ops" {
  secret = %q
}
%s`, url, inv, listen, dataDir, stateDir, gitopsWebhookSecret, gitopsToken, body))
	return path
}

// gitopsAgent is one running agent: in-process (run) or a separate
// process (proc), and its API address.
type gitopsAgent struct {
	t    *testing.T
	addr string
	logs *lockedBuffer

	// in-process
	cancel context.CancelFunc
	done   chan error

	// separate process
	proc *exec.Cmd

	stopOnce sync.Once
}

// startAgent runs `tend agent -c cfg` in-process and waits for its API.
func startAgent(t *testing.T, cfg, addr string) *gitopsAgent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a := &gitopsAgent{t: t, addr: addr, logs: &lockedBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() {
		root := newRoot()
		root.SetArgs([]string{"agent", "-c", cfg, "--log-level", "info", "--log-format", "json"})
		root.SetOut(a.logs)
		root.SetErr(a.logs)
		a.done <- root.ExecuteContext(ctx)
	}()
	t.Cleanup(a.stop)
	a.waitHealthy()
	return a
}

// startAgentProcess runs the built binary `bin agent -c cfg` as its own
// process and waits for its API; it is killed by PID at cleanup.
func startAgentProcess(t *testing.T, bin, cfg, addr string) *gitopsAgent {
	t.Helper()
	a := &gitopsAgent{t: t, addr: addr, logs: &lockedBuffer{}}
	a.proc = exec.Command(bin, "agent", "-c", cfg, "--log-level", "info", "--log-format", "json")
	a.proc.Stdout, a.proc.Stderr = a.logs, a.logs
	if err := a.proc.Start(); err != nil {
		t.Fatalf("start %s agent: %v", bin, err)
	}
	t.Cleanup(a.kill)
	a.waitHealthy()
	return a
}

// waitHealthy waits until GET /api/v1/healthz answers.
func (a *gitopsAgent) waitHealthy() {
	a.t.Helper()
	c := &http.Client{Timeout: time.Second}
	a.wait("the agent's API", 20*time.Second, func() (bool, string) {
		resp, err := c.Get("http://" + a.addr + "/api/v1/healthz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
}

// stop ends an in-process agent (cancel, wait) and checks it returned nil.
func (a *gitopsAgent) stop() {
	a.stopOnce.Do(func() {
		if a.cancel == nil {
			return
		}
		a.cancel()
		select {
		case err := <-a.done:
			if err != nil {
				a.t.Errorf("agent at %s: %v\n%s", a.addr, err, a.logs.String())
			}
		case <-time.After(60 * time.Second):
			a.t.Errorf("agent at %s did not stop within 60s", a.addr)
		}
	})
}

// kill sends SIGKILL to an agent process and reaps it.
func (a *gitopsAgent) kill() {
	a.stopOnce.Do(func() {
		if a.proc == nil || a.proc.Process == nil {
			return
		}
		_ = a.proc.Process.Signal(syscall.SIGKILL)
		_ = a.proc.Wait()
	})
}

// wait polls cond every 100ms until it holds, failing the test with the
// last detail and the agent's log after timeout.
func (a *gitopsAgent) wait(what string, timeout time.Duration, cond func() (bool, string)) time.Duration {
	a.t.Helper()
	start := time.Now()
	detail := ""
	for {
		var ok bool
		if ok, detail = cond(); ok {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			a.t.Fatalf("timed out after %s waiting for %s; last: %s\nagent log:\n%s", timeout, what, detail, tailLines(a.logs.String(), 40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// tailLines returns the last n lines of s.
func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// get decodes GET path of the API into out.
func (a *gitopsAgent) get(path string, out any) error {
	req, err := http.NewRequest(http.MethodGet, "http://"+a.addr+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+gitopsToken)
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// status returns the agent's status, failing the test when it cannot.
func (a *gitopsAgent) status() agent.Status {
	a.t.Helper()
	var st agent.Status
	if err := a.get("/api/v1/status", &st); err != nil {
		a.t.Fatalf("status: %v\n%s", err, tailLines(a.logs.String(), 40))
	}
	return st
}

// history returns the agent's newest 100 syncs and drift events.
func (a *gitopsAgent) history() agent.HistoryReply {
	a.t.Helper()
	var h agent.HistoryReply
	if err := a.get("/api/v1/history?limit=100", &h); err != nil {
		a.t.Fatalf("history: %v", err)
	}
	return h
}

// cli runs a client command of tend in-process against the agent.
func (a *gitopsAgent) cli(args ...string) result {
	a.t.Helper()
	return tend(a.t, append(args, "--server=http://"+a.addr, "--token", gitopsToken)...)
}

// hostsAre reports whether every host of st has status want (and reason,
// when not empty), with a description of the hosts for messages.
func hostsAre(st agent.Status, n int, want, reason string) (bool, string) {
	ok := len(st.Hosts) == n
	var b strings.Builder
	for _, h := range st.Hosts {
		fmt.Fprintf(&b, "%s=%s(%s) applied=%s target=%s err=%s; ", h.Name, h.Status, h.Reason, short(h.Applied), short(h.Target), h.Error)
		if h.Status != want || (reason != "" && h.Reason != reason) {
			ok = false
		}
	}
	return ok, fmt.Sprintf("%d hosts: %s source_error=%q spec_error=%q", len(st.Hosts), b.String(), st.SourceError, st.SpecError)
}

// contentsAre reports whether appFile holds content on every host.
func contentsAre(hosts []*testhost.Host, path, content string) (bool, string) {
	var b strings.Builder
	ok := true
	for _, h := range hosts {
		out, _, err := h.Run("cat", path)
		if err != nil || out != content {
			ok = false
		}
		fmt.Fprintf(&b, "%s: %q (%v); ", h.Name, out, err)
	}
	return ok, b.String()
}

// gitHTTPServer serves the repositories under root through git
// http-backend at a fixed address, so that it can be stopped and started
// again at the same URL.
type gitHTTPServer struct {
	t    *testing.T
	root string
	addr string
	srv  *httptest.Server
}

// startGitHTTP serves root at addr (127.0.0.1:0 picks a port).
func startGitHTTP(t *testing.T, root, addr string) *gitHTTPServer {
	t.Helper()
	g := &gitHTTPServer{t: t, root: root, addr: addr}
	g.start()
	t.Cleanup(g.stop)
	return g
}

// start listens again at g.addr (retrying while the port is released).
func (g *gitHTTPServer) start() {
	g.t.Helper()
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		g.t.Fatalf("git --exec-path: %v (apt-get install -y git)", err)
	}
	backend := &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(out)), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + g.root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null"},
	}
	var ln net.Listener
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if ln, err = net.Listen("tcp", g.addr); err == nil {
			break
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("listen on %s for the git server: %v", g.addr, err)
		}
	}
	g.addr = ln.Addr().String()
	g.srv = httptest.NewUnstartedServer(backend)
	_ = g.srv.Listener.Close()
	g.srv.Listener = ln
	g.srv.Start()
}

// stop closes the server; its port refuses connections until start.
func (g *gitHTTPServer) stop() {
	if g.srv != nil {
		g.srv.CloseClientConnections()
		g.srv.Close()
		g.srv = nil
	}
}

// postWebhook sends a GitHub push delivery for main, signed with secret,
// and returns the status code.
func postWebhook(t *testing.T, addr, secret string) int {
	t.Helper()
	body := []byte(`{"ref":"refs/heads/main","after":"0000000000000000000000000000000000000000"}`)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/webhook", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("post webhook: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// syncsWith returns the syncs of h with the given trigger and result.
func syncsWith(h agent.HistoryReply, trigger store.Trigger, res store.Result) []*store.Sync {
	var out []*store.Sync
	for _, s := range h.Syncs {
		if (trigger == "" || s.Trigger == trigger) && (res == "" || s.Result == res) {
			out = append(out, s)
		}
	}
	return out
}

// TestGitOpsLifecycle covers acceptance points 1 to 6 of issue 4 on three
// containers: manual sync, a new commit seen through the webhook, rollback,
// auto-sync resumed, drift corrected (and only reported with self_heal
// off), and the Git server (git http-backend) stopped and started again.
func TestGitOpsLifecycle(t *testing.T) {
	hosts := testhost.Boot(t, 3)
	inv := testhost.WriteInventory(t, hosts, "")
	dir := t.TempDir()
	repo := newGitopsRepo(t, dir)
	rev1 := repo.commit(appSpec(t, "v0.5.0"), "deploy app v0.5.0")
	git := startGitHTTP(t, dir, "127.0.0.1:0")
	url := "http://" + git.addr + "/infra.git"
	addr, dataDir, stateDir := freePort(t), filepath.Join(dir, "data"), testStateDir(t)

	// Phase A: manual, no self-heal; a long poll interval, so that only
	// the webhook can make the agent see the second commit quickly.
	cfgA := gitopsConfig(t, dir, "manual.hcl", url, inv, addr, dataDir, stateDir, `poll_interval  = "1h"
drift_interval = "1s"
sync_policy    = "manual"
self_heal      = false
`)
	a := startAgent(t, cfgA, addr)

	// Point 1: OutOfSync in manual mode; tend sync brings all to Synced;
	// history shows revision, author and message.
	a.wait("3 hosts OutOfSync (new revision)", 30*time.Second, func() (bool, string) {
		return hostsAre(a.status(), 3, agent.StatusOutOfSync, agent.ReasonNewRevision)
	})
	if r := a.cli("status"); r.code != 0 || strings.Count(r.stdout, "OutOfSync") != 3 {
		t.Fatalf("point 1: tend status before sync:\n%s", r)
	}
	if ok, d := contentsAre(hosts, appFile, appContent("v0.5.0")); ok {
		t.Fatalf("point 1: manual mode applied without a sync: %s", d)
	}
	r := a.cli("sync")
	if r.code != 0 || !strings.Contains(r.stdout, "Sync 1 of main@sha1:"+rev1[:12]+" (manual) succeeded.") {
		t.Fatalf("point 1: tend sync:\n%s", r)
	}
	if ok, d := contentsAre(hosts, appFile, appContent("v0.5.0")); !ok {
		t.Fatalf("point 1: after sync: %s", d)
	}
	if ok, d := hostsAre(a.status(), 3, agent.StatusSynced, ""); !ok {
		t.Fatalf("point 1: status after sync: %s", d)
	}
	r = a.cli("history")
	for _, want := range []string{"main@sha1:" + rev1[:12], "Grace Ops <grace@example.test>", "deploy app v0.5.0", "succeeded"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Fatalf("point 1: history lacks %q:\n%s", want, r)
		}
	}
	t.Logf("point 1: PASS: 3 hosts OutOfSync -> sync 1 -> Synced; history:\n%s", r.stdout)

	// Point 2: a new commit, seen at once through a signed webhook; a bad
	// signature is refused.
	rev2 := repo.commit(appSpec(t, "v0.6.0"), "deploy app v0.6.0")
	if code := postWebhook(t, addr, "wrong-secret"); code != http.StatusUnauthorized {
		t.Errorf("point 2: webhook with a bad signature: %d, want 401", code)
	}
	if code := postWebhook(t, addr, gitopsWebhookSecret); code != http.StatusAccepted {
		t.Fatalf("point 2: webhook: %d, want 202", code)
	}
	took := a.wait("OutOfSync at the second commit after the webhook", 10*time.Second, func() (bool, string) {
		st := a.status()
		ok, d := hostsAre(st, 3, agent.StatusOutOfSync, agent.ReasonNewRevision)
		return ok && st.Head != nil && st.Head.Hash == rev2, d
	})
	t.Logf("point 2: OutOfSync %s after the webhook (poll interval 1h)", took.Round(time.Millisecond))
	if r = a.cli("sync"); r.code != 0 || !strings.Contains(r.stdout, "main@sha1:"+rev2[:12]) {
		t.Fatalf("point 2: second sync:\n%s", r)
	}
	if ok, d := contentsAre(hosts, appFile, appContent("v0.6.0")); !ok {
		t.Fatalf("point 2: after the second sync: %s", d)
	}
	r = a.cli("history")
	if strings.Count(r.stdout, "succeeded") != 2 || !strings.Contains(r.stdout, "deploy app v0.6.0") || !strings.Contains(r.stdout, "deploy app v0.5.0") {
		t.Fatalf("point 2: history does not show both syncs:\n%s", r)
	}
	t.Log("point 2: PASS")

	// Point 3: rollback to the first sync; OutOfSync against the head,
	// auto-sync suspended.
	r = a.cli("rollback", "1")
	if r.code != 0 || !strings.Contains(r.stdout, "(rollback) succeeded") || !strings.Contains(r.stdout, "Auto-sync paused for app") {
		t.Fatalf("point 3: rollback:\n%s", r)
	}
	if ok, d := contentsAre(hosts, appFile, appContent("v0.5.0")); !ok {
		t.Fatalf("point 3: after rollback: %s", d)
	}
	// Nothing was edited by hand: a drift event now would be a drift check
	// that planned the hosts at a revision they no longer are at.
	time.Sleep(1500 * time.Millisecond) // more than one drift interval
	var falseDrift []string
	for _, d := range a.history().Drifts {
		falseDrift = append(falseDrift, fmt.Sprintf("drift %d %s at %s: %+v", d.ID, d.Host, short(d.Revision), d.Resources))
	}
	st := a.status()
	if ok, d := hostsAre(st, 3, agent.StatusOutOfSync, agent.ReasonRollback); !ok || len(st.Paused) != 1 || st.Paused[0] != "app" || len(falseDrift) > 0 {
		t.Errorf("point 3: status after rollback: %s paused=%v\ndrift events recorded without any hand edit:\n%s\nhistory:\n%s",
			d, st.Paused, strings.Join(falseDrift, "\n"), a.cli("history").stdout)
	}
	for _, h := range st.Hosts {
		if !strings.HasSuffix(h.Applied, rev1) || !strings.HasSuffix(h.Target, rev2) {
			t.Errorf("point 3: %s applied %s target %s, want %s and %s", h.Name, h.Applied, h.Target, rev1, rev2)
		}
	}
	if r = a.cli("status"); !strings.Contains(r.stdout, "Paused:  app") || strings.Count(r.stdout, "rollback") < 3 {
		t.Errorf("point 3: tend status after rollback:\n%s", r)
	}
	t.Log("point 3: PASS")
	a.stop()

	// Phase B: the role's policy is auto, self-heal on, short intervals.
	cfgB := gitopsConfig(t, dir, "auto.hcl", url, inv, addr, dataDir, stateDir, `poll_interval  = "200ms"
drift_interval = "1s"
sync_policy    = "manual"
self_heal      = true
role "app" {
  sync_policy = "auto"
}
`)
	a = startAgent(t, cfgB, addr)

	// Point 4: still paused after the restart; resumed, the hosts return
	// to v0.6.0 on their own.
	a.wait("the restarted agent to plan the head", 20*time.Second, func() (bool, string) {
		st := a.status()
		ok, d := hostsAre(st, 3, agent.StatusOutOfSync, "")
		return ok && st.Head != nil && st.Head.Hash == rev2, d
	})
	time.Sleep(time.Second) // five poll intervals: nothing may be applied while paused
	if ok, d := contentsAre(hosts, appFile, appContent("v0.5.0")); !ok {
		t.Fatalf("point 4: a paused role was synced: %s", d)
	}
	if r = a.cli("agent", "resume", "app"); r.code != 0 || !strings.Contains(r.stdout, "Paused roles: none") {
		t.Fatalf("point 4: resume:\n%s", r)
	}
	took = a.wait("v0.6.0 on every host after resume", 20*time.Second, func() (bool, string) {
		return contentsAre(hosts, appFile, appContent("v0.6.0"))
	})
	a.wait("Synced after auto-sync", 10*time.Second, func() (bool, string) { return hostsAre(a.status(), 3, agent.StatusSynced, "") })
	if len(syncsWith(a.history(), store.TriggerAuto, store.ResultSucceeded)) == 0 {
		t.Fatalf("point 4: no auto sync in the history:\n%s", a.cli("history"))
	}
	t.Logf("point 4: PASS: v0.6.0 everywhere %s after resume", took.Round(time.Millisecond))

	// Point 5 (self_heal on): a hand edit is put back within a drift
	// interval; the drift event names host, resource and diff summary.
	victim := hosts[1]
	victim.Exec(t, "sh", "-c", "echo 'version = \"hand-edited\"' > "+appFile)
	took = a.wait("the hand edit corrected", 10*time.Second, func() (bool, string) {
		return contentsAre([]*testhost.Host{victim}, appFile, appContent("v0.6.0"))
	})
	var drift *store.Drift
	a.wait("the drift event", 10*time.Second, func() (bool, string) {
		for _, d := range a.history().Drifts {
			if d.Host == victim.Name && d.Corrected {
				drift = d
				return true, ""
			}
		}
		return false, "no corrected drift of " + victim.Name
	})
	if len(drift.Resources) != 1 || drift.Resources[0].Address != "file["+appFile+"]" || !strings.Contains(drift.Resources[0].Summary, "content") || drift.SyncID == 0 {
		t.Errorf("point 5: drift event %+v", drift)
	}
	r = a.cli("history")
	if !strings.Contains(r.stdout, victim.Name) || !strings.Contains(r.stdout, fmt.Sprintf("yes (sync %d)", drift.SyncID)) || !strings.Contains(r.stdout, "self-heal") {
		t.Errorf("point 5: history does not show the corrected drift:\n%s", r)
	}
	t.Logf("point 5 (self-heal): PASS: corrected %s after the edit (drift interval 1s); %s: %+v", took.Round(time.Millisecond), drift.Host, drift.Resources)

	// Point 6: the Git server stopped: the agent runs on, says the source
	// is unreachable, and corrects drift at the last revision.
	git.stop()
	a.wait("the source reported unreachable", 15*time.Second, func() (bool, string) {
		st := a.status()
		return strings.Contains(st.SourceError, "unreachable"), st.SourceError
	})
	if r = a.cli("status"); !strings.Contains(r.stdout, "Error:   source unreachable") {
		t.Errorf("point 6: tend status does not say the source is unreachable:\n%s", r)
	}
	victim = hosts[2]
	victim.Exec(t, "sh", "-c", "echo 'version = \"offline-edit\"' > "+appFile)
	took = a.wait("drift corrected while the source is down", 10*time.Second, func() (bool, string) {
		return contentsAre([]*testhost.Host{victim}, appFile, appContent("v0.6.0"))
	})
	t.Logf("point 6: drift corrected %s after the edit with the Git server down", took.Round(time.Millisecond))
	rev3 := repo.commit(appSpec(t, "v0.7.0"), "deploy app v0.7.0")
	time.Sleep(500 * time.Millisecond)
	if st := a.status(); st.Head == nil || st.Head.Hash != rev2 || st.SourceError == "" {
		t.Fatalf("point 6: the agent saw the new commit with the server down: %+v", st)
	}
	git.start()
	took = a.wait("v0.7.0 applied after the Git server came back", 60*time.Second, func() (bool, string) {
		return contentsAre(hosts, appFile, appContent("v0.7.0"))
	})
	st = a.status()
	if st.SourceError != "" || st.Head == nil || st.Head.Hash != rev3 {
		t.Errorf("point 6: status after the server came back: source_error=%q head=%v", st.SourceError, st.Head)
	}
	t.Logf("point 6: PASS: caught up with v0.7.0 %s after the server restarted", took.Round(time.Millisecond))
	a.stop()

	// Point 5 (self_heal off): the drift is only reported.
	cfgC := gitopsConfig(t, dir, "report.hcl", url, inv, addr, dataDir, stateDir, `poll_interval  = "200ms"
drift_interval = "1s"
sync_policy    = "manual"
self_heal      = false
`)
	a = startAgent(t, cfgC, addr)
	a.wait("Synced at v0.7.0 after restart", 20*time.Second, func() (bool, string) {
		st := a.status()
		ok, d := hostsAre(st, 3, agent.StatusSynced, "")
		return ok && st.Head != nil && st.Head.Hash == rev3, d
	})
	var lastDrift uint64
	for _, d := range a.history().Drifts {
		lastDrift = max(lastDrift, d.ID)
	}
	victim = hosts[0]
	victim.Exec(t, "sh", "-c", "echo 'version = \"reported-only\"' > "+appFile)
	a.wait("the uncorrected drift event", 10*time.Second, func() (bool, string) {
		for _, d := range a.history().Drifts {
			if d.ID > lastDrift && d.Host == victim.Name {
				drift = d
				return true, ""
			}
		}
		return false, "no new drift event"
	})
	if drift.Corrected || drift.SyncID != 0 || len(drift.Resources) != 1 || drift.Resources[0].Address != "file["+appFile+"]" {
		t.Errorf("point 5: reported drift %+v", drift)
	}
	time.Sleep(3 * time.Second) // three drift intervals
	if ok, d := contentsAre([]*testhost.Host{victim}, appFile, "version = \"reported-only\"\n"); !ok {
		t.Errorf("point 5: self_heal off corrected the drift: %s", d)
	}
	st = a.status()
	for _, h := range st.Hosts {
		if h.Name == victim.Name && (h.Status != agent.StatusOutOfSync || h.Reason != agent.ReasonDrift) {
			t.Errorf("point 5: %s is %s (%s), want OutOfSync (drift)", h.Name, h.Status, h.Reason)
		}
	}
	if n := len(syncsWith(a.history(), store.TriggerSelfHeal, "")); n != 2 {
		t.Errorf("point 5: %d self-heal syncs, want 2 (both with self_heal on)", n)
	}
	t.Logf("point 5 (report only): PASS: %s %+v", drift.Host, drift.Resources)
}

// gitopsGPG makes a short GNUPGHOME with one ed25519 signing key and
// returns it, the key's fingerprint and its armored public key.
func gitopsGPG(t *testing.T, uid string) (home, fpr, armored string) {
	t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Fatal("gpg is missing: apt-get install -y gnupg")
	}
	home, err := os.MkdirTemp("/tmp", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = exec.Command("gpgconf", "--homedir", home, "--kill", "gpg-agent").Run()
		_ = os.RemoveAll(home)
	})
	run := func(args ...string) string {
		out, err := exec.Command("gpg", append([]string{"--batch", "--homedir", home}, args...)...).Output()
		if err != nil {
			t.Fatalf("gpg %s: %v", strings.Join(args, " "), err)
		}
		return string(out)
	}
	run("--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")
	for _, line := range strings.Split(run("--with-colons", "--list-secret-keys"), "\n") {
		if f := strings.Split(line, ":"); len(f) > 9 && f[0] == "fpr" {
			fpr = f[9]
			break
		}
	}
	if fpr == "" {
		t.Fatal("no fingerprint for the generated gpg key")
	}
	return home, fpr, run("--armor", "--export", fpr)
}

// TestGitOpsSignedCommits covers point 7: with require_signed, an unsigned
// commit and one signed by an unknown key are refused and reported; one
// signed by a trusted key is applied.
func TestGitOpsSignedCommits(t *testing.T) {
	hosts := testhost.Boot(t, 1)
	inv := testhost.WriteInventory(t, hosts, "")
	dir := t.TempDir()
	repo := newGitopsRepo(t, dir)
	trustedHome, trustedFpr, trustedPub := gitopsGPG(t, "Trusted Signer <trusted@example.test>")
	otherHome, otherFpr, _ := gitopsGPG(t, "Unknown Signer <unknown@example.test>")
	writeFile(t, filepath.Join(dir, "trusted.asc"), trustedPub)
	baseEnv := repo.env

	unsigned := repo.commit(appSpec(t, "v0.5.0"), "unsigned v0.5.0")
	addr := freePort(t)
	cfg := gitopsConfig(t, dir, "agent.hcl", "file://"+repo.bare, inv, addr, filepath.Join(dir, "data"), testStateDir(t), `poll_interval  = "200ms"
drift_interval = "1s"
sync_policy    = "auto"
self_heal      = true
`)
	// require_signed lives in the source block.
	writeFile(t, cfg, strings.Replace(readFile(t, cfg), "ref = \"main\"\n", "ref = \"main\"\n  require_signed = true\n  trusted_keys   = [\"trusted.asc\"]\n", 1))
	a := startAgent(t, cfg, addr)

	refused := func(hash string) (bool, string) {
		h := a.history()
		for _, s := range syncsWith(h, "", store.ResultRefused) {
			if s.Hash == hash {
				return true, s.Reason
			}
		}
		return false, fmt.Sprintf("%d syncs, spec_error=%q", len(h.Syncs), a.status().SpecError)
	}
	a.wait("the unsigned commit refused", 20*time.Second, func() (bool, string) { return refused(unsigned) })
	st := a.status()
	if st.SpecError == "" || !strings.Contains(st.SpecError, unsigned[:12]) && !strings.Contains(strings.ToLower(st.SpecError), "sign") {
		t.Errorf("point 7: status does not report the unsigned commit: %q", st.SpecError)
	}
	_, reasonUnsigned := refused(unsigned)

	repo.env = append(append([]string{}, baseEnv...), "GNUPGHOME="+otherHome)
	unknown := repo.signedCommit(appSpec(t, "v0.6.0"), "signed by an unknown key", otherFpr)
	a.wait("the commit signed by an unknown key refused", 20*time.Second, func() (bool, string) { return refused(unknown) })
	_, reasonUnknown := refused(unknown)
	if r := a.cli("history"); !strings.Contains(r.stdout, "refused") || strings.Count(r.stdout, "refused") < 2 {
		t.Errorf("point 7: history does not show both refusals:\n%s", r)
	}
	if ok, d := contentsAre(hosts, appFile, appContent("v0.5.0")); ok {
		t.Fatalf("point 7: an untrusted revision was applied: %s", d)
	}
	if out, _, _ := hosts[0].Run("sh", "-c", "test -e "+appFile+" && cat "+appFile+" || echo absent"); strings.TrimSpace(out) != "absent" {
		t.Fatalf("point 7: %s on the host after refusals: %q", appFile, out)
	}

	repo.env = append(append([]string{}, baseEnv...), "GNUPGHOME="+trustedHome)
	trusted := repo.signedCommit(appSpec(t, "v0.7.0"), "signed by the trusted key", trustedFpr)
	took := a.wait("the trusted commit applied", 30*time.Second, func() (bool, string) {
		return contentsAre(hosts, appFile, appContent("v0.7.0"))
	})
	st = a.status()
	if st.Head == nil || st.Head.Hash != trusted || st.SpecError != "" {
		t.Errorf("point 7: status after the trusted commit: head=%v spec_error=%q", st.Head, st.SpecError)
	}
	t.Logf("point 7: PASS: unsigned refused (%s); unknown key refused (%s); trusted applied in %s",
		firstLine(reasonUnsigned), firstLine(reasonUnknown), took.Round(time.Millisecond))
}

// buildTend builds the tend binary into a temp dir.
func buildTend(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tend")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/tend")
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/tend: %v\n%s", err, out)
	}
	return bin
}

// TestGitOpsKilledMidSync covers point 8: the agent process killed with
// SIGKILL during a slow sync and restarted: history readable, the sync
// marked interrupted, and the next sync converges.
func TestGitOpsKilledMidSync(t *testing.T) {
	bin := buildTend(t)
	hosts := testhost.Boot(t, 1)
	inv := testhost.WriteInventory(t, hosts, "")
	dir := t.TempDir()
	repo := newGitopsRepo(t, dir)
	rev := repo.commit(map[string]string{"main.hcl": readFile(t, "../../testdata/e2e/gitops/slow/main.hcl")}, "a slow sync")
	addr := freePort(t)
	cfg := gitopsConfig(t, dir, "agent.hcl", "file://"+repo.bare, inv, addr, filepath.Join(dir, "data"), testStateDir(t), `poll_interval  = "200ms"
drift_interval = "1h"
sync_policy    = "manual"
`)
	a := startAgentProcess(t, bin, cfg, addr)
	a.wait("OutOfSync", 20*time.Second, func() (bool, string) { return hostsAre(a.status(), 1, agent.StatusOutOfSync, "") })

	syncDone := make(chan result, 1)
	go func() { syncDone <- a.cli("sync") }()
	a.wait("the sync running with sleep on the host", 15*time.Second, func() (bool, string) {
		h := a.history()
		running := len(h.Syncs) > 0 && h.Syncs[0].Result == store.ResultRunning
		_, _, err := hosts[0].Run("pgrep", "-x", "sleep")
		return running && err == nil, fmt.Sprintf("running=%v pgrep=%v", running, err)
	})
	time.Sleep(500 * time.Millisecond)
	a.kill()
	r := <-syncDone
	if r.code == 0 {
		t.Fatalf("point 8: the sync finished before the kill:\n%s", r)
	}
	if out, _, _ := hosts[0].Run("sh", "-c", "test -e /srv/slow/done && echo present || echo absent"); strings.TrimSpace(out) != "absent" {
		t.Fatalf("point 8: the killed sync got past the slow exec: /srv/slow/done is %s", out)
	}

	a = startAgentProcess(t, bin, cfg, addr)
	r = a.cli("history")
	if r.code != 0 || !strings.Contains(r.stdout, "interrupted") {
		t.Fatalf("point 8: history after restart:\n%s", r)
	}
	h := a.history()
	if len(h.Syncs) != 1 || h.Syncs[0].Result != store.ResultInterrupted || h.Syncs[0].Hash != rev {
		t.Fatalf("point 8: syncs after restart: %+v", h.Syncs)
	}
	start := time.Now()
	r = a.cli("sync")
	if r.code != 0 || !strings.Contains(r.stdout, "succeeded") {
		t.Fatalf("point 8: sync after restart:\n%s\nagent log:\n%s", r, tailLines(a.logs.String(), 30))
	}
	if got := hosts[0].Exec(t, "cat", "/srv/slow/done"); got != "converged\n" {
		t.Fatalf("point 8: /srv/slow/done = %q", got)
	}
	t.Logf("point 8: PASS: history after restart:\n%s\nnext sync converged in %s", tailLines(a.cli("history").stdout, 5), time.Since(start).Round(time.Millisecond))
}

// TestGitOpsTwoAgentsNoInterleave covers point 9: two agents with their
// own data directories, against the same hosts and state directory, both
// syncing a slow exec at once; the exec's start/end log on each host shows
// no overlap.
func TestGitOpsTwoAgentsNoInterleave(t *testing.T) {
	hosts := testhost.Boot(t, 2)
	inv := testhost.WriteInventory(t, hosts, "")
	dir := t.TempDir()
	repo := newGitopsRepo(t, dir)
	repo.commit(map[string]string{"main.hcl": readFile(t, "../../testdata/e2e/gitops/overlap/main.hcl")}, "stamp")
	stateDir := testStateDir(t)
	var agents []*gitopsAgent
	for _, name := range []string{"a", "b"} {
		addr := freePort(t)
		cfg := gitopsConfig(t, dir, name+".hcl", "file://"+repo.bare, inv, addr, filepath.Join(dir, "data-"+name), stateDir, `poll_interval  = "200ms"
drift_interval = "1h"
sync_policy    = "manual"
`)
		agents = append(agents, startAgent(t, cfg, addr))
	}
	for _, a := range agents {
		a.wait("OutOfSync", 20*time.Second, func() (bool, string) { return hostsAre(a.status(), 2, agent.StatusOutOfSync, "") })
	}
	var wg sync.WaitGroup
	results := make([]result, len(agents))
	for i, a := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = tend(t, "sync", "--server=http://"+a.addr, "--token", gitopsToken)
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 {
			t.Errorf("point 9: sync of agent %d:\n%s", i, r)
		}
	}
	for _, h := range hosts {
		log := h.Exec(t, "cat", "/root/overlap.log")
		type span struct{ start, end int64 }
		var spans []span
		var open int64 = -1
		for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
			f := strings.Fields(line)
			if len(f) != 2 {
				t.Fatalf("point 9: %s: bad log line %q", h.Name, line)
			}
			ns, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatalf("point 9: %s: bad log line %q", h.Name, line)
			}
			switch f[0] {
			case "start":
				if open >= 0 {
					t.Errorf("point 9: %s: a run started while another ran:\n%s", h.Name, log)
				}
				open = ns
			case "end":
				spans = append(spans, span{open, ns})
				open = -1
			}
		}
		sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
		if len(spans) != 2 {
			t.Errorf("point 9: %s ran the exec %d times, want 2 (one per agent):\n%s", h.Name, len(spans), log)
		}
		for i := 1; i < len(spans); i++ {
			if spans[i].start < spans[i-1].end {
				t.Errorf("point 9: %s: runs overlap:\n%s", h.Name, log)
			}
		}
		t.Logf("point 9: %s: %d runs, gaps ok:\n%s", h.Name, len(spans), log)
	}
}
