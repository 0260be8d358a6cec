package agent

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/tendhq/tend/agent/store"
	"github.com/tendhq/tend/engine/source"
	"github.com/tendhq/tend/inventory"
	"github.com/tendhq/tend/inventory/local"
)

// gitEnv is a hermetic environment for the git CLI.
func gitEnv() []string {
	return append(os.Environ(),
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Alice", "GIT_AUTHOR_EMAIL=alice@example.com",
		"GIT_COMMITTER_NAME=Alice", "GIT_COMMITTER_EMAIL=alice@example.com")
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is not installed: apt-get install -y git")
	}
	cmd := exec.Command("git", args...)
	cmd.Dir, cmd.Env = dir, gitEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// fixture is a bare repository with a working clone, a host root the
// specs write to, and the agent built on them.
type fixture struct {
	t        *testing.T
	bare     string
	work     string
	root     string
	stateDir string
	data     string
	cfg      *Config
	src      *source.Source
	hist     *store.Store
	a        *Agent
	cancel   context.CancelFunc
	done     chan struct{}
}

// specFile is the spec: one file per name under the host's root.
func specFile(content string) string {
	return fmt.Sprintf("role \"web\" {\n  hosts = [\"*\"]\n  file \"a\" {\n    path    = \"${host.vars.root}/a\"\n    content = %q\n    mode    = \"0644\"\n  }\n}\n", content)
}

func newFixture(t *testing.T, mutate func(*Config)) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{t: t, bare: filepath.Join(dir, "infra.git"), work: filepath.Join(dir, "work"),
		root: filepath.Join(dir, "root"), stateDir: filepath.Join(dir, "state"), data: filepath.Join(dir, "data")}
	for _, d := range []string{f.root, f.stateDir, f.data} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	git(t, dir, "init", "-q", "--bare", "-b", "main", f.bare)
	git(t, dir, "clone", "-q", f.bare, f.work)
	f.write("specs/inventory/hosts.hcl", fmt.Sprintf("host \"h1\" {\n  address = \"localhost\"\n  vars = { root = %q }\n}\n", f.root))
	f.commit("specs/main.hcl", specFile("v1\n"), "first")
	f.cfg = &Config{
		Source:        source.Spec{URL: "file://" + f.bare, Ref: "main", Path: "specs", CacheDir: filepath.Join(f.data, "source")},
		Inventory:     "inventory",
		PollInterval:  100 * time.Millisecond,
		DriftInterval: time.Hour,
		Policy:        PolicyManual,
		Roles:         map[string]RoleConfig{},
		StateDir:      f.stateDir,
		Tokens:        []Token{{Name: "ops", Secret: "ops-secret"}, {Name: "viewer", Secret: "viewer-secret", ReadOnly: true}},
		WebhookSecret: "hook-secret",
	}
	if mutate != nil {
		mutate(f.cfg)
	}
	log := zaptest.NewLogger(t, zaptest.Level(testLogLevel))
	var err error
	if f.src, err = source.New(f.cfg.Source, log); err != nil {
		t.Fatal(err)
	}
	if f.hist, err = store.Open(filepath.Join(f.data, "history.db"), 100); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.hist.Close() })
	f.a, err = New(Options{Config: f.cfg, Source: f.src, History: f.hist, Dial: localDial, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func localDial(ctx context.Context, h *inventory.Host) (inventory.Transport, error) {
	return local.New(local.Options{Name: h.Name}), nil
}

// start runs the loop until the test ends.
func (f *fixture) start() {
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel, f.done = cancel, make(chan struct{})
	go func() {
		defer close(f.done)
		_ = f.a.Run(ctx)
	}()
	f.t.Cleanup(f.stop)
}

func (f *fixture) stop() {
	if f.cancel != nil {
		f.cancel()
		<-f.done
		f.cancel = nil
	}
}

func (f *fixture) write(name, content string) {
	f.t.Helper()
	p := filepath.Join(f.work, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// commit writes a file, commits and pushes it, and returns the hash.
func (f *fixture) commit(name, content, msg string) string {
	f.t.Helper()
	f.write(name, content)
	git(f.t, f.work, "add", "-A")
	git(f.t, f.work, "commit", "-q", "-m", msg)
	git(f.t, f.work, "push", "-q", "origin", "HEAD:main")
	return git(f.t, f.work, "rev-parse", "HEAD")
}

func (f *fixture) content() string {
	b, err := os.ReadFile(filepath.Join(f.root, "a"))
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

func (f *fixture) host() HostStatus {
	for _, h := range f.a.Status().Hosts {
		if h.Name == "h1" {
			return h
		}
	}
	return HostStatus{}
}

// eventually waits up to 20s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testLogLevel keeps the tests' logs short; set TEND_TEST_LOG=debug to see
// every step.
var testLogLevel = func() zap.AtomicLevel {
	l := zap.NewAtomicLevelAt(zap.WarnLevel)
	if s := os.Getenv("TEND_TEST_LOG"); s != "" {
		_ = l.UnmarshalText([]byte(s))
	}
	return l
}()
