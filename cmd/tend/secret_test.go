package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"filippo.io/age"

	"github.com/tendhq/tend/agent"
	"github.com/tendhq/tend/internal/sshtest"
)

// The marker-secret test of issue 8: a random marker is encrypted with age
// and used by specs every way they can use a secret; every output tend
// produces is captured and searched for it. It may only be on the host.

// secretSpec uses the secret as a file's whole content, in a template,
// through format, in a module's sensitive variable and in an exec's
// environment; var.api_key is a sensitive variable given in a var file.
const secretSpec = `variable "api_key" {
  type      = string
  sensitive = true
  default   = "none"
}

locals {
  db = secret("secrets/db.age")
}

role "all" {
  hosts = ["*"]

  directory "root" {
    path = host.vars.root
  }

  file "db_password" {
    path    = "${host.vars.root}/db_password"
    content = local.db
    mode    = "0600"
  }

  file "app.conf" {
    path    = "${host.vars.root}/app.conf"
    content = templatefile("templates/app.conf.tmpl", { password = local.db, api_key = var.api_key })
    mode    = "0640"
  }

  file "dsn" {
    path    = "${host.vars.root}/dsn"
    content = format("postgres://app:%s@db/app\n", secret("secrets/db.age"))
    mode    = "0600"
  }

  exec "check_secret" {
    command     = ["sh", "-c", "test \"$DB_PASSWORD\" = \"$(cat \"$1\")\" && touch \"$2\"", "sh", "${host.vars.root}/db_password", "${host.vars.root}/exec-ok"]
    environment = { DB_PASSWORD = local.db }
    creates     = "${host.vars.root}/exec-ok"
    depends_on  = [file["db_password"]]
  }

  module "vault" {
    source = "./mod"
    root   = host.vars.root
    token  = local.db
  }
}
`

const secretModule = `variable "root" {
  type = string
}

variable "token" {
  type      = string
  sensitive = true
}

file "token" {
  path    = "${var.root}/module_token"
  content = "token=${var.token}\n"
  mode    = "0600"
}
`

// badSecretSpec uses the secret where it makes errors that quote values.
const badSecretSpec = `locals {
  db = secret("secrets/db.age")
}

role "all" {
  hosts = ["*"]

  file "bad_mode" {
    path = "/tmp/tend-secret-never"
    mode = local.db
  }

  file "bad_path" {
    path = "relative/${local.db}"
  }

  file "bad_state" {
    path  = "/tmp/tend-secret-never-2"
    state = "${local.db}"
  }
}
`

// runtimeSecretSpec compiles, but its owner (the secret) does not exist on
// the host: the error comes from the plan, not from the loader.
const runtimeSecretSpec = `locals {
  db = secret("secrets/db.age")
}

role "all" {
  hosts = ["*"]

  file "owned" {
    path  = "${host.vars.root}/owned"
    owner = local.db
  }
}
`

// leakCheck collects every output of the test and searches them.
type leakCheck struct {
	t       *testing.T
	markers []string
	seen    int
}

// check fails the test when text, the output what, holds a marker.
func (lc *leakCheck) check(what, text string) {
	lc.t.Helper()
	lc.seen++
	for _, m := range lc.markers {
		if i := strings.Index(text, m); i >= 0 {
			lo, hi := max(0, i-300), min(len(text), i+len(m)+100)
			lc.t.Errorf("the secret leaked into %s:\n...%s...", what, text[lo:hi])
		}
	}
}

// result checks both streams of a tend run.
func (lc *leakCheck) result(what string, r result) {
	lc.t.Helper()
	lc.check(what+" (stdout)", r.stdout)
	lc.check(what+" (stderr)", r.stderr)
}

// tree checks every file below dir, bytes as they are (a bbolt file, a Git
// object store, a manifest).
func (lc *leakCheck) tree(what, dir string) {
	lc.t.Helper()
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err == nil {
			lc.check(what+" "+p, string(b))
		}
		return nil
	})
}

func randomMarker(t *testing.T) string {
	t.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "TENDSECRET-" + hex.EncodeToString(b[:])
}

// ageEncrypt encrypts plain to r.
func ageEncrypt(t *testing.T, plain string, r age.Recipient) string {
	t.Helper()
	var b bytes.Buffer
	w, err := age.Encrypt(&b, r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// secretFiles are the files of a spec directory using the secret.
func secretFiles(main, encrypted string) map[string]string {
	return map[string]string{
		"main.hcl":                main,
		"secrets/db.age":          encrypted,
		"templates/app.conf.tmpl": "[db]\nuser = app\npassword = ${password}\napi_key = ${api_key}\n",
		"mod/main.hcl":            secretModule,
	}
}

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		writeFile(t, filepath.Join(dir, name), content)
	}
}

// TestSecretMarkerNeverPrinted is the marker-secret test: validate, plan in
// every format, apply, drift and repair, errors at load and at plan time,
// the logs at debug level in both formats, and an agent's sync, drift
// scan, API, history and store. The marker may only be on the host, in
// files of the requested mode.
func TestSecretMarkerNeverPrinted(t *testing.T) {
	t.Setenv(ageIdentityEnv, "")
	marker, apiKey := randomMarker(t), randomMarker(t)
	lc := &leakCheck{t: t, markers: []string{marker, apiKey}}

	dir := t.TempDir()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "age.key")
	writeFile(t, keyFile, "# created: test\n# public key: "+id.Recipient().String()+"\n"+id.String()+"\n")
	encrypted := ageEncrypt(t, marker, id.Recipient())
	spec, bad, runtime := filepath.Join(dir, "specs"), filepath.Join(dir, "bad"), filepath.Join(dir, "runtime")
	writeTree(t, spec, secretFiles(secretSpec, encrypted))
	writeTree(t, bad, secretFiles(badSecretSpec, encrypted))
	writeTree(t, runtime, secretFiles(runtimeSecretSpec, encrypted))
	varFile := filepath.Join(dir, "secret.tfvars")
	writeFile(t, varFile, fmt.Sprintf("api_key = %q\n", apiKey))

	servers := sshtest.Start(t, 1)
	inv, roots := sshInventory(t, servers)
	root := roots[0]
	idFlag := "--age-identity=" + keyFile
	base := []string{"-i", inv, "--var-file", varFile, "--log-level", "debug"}

	// validate: without an identity the secret is unknown, not an error;
	// with one it is decrypted. plan without an identity says what to do.
	for _, args := range [][]string{
		{"validate", spec},
		{"validate", "-i", inv, spec},
		{"validate", idFlag, spec},
		{"validate", idFlag, "-i", inv, "--var-file", varFile, spec},
	} {
		r := tend(t, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "Success!") {
			t.Fatalf("%v:\n%s", args, r)
		}
		lc.result(strings.Join(args[:len(args)-1], " "), r)
	}
	r := tend(t, append([]string{"plan"}, append(base, spec)...)...)
	if r.code != 1 || !strings.Contains(r.stderr, "--age-identity FILE or $TEND_AGE_IDENTITY") {
		t.Fatalf("plan without identity:\n%s", r)
	}
	lc.result("plan without identity", r)

	// Plans in every format and both log formats, before anything exists.
	plans := func(when string, wantCode int) {
		t.Helper()
		for _, out := range []string{"text", "json", "markdown"} {
			for _, lf := range []string{"console", "json"} {
				args := append([]string{"plan", idFlag, "--detailed-exitcode", "-o", out, "--log-format", lf}, append(base, spec)...)
				r := tend(t, args...)
				if r.code != wantCode {
					t.Fatalf("plan -o %s %s: exit %d, want %d\n%s", out, when, r.code, wantCode, r)
				}
				lc.result(fmt.Sprintf("plan -o %s --log-format %s %s", out, lf, when), r)
			}
		}
	}
	plans("before apply", 2)

	// apply, with the identity from the environment.
	t.Setenv(ageIdentityEnv, keyFile)
	r = tend(t, append([]string{"apply", "--log-format", "json"}, append(base, spec)...)...)
	t.Setenv(ageIdentityEnv, "")
	if r.code != 0 {
		t.Fatalf("apply:\n%s", r)
	}
	lc.result("apply --log-format json", r)
	hostFiles := map[string]struct {
		content string
		mode    fs.FileMode
	}{
		"db_password":  {marker, 0o600},
		"app.conf":     {"[db]\nuser = app\npassword = " + marker + "\napi_key = " + apiKey + "\n", 0o640},
		"dsn":          {"postgres://app:" + marker + "@db/app\n", 0o600},
		"module_token": {"token=" + marker + "\n", 0o600},
	}
	checkHost := func(when string) {
		t.Helper()
		for name, want := range hostFiles {
			p := filepath.Join(root, name)
			fi, err := os.Lstat(p)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			if got := readFile(t, p); got != want.content || fi.Mode() != want.mode {
				t.Errorf("%s: %s holds %q with mode %v, want %q with mode %v", when, name, got, fi.Mode(), want.content, want.mode)
			}
		}
		if _, err := os.Stat(filepath.Join(root, "exec-ok")); err != nil {
			t.Errorf("%s: the exec did not see the secret in its environment: %v", when, err)
		}
	}
	checkHost("after apply")
	plans("after apply", 0)

	// Drift: hand edits that a diff would show, with the secret in them
	// (the host's old content is as secret as the new).
	for name := range hostFiles {
		writeFile(t, filepath.Join(root, name), "edited by hand\n"+marker+"\n"+apiKey+"\n")
	}
	plans("after hand edits", 2)
	r = tend(t, append([]string{"plan", idFlag, "-o", "text"}, append(base, spec)...)...)
	for _, want := range []string{"file[db_password]", "file[app.conf]", "file[dsn]", "module.vault.file[token]", "(sensitive value)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the plan after hand edits does not show %q:\n%s", want, r.stdout)
		}
	}

	// The repair, watched: no file is ever created in the target
	// directory itself (a private directory holds the temporary file), so
	// no one can open it before its mode is right.
	events := watchDir(t, root)
	r = tend(t, append([]string{"apply", idFlag, "--log-format", "console"}, append(base, spec)...)...)
	if r.code != 0 {
		t.Fatalf("repair:\n%s", r)
	}
	lc.result("apply of hand edits --log-format console", r)
	checkHost("after the repair")
	for _, ev := range events() {
		if ev.mask&syscall.IN_CREATE != 0 && ev.mask&syscall.IN_ISDIR == 0 {
			t.Errorf("a file was created in %s itself during the write: %s", root, ev.name)
		}
	}
	if entries, _ := os.ReadDir(root); len(entries) != len(hostFiles)+1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("the repair left something behind in %s: %v", root, names)
	}

	// Errors: where the secret makes a value invalid (at load), and where
	// the host refuses it (at apply). No var file: its value would show
	// in a warning, as no variable of these specs declares it sensitive.
	noVars := []string{"-i", inv, "--log-level", "debug"}
	for _, args := range [][]string{
		append([]string{"validate", idFlag}, bad),
		append([]string{"plan", idFlag}, append(noVars, bad)...),
		append([]string{"plan", idFlag, "--log-format", "json"}, append(noVars, bad)...),
	} {
		r := tend(t, args...)
		if r.code != 1 || !strings.Contains(r.stderr, "Invalid file mode") || !strings.Contains(r.stderr, "Invalid path") || !strings.Contains(r.stderr, "Invalid state") {
			t.Errorf("%v: want the three errors\n%s", args[:2], r)
		}
		lc.result(strings.Join(args[:2], " ")+" of invalid specs", r)
	}
	for _, out := range []string{"text", "json", "markdown"} {
		r := tend(t, append([]string{"plan", idFlag, "-o", out}, append(noVars, runtime)...)...)
		if r.code != 0 || !strings.Contains(r.stdout, "owned") {
			t.Errorf("plan -o %s of an unknown owner:\n%s", out, r)
		}
		lc.result("plan -o "+out+" of an unknown owner", r)
	}
	for _, lf := range []string{"console", "json"} {
		r := tend(t, append([]string{"apply", idFlag, "--log-format", lf}, append(noVars, runtime)...)...)
		if r.code != 1 || !strings.Contains(r.stdout, "chown") {
			t.Errorf("apply of an unknown owner: want a failed chown\n%s", r)
		}
		lc.result("apply --log-format "+lf+" of an unknown owner", r)
	}

	testAgentSecrets(t, lc, dir, keyFile, inv, spec, root)
	lc.check("the sshd log", servers[0].Log())
	lc.tree("the state directory", testStateDir(t))
	if lc.seen < 40 {
		t.Errorf("only %d outputs were checked", lc.seen)
	}
	t.Logf("%d outputs checked; the marker is only on the host", lc.seen)
}

// testAgentSecrets runs an agent on the same specs from Git: a sync (the
// var file is not given, so app.conf changes), a drift scan after a hand
// edit, and a sync of a commit whose specs are invalid because of the
// secret. Its logs (debug, JSON then console), API replies, CLI output,
// history store and data directory are checked.
func testAgentSecrets(t *testing.T, lc *leakCheck, dir, keyFile, inv, spec, root string) {
	if err := os.MkdirAll(filepath.Join(dir, "git"), 0o755); err != nil {
		t.Fatal(err)
	}
	repo := newGitopsRepo(t, filepath.Join(dir, "git"))
	files := map[string]string{"inventory/hosts.hcl": readFile(t, inv)}
	_ = filepath.WalkDir(spec, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(spec, p)
			files[rel] = readFile(t, p)
		}
		return nil
	})
	rev := repo.commit(files, "secret specs")
	// Notifications go to a receiver that keeps every body, in JSON and
	// in Slack's format.
	var notesMu sync.Mutex
	var notes []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		notesMu.Lock()
		notes = append(notes, r.Header.Get("X-Tend-Event")+" "+string(b))
		notesMu.Unlock()
	}))
	t.Cleanup(recv.Close)
	received := func() string {
		notesMu.Lock()
		defer notesMu.Unlock()
		return strings.Join(notes, "\n")
	}
	addr, dataDir := freePort(t), filepath.Join(dir, "agent-data")
	cfg := gitopsConfig(t, dir, "agent.hcl", "file://"+repo.bare, "inventory/hosts.hcl", addr, dataDir, testStateDir(t),
		fmt.Sprintf("poll_interval  = \"1h\"\ndrift_interval = \"1s\"\nsync_policy    = \"manual\"\nself_heal      = false\nage_identity   = %q\n", keyFile)+
			fmt.Sprintf("notification \"json\" {\n  url = %q\n}\nnotification \"slack\" {\n  url    = %q\n  format = \"slack\"\n}\n", recv.URL+"/json", recv.URL+"/slack"))

	a := startDebugAgent(t, cfg, addr, "json")
	// The UI's live updates: the event stream, read for the whole run.
	events := &lockedBuffer{}
	evCtx, evStop := context.WithCancel(context.Background())
	evDone := make(chan struct{})
	go func() {
		defer close(evDone)
		req, _ := http.NewRequestWithContext(evCtx, http.MethodGet, "http://"+addr+"/api/v1/events", nil)
		req.Header.Set("Authorization", "Bearer "+gitopsToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		_, _ = io.Copy(events, resp.Body)
	}()
	a.wait("the agent to see the revision", 30*time.Second, func() (bool, string) {
		st := a.status()
		return len(st.Hosts) == 1 && st.Hosts[0].Status == agent.StatusOutOfSync, fmt.Sprint(st.Hosts)
	})
	r := a.cli("sync")
	if r.code != 0 || !strings.Contains(r.stdout, "succeeded") {
		t.Fatalf("agent sync of %s:\n%s\nlog:\n%s", rev, r, tailLines(a.logs.String(), 30))
	}
	lc.result("tend sync", r)
	if got := readFile(t, filepath.Join(root, "app.conf")); !strings.Contains(got, marker(lc)) || !strings.Contains(got, "api_key = none") {
		t.Errorf("the agent's sync did not write app.conf: %q", got)
	}
	writeFile(t, filepath.Join(root, "db_password"), "edited again\n"+marker(lc)+"\n")
	a.wait("a drift event", 30*time.Second, func() (bool, string) {
		h := a.history()
		return len(h.Drifts) > 0, fmt.Sprintf("%d drift events", len(h.Drifts))
	})
	a.wait("the drift notification", 30*time.Second, func() (bool, string) {
		return strings.Contains(received(), "drift "), fmt.Sprintf("%d notifications", len(strings.Split(received(), "\n")))
	})
	host := a.status().Hosts[0].Name
	// The host view the UI draws: the graph with each resource's change,
	// the drifted db_password's diff among them.
	if view := apiGet(t, a, "/api/v1/hosts/"+host); !strings.Contains(view, "db_password") {
		t.Errorf("the host view lacks the drifted file:\n%s", view)
	}
	apiChecks := func(when string) {
		for _, p := range []string{"/api/v1/status", "/api/v1/hosts", "/api/v1/history?limit=100", "/api/v1/hosts/" + host, "/", "/ui/app.js"} {
			lc.check(when+" GET "+p, apiGet(t, a, p))
		}
		for _, cmd := range []string{"status", "history"} {
			lc.result(when+" tend "+cmd, a.cli(cmd))
		}
	}
	apiChecks("after sync and drift")
	evStop()
	<-evDone
	if !strings.Contains(events.String(), "sync-finished") || !strings.Contains(events.String(), "drift") {
		t.Errorf("the event stream did not carry the sync and the drift:\n%s", events.String())
	}
	lc.check("the UI's event stream", events.String())
	a.stop()
	lc.check("the agent's log (debug, json)", a.logs.String())

	// A commit whose specs the secret makes invalid: the sync fails with
	// the diagnostics, which are recorded.
	bad := map[string]string{"main.hcl": strings.Replace(readFile(t, filepath.Join(spec, "main.hcl")),
		`mode    = "0600"`, `mode    = local.db`, 1)}
	repo.commit(bad, "a mode made of the secret")
	a = startDebugAgent(t, cfg, addr, "console")
	r = a.cli("sync")
	if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "Invalid file mode") {
		t.Errorf("sync of invalid specs:\n%s", r)
	}
	lc.result("tend sync of invalid specs", r)
	apiChecks("after a failed sync")
	a.wait("the failed sync's notification", 30*time.Second, func() (bool, string) {
		return strings.Contains(received(), "sync-failed "), received()
	})
	lc.check("the notifications (JSON and Slack)", received())
	a.stop()
	lc.check("the agent's log (debug, console)", a.logs.String())
	lc.tree("the agent's data directory", dataDir)
}

func marker(lc *leakCheck) string { return lc.markers[0] }

// startDebugAgent is startAgent with the log at debug level in format.
func startDebugAgent(t *testing.T, cfg, addr, format string) *gitopsAgent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a := &gitopsAgent{t: t, addr: addr, logs: &lockedBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() {
		root := newRoot()
		root.SetArgs([]string{"agent", "-c", cfg, "--log-level", "debug", "--log-format", format})
		root.SetOut(a.logs)
		root.SetErr(a.logs)
		a.done <- root.ExecuteContext(ctx)
	}()
	t.Cleanup(a.stop)
	a.waitHealthy()
	return a
}

// apiGet returns the body of an authenticated GET.
func apiGet(t *testing.T, a *gitopsAgent, path string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+a.addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+gitopsToken)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", path, resp.Status, err)
	}
	return string(b)
}

// inotifyEvent is one event of watchDir.
type inotifyEvent struct {
	mask uint32
	name string
}

// watchDir watches dir (not below it) for entries created or moved in;
// the function it returns stops watching and returns what happened.
func watchDir(t *testing.T, dir string) func() []inotifyEvent {
	t.Helper()
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		t.Fatalf("inotify: %v", err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = syscall.Close(fd)
		}
	})
	if _, err := syscall.InotifyAddWatch(fd, dir, syscall.IN_CREATE|syscall.IN_MOVED_TO); err != nil {
		t.Fatalf("inotify watch %s: %v", dir, err)
	}
	return func() []inotifyEvent {
		var out []inotifyEvent
		buf := make([]byte, 64*1024)
		for {
			n, err := syscall.Read(fd, buf)
			if n <= 0 || err != nil {
				break
			}
			for off := 0; off+syscall.SizeofInotifyEvent <= n; {
				ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
				name := string(bytes.TrimRight(buf[off+syscall.SizeofInotifyEvent:off+syscall.SizeofInotifyEvent+int(ev.Len)], "\x00"))
				out = append(out, inotifyEvent{mask: ev.Mask, name: name})
				off += syscall.SizeofInotifyEvent + int(ev.Len)
			}
		}
		closed = true
		_ = syscall.Close(fd)
		if len(out) == 0 {
			t.Errorf("inotify saw nothing in %s: the watch does not work", dir)
		}
		return out
	}
}

// TestAgeIdentityOptions checks the ways identities are given and refused:
// a bad --age-identity or $TEND_AGE_IDENTITY file is an error naming the
// file and not quoting it; agent.hcl's age_identity takes a file or a
// list, relative to agent.hcl, and points at itself when one is unusable.
func TestAgeIdentityOptions(t *testing.T) {
	t.Setenv(ageIdentityEnv, "")
	dir := t.TempDir()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "age.key")
	writeFile(t, key, id.String()+"\n")
	bad := filepath.Join(dir, "bad.key")
	writeFile(t, bad, "AGE-SECRET-KEY-1NOTAKEYBUTSOMETHINGSECRETLOOKING\n")
	spec := filepath.Join(dir, "specs")
	writeTree(t, spec, secretFiles(secretSpec, ageEncrypt(t, "x", id.Recipient())))

	r := tend(t, "validate", "--age-identity", bad, spec)
	if r.code != 1 || !strings.Contains(r.stderr, bad) || strings.Contains(r.stderr, "NOTAKEY") {
		t.Errorf("validate with a bad identity file:\n%s", r)
	}
	t.Setenv(ageIdentityEnv, filepath.Join(dir, "missing.key")+":"+key)
	if r := tend(t, "validate", spec); r.code != 1 || !strings.Contains(r.stderr, "missing.key") {
		t.Errorf("validate with a missing identity file in $%s:\n%s", ageIdentityEnv, r)
	}
	t.Setenv(ageIdentityEnv, key)
	if r := tend(t, "validate", spec); r.code != 0 {
		t.Errorf("validate with $%s:\n%s", ageIdentityEnv, r)
	}
	// The flag wins over the environment.
	if r := tend(t, "validate", "--age-identity", bad, spec); r.code != 1 {
		t.Errorf("--age-identity did not replace $%s:\n%s", ageIdentityEnv, r)
	}

	head := "source {\n  url = \"file:///nowhere\"\n}\ninventory = \"inv\"\n"
	for _, tc := range []struct {
		attr  string
		files int
		err   string
	}{
		{`age_identity = "age.key"`, 1, ""},
		{`age_identity = ["age.key", "` + key + `"]`, 2, ""},
		{`age_identity = "bad.key"`, 0, "Cannot read age identity"},
		{`age_identity = "none.key"`, 0, "Cannot read age identity"},
		{`age_identity = 5`, 0, "Invalid age_identity"},
		{`age_identity = { a = 1 }`, 0, "Invalid age_identity"},
	} {
		cfg, _, diags := agent.ParseConfig([]byte(head+tc.attr+"\n"), filepath.Join(dir, "agent.hcl"))
		if tc.err == "" {
			if diags.HasErrors() || len(cfg.AgeIdentities) != tc.files || len(cfg.AgeIdentityFiles) != tc.files || cfg.AgeIdentityFiles[0] != key {
				t.Errorf("%s: %v, files %v", tc.attr, diags, cfg)
			}
			continue
		}
		if !diags.HasErrors() || diags[0].Summary != tc.err || diags[0].Subject == nil || diags[0].Subject.Start.Line != 5 {
			t.Errorf("%s: want %q at line 5, got %v", tc.attr, tc.err, diags)
		}
		if strings.Contains(diags.Error(), "NOTAKEY") {
			t.Errorf("%s: the error quotes the key file: %v", tc.attr, diags)
		}
	}
}
