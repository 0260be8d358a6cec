package source

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// gitEnv is a hermetic environment for the git CLI: no user or system
// configuration, a fixed author and committer.
func gitEnv(extra ...string) []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "GIT_") {
			env = append(env, e)
		}
	}
	return append(append(env,
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Ada Author", "GIT_AUTHOR_EMAIL=ada@example.test",
		"GIT_COMMITTER_NAME=Ada Author", "GIT_COMMITTER_EMAIL=ada@example.test",
	), extra...)
}

// gitCmd runs git in dir and returns its trimmed output.
func gitCmd(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is missing: apt-get install -y git")
	}
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("git %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return strings.TrimSpace(out.String())
}

// repo is a bare repository and a working clone that pushes to it.
type repo struct {
	t    *testing.T
	bare string
	work string
	env  []string
	cfg  []string // "-c", "k=v" options given to git commit
}

// newRepo makes an empty bare repository (HEAD main) and a working clone.
func newRepo(t *testing.T) *repo {
	t.Helper()
	dir := t.TempDir()
	r := &repo{t: t, bare: filepath.Join(dir, "origin.git"), work: filepath.Join(dir, "work"), env: gitEnv()}
	gitCmd(t, dir, r.env, "init", "-q", "--bare", "-b", "main", r.bare)
	gitCmd(t, dir, r.env, "init", "-q", "-b", "main", r.work)
	gitCmd(t, r.work, r.env, "remote", "add", "origin", r.bare)
	return r
}

// commit writes files (path -> content; "" removes), commits with msg and
// extra flags of git commit (after r.cfg), pushes the current branch, and returns the hash.
func (r *repo) commit(files map[string]string, msg string, flags ...string) string {
	r.t.Helper()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(r.work, filepath.FromSlash(n))
		if files[n] == "" {
			if err := os.Remove(p); err != nil {
				r.t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(files[n]), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	gitCmd(r.t, r.work, r.env, "add", "-A")
	args := append(append(append([]string{}, r.cfg...), "commit", "-q", "-m", msg), flags...)
	gitCmd(r.t, r.work, r.env, args...)
	gitCmd(r.t, r.work, r.env, "push", "-q", "origin", "HEAD")
	return gitCmd(r.t, r.work, r.env, "rev-parse", "HEAD")
}

// bufLogger logs everything as JSON into a buffer, to grep for secrets.
func bufLogger() (*zap.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	core := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.Lock(zapcore.AddSync(&buf)), zap.DebugLevel)
	return zap.New(core), &buf
}

func mustNew(t *testing.T, spec Spec) *Source {
	t.Helper()
	s, err := New(spec, zap.NewNop())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}
