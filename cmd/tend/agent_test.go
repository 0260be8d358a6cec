package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// agentGit runs the git CLI in a hermetic environment.
func agentGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is not installed: apt-get install -y git")
	}
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Alice", "GIT_AUTHOR_EMAIL=alice@example.com",
		"GIT_COMMITTER_NAME=Alice", "GIT_COMMITTER_EMAIL=alice@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// TestAgentCommand runs `tend agent -c agent.hcl --local` against a Git
// repository and drives it with the client commands: status, sync,
// history, pause, resume and rollback; it also checks the token rules and
// the exit statuses.
func TestAgentCommand(t *testing.T) {
	dir := t.TempDir()
	bare, work, root := filepath.Join(dir, "infra.git"), filepath.Join(dir, "work"), filepath.Join(dir, "root")
	agentGit(t, dir, "init", "-q", "--bare", "-b", "main", bare)
	agentGit(t, dir, "clone", "-q", bare, work)
	name := fmt.Sprintf("tend-agent-test-%d", os.Getpid())
	writeFile(t, filepath.Join(work, "specs/inventory/hosts.hcl"), fmt.Sprintf("host %q {\n  address = \"localhost\"\n  vars = { root = %q }\n}\n", name, root))
	commit := func(content, msg string) string {
		writeFile(t, filepath.Join(work, "specs/main.hcl"), fmt.Sprintf("role \"web\" {\n  hosts = [\"*\"]\n  file \"a\" {\n    path    = \"${host.vars.root}/a\"\n    content = %q\n  }\n}\n", content))
		agentGit(t, work, "add", "-A")
		agentGit(t, work, "commit", "-q", "-m", msg)
		agentGit(t, work, "push", "-q", "origin", "HEAD:main")
		return agentGit(t, work, "rev-parse", "HEAD")
	}
	first := commit("v1\n", "first")
	addr := freePort(t)
	cfg := filepath.Join(dir, "agent.hcl")
	writeFile(t, cfg, fmt.Sprintf(`source {
  url  = "file://%s"
  ref  = "main"
  path = "specs"
}
inventory     = "inventory"
poll_interval = "100ms"
listen        = %q
data_dir      = %q
state_dir     = %q
token "ops" {
  secret = "ops-secret-1"
}
token "viewer" {
  secret    = "viewer-secret-1"
  read_only = true
}
`, bare, addr, filepath.Join(dir, "data"), testStateDir(t)))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logs bytes.Buffer
	go func() {
		root := newRoot()
		root.SetArgs([]string{"agent", "-c", cfg, "--local", "--host", name, "--log-level", "error"})
		root.SetOut(&logs)
		root.SetErr(&logs)
		done <- root.ExecuteContext(ctx)
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("agent: %v\n%s", err, logs.String())
			}
		}
	}
	t.Cleanup(stop)
	server := "--server=http://" + addr
	ops := []string{server, "--token", "ops-secret-1"}
	content := func() string { b, _ := os.ReadFile(filepath.Join(root, "a")); return string(b) }
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s\n%s", what, logs.String())
			}
		}
	}
	wait("OutOfSync", func() bool {
		r := tend(t, append([]string{"status"}, ops...)...)
		return r.code == 0 && strings.Contains(r.stdout, "OutOfSync") && strings.Contains(r.stdout, "new revision")
	})

	if r := tend(t, "status", server); r.code != 1 || !strings.Contains(r.stderr, "401") {
		t.Fatalf("status without a token:\n%s", r)
	}
	t.Setenv("TEND_TOKEN", "viewer-secret-1")
	if r := tend(t, "status", server); r.code != 0 || !strings.Contains(r.stdout, "Source:  file://") {
		t.Fatalf("status with $TEND_TOKEN:\n%s", r)
	}
	if r := tend(t, "sync", server); r.code != 1 || !strings.Contains(r.stderr, "403") || content() != "" {
		t.Fatalf("sync with a read-only token:\n%s", r)
	}
	if r := tend(t, append([]string{"sync", "--host", "nope"}, ops...)...); r.code != 1 || !strings.Contains(r.stderr, "nope") {
		t.Fatalf("sync of an unknown host:\n%s", r)
	}
	r := tend(t, append([]string{"sync", "--role", "web"}, ops...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "Sync 1 of main@sha1:"+first[:12]+" (manual) succeeded.") || content() != "v1\n" {
		t.Fatalf("sync:\n%s", r)
	}
	if r = tend(t, append([]string{"status"}, ops...)...); !strings.Contains(r.stdout, "Synced") {
		t.Fatalf("status after sync:\n%s", r)
	}
	commit("v2\n", "second")
	wait("OutOfSync at the second commit", func() bool {
		return strings.Contains(tend(t, append([]string{"status"}, ops...)...).stdout, "new revision")
	})
	if r = tend(t, append([]string{"sync"}, ops...)...); r.code != 0 || content() != "v2\n" {
		t.Fatalf("second sync:\n%s", r)
	}
	r = tend(t, append([]string{"history", "--limit", "5"}, ops...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "Alice <alice@example.com>") || !strings.Contains(r.stdout, "first") ||
		!strings.Contains(r.stdout, "second") || !strings.Contains(r.stdout, "ops") || strings.Count(r.stdout, "succeeded") != 2 {
		t.Fatalf("history:\n%s", r)
	}
	if r = tend(t, append([]string{"agent", "pause", "web"}, ops...)...); r.code != 0 || !strings.Contains(r.stdout, "Paused roles: web") {
		t.Fatalf("pause:\n%s", r)
	}
	if r = tend(t, append([]string{"agent", "resume"}, ops...)...); r.code != 0 || !strings.Contains(r.stdout, "Paused roles: none") {
		t.Fatalf("resume:\n%s", r)
	}
	r = tend(t, append([]string{"rollback", "1"}, ops...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "(rollback) succeeded") || !strings.Contains(r.stdout, "Auto-sync paused for web") || content() != "v1\n" {
		t.Fatalf("rollback:\n%s", r)
	}
	if r = tend(t, append([]string{"status"}, ops...)...); !strings.Contains(r.stdout, "rollback") || !strings.Contains(r.stdout, "Paused:  web") {
		t.Fatalf("status after rollback:\n%s", r)
	}
	if r = tend(t, append([]string{"rollback", "99"}, ops...)...); r.code != 1 {
		t.Fatalf("rollback to a missing entry:\n%s", r)
	}

	// Shutdown: the API goes away and the agent returns without error.
	stop()
	if _, err := http.Get("http://" + addr + "/api/v1/healthz"); err == nil {
		t.Fatal("the API still answers after shutdown")
	}
	if r = tend(t, append([]string{"status"}, ops...)...); r.code != 1 {
		t.Fatalf("status of a stopped agent:\n%s", r)
	}
}

// TestAgentCommandBadConfig: configuration errors are printed with their
// position and exit 1.
func TestAgentCommandBadConfig(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "agent.hcl")
	writeFile(t, cfg, "source {\n  url = \"file:///nowhere\"\n}\ninventory = \"i\"\npoll_interval = \"often\"\n")
	r := tend(t, "agent", "-c", cfg)
	if r.code != 1 || !strings.Contains(r.stderr, "Invalid duration") || !strings.Contains(r.stderr, "agent.hcl:5") {
		t.Fatalf("bad config:\n%s", r)
	}
}
