package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/sshtest"
)

// gitRepo makes a bare repository (HEAD main) holding files, committed with
// a hermetic git CLI, and returns its path and the commit hash.
func gitRepo(t *testing.T, files map[string]string) (bare, hash string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is missing: apt-get install -y git")
	}
	dir := t.TempDir()
	bare, work := filepath.Join(dir, "specs.git"), filepath.Join(dir, "work")
	env := append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Ada", "GIT_AUTHOR_EMAIL=ada@example.test",
		"GIT_COMMITTER_NAME=Ada", "GIT_COMMITTER_EMAIL=ada@example.test")
	git := func(dir string, args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git(dir, "init", "-q", "--bare", "-b", "main", bare)
	git(dir, "init", "-q", "-b", "main", work)
	for name, content := range files {
		writeFile(t, filepath.Join(work, name), content)
	}
	git(work, "add", "-A")
	git(work, "commit", "-q", "-m", "specs")
	git(work, "push", "-q", bare, "main")
	return bare, git(work, "rev-parse", "HEAD")
}

func TestRepoPlanFromGit(t *testing.T) {
	bare, hash := gitRepo(t, map[string]string{
		"README.md": "specs live under specs/\n",
		"specs/main.hcl": `variable "root" {
  type = string
}

role "all" {
  hosts = ["*"]

  file "motd" {
    path    = "${var.root}/motd"
    content = templatefile("templates/motd.tmpl", { who = "git" })
  }
}
`,
		"specs/templates/motd.tmpl": "hello from ${who}\n",
	})
	root := t.TempDir()
	args := []string{"plan", "--local", "--repo", "file://" + bare, "--ref", "main", "--path", "specs", "--var=root=" + root}

	r := tend(t, append(args, "-o", "json")...)
	if r.code != 0 {
		t.Fatalf("plan -o json:\n%s", r)
	}
	var out struct {
		Revision string `json:"revision"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("decode plan: %v\n%s", err, r.stdout)
	}
	if want := "main@sha1:" + hash; out.Revision != want {
		t.Fatalf("revision = %q, want %q", out.Revision, want)
	}
	if !strings.Contains(r.stdout, filepath.Join(root, "motd")) || !strings.Contains(r.stdout, "hello from git") {
		t.Fatalf("the plan does not create the repo's file from its template:\n%s", r.stdout)
	}

	// Text output plans one file to create.
	r = tend(t, args...)
	if r.code != 0 || !strings.Contains(r.stdout, "1 to create") {
		t.Fatalf("plan:\n%s", r)
	}
	// A bad ref fails before any host is contacted, naming the ref.
	r = tend(t, "plan", "--local", "--repo", "file://"+bare, "--ref", "nope", "--path", "specs", "--var=root="+root)
	if r.code != 1 || !strings.Contains(r.stderr, `"nope"`) {
		t.Fatalf("bad ref:\n%s", r)
	}
	if _, err := os.Stat(filepath.Join(root, "motd")); !os.IsNotExist(err) {
		t.Fatalf("plan wrote the file: %v", err)
	}
}

// TestRepoOverSSH: --repo over ssh with --repo-ssh-key and
// --repo-known-hosts; a server missing from known_hosts is refused.
func TestRepoOverSSH(t *testing.T) {
	bare, hash := gitRepo(t, map[string]string{
		"main.hcl": "role \"all\" {\n  hosts = [\"*\"]\n  file \"x\" {\n    path    = \"/nonexistent-tend-repo-test/x\"\n    content = \"x\"\n  }\n}\n",
	})
	srv := sshtest.Start(t, 1)[0]
	url := fmt.Sprintf("ssh://root@127.0.0.1:%d%s", srv.Port, bare)
	r := tend(t, "plan", "--local", "-o", "json", "--repo", url, "--repo-ssh-key", srv.ClientKeyFile, "--repo-known-hosts", srv.KnownHostsFile)
	if r.code != 0 || !strings.Contains(r.stdout, `"revision": "main@sha1:`+hash) {
		t.Fatalf("plan over ssh:\n%s", r)
	}
	empty := filepath.Join(t.TempDir(), "known_hosts")
	writeFile(t, empty, "")
	r = tend(t, "plan", "--local", "--repo", url, "--repo-ssh-key", srv.ClientKeyFile, "--repo-known-hosts", empty)
	if r.code != 1 {
		t.Fatalf("an unknown server key was accepted:\n%s", r)
	}
}
