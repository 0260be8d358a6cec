package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/testhost"
)

// The acceptance test of releases (issue 5): a small HTTP application,
// built here and packaged as v1, v2, a broken v3 and v4, deployed to three
// Debian containers as a systemd service on per-host ports, with a health
// check, a rollout of one host at a time, automatic rollback, `tend release
// rollback`, a wrong sha256 and a connection killed while preparing.

const releaseSpec = `
variable "app_version" {
  type = string
}

variable "artifact_url" {
  type = string
}

variable "sha256" {
  type = string
}

variable "slow" {
  type    = bool
  default = false
}

role "app" {
  hosts = ["*"]

  rollout {
    batch = 1
  }

  user "app" {
    system = true
    home   = "/nonexistent"
    shell  = "/usr/sbin/nologin"
  }

  file "/etc/systemd/system/releaseapp.service" {
    content = <<-EOT
      [Unit]
      Description=tend release test app

      [Service]
      User=app
      WorkingDirectory=/opt/releaseapp/current
      ExecStart=/opt/releaseapp/current/bin/releaseapp -port ${host.vars.app_port}
      Restart=on-failure

      [Install]
      WantedBy=multi-user.target
    EOT
  }

  service "releaseapp" {
    state   = "running"
    enabled = true
  }

  release "releaseapp" {
    version = var.app_version
    artifact {
      url              = var.artifact_url
      sha256           = var.sha256
      strip_components = 1
    }
    path          = "/opt/releaseapp"
    shared        = ["data", "log"]
    keep          = 2
    owner         = "app"
    before_switch = concat([["bin/releaseapp", "migrate"]], var.slow ? [["sleep", "31"]] : [])
    service       = service.releaseapp
    health {
      http     = "http://127.0.0.1:${host.vars.app_port}/healthz"
      timeout  = "8s"
      interval = "250ms"
    }
  }
}
`

// releaseArtifacts builds the test application once and packages it as
// one tar.gz per version (v3 broken: its health check answers 500), served
// from an HTTP server on 127.0.0.1. It returns the server's URL and the
// sha256 of each artifact.
func releaseArtifacts(t *testing.T, versions ...string) (string, map[string]string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "releaseapp")
	build := exec.Command("go", "build", "-o", bin, "./testdata/releaseapp")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the test application: %v\n%s", err, out)
	}
	exe, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	arts, sums := map[string][]byte{}, map[string]string{}
	for _, v := range versions {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		tw := tar.NewWriter(zw)
		files := []struct {
			name string
			mode int64
			body []byte
		}{{"releaseapp-" + v + "/bin/releaseapp", 0o755, exe}, {"releaseapp-" + v + "/VERSION", 0o644, []byte(v + "\n")}}
		if v == "v3" {
			files = append(files, struct {
				name string
				mode int64
				body []byte
			}{"releaseapp-" + v + "/BROKEN", 0o644, []byte("yes\n")})
		}
		for _, f := range files {
			if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.body)), Typeflag: tar.TypeReg, ModTime: time.Now()}); err != nil {
				t.Fatal(err)
			}
			if _, err := tw.Write(f.body); err != nil {
				t.Fatal(err)
			}
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		arts["/releaseapp-"+v+".tar.gz"] = buf.Bytes()
		s := sha256.Sum256(buf.Bytes())
		sums[v] = hex.EncodeToString(s[:])
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := arts[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, sums
}

// versionOf asks the application on h which version it runs.
func versionOf(h *testhost.Host) string {
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/version", h.AppPort))
	if err != nil {
		return "error: " + err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("error: %s %v", resp.Status, err)
	}
	return strings.TrimSpace(string(b))
}

// releasesOn lists /opt/releaseapp/releases on h, and where current points.
func releasesOn(t *testing.T, h *testhost.Host) ([]string, string) {
	t.Helper()
	out := h.Exec(t, "sh", "-c", "ls /opt/releaseapp/releases; echo; readlink /opt/releaseapp/current || true")
	list, cur, _ := strings.Cut(out, "\n\n")
	return strings.Fields(list), strings.TrimSpace(cur)
}

func TestReleases(t *testing.T) {
	hosts := testhost.Boot(t, 3)
	sort.Slice(hosts, func(i, j int) bool { return hosts[i].Name < hosts[j].Name })
	inv := testhost.WriteInventory(t, hosts, "")
	specs := t.TempDir()
	writeFile(t, filepath.Join(specs, "app.hcl"), releaseSpec)
	t.Setenv("TEND_CACHE_DIR", t.TempDir())
	base, sums := releaseArtifacts(t, "v1", "v2", "v3", "v4")
	vars := func(v string, extra ...string) []string {
		return append([]string{specs, "-i", inv, "--var", "app_version=" + v,
			"--var", "artifact_url=" + base + "/releaseapp-" + v + ".tar.gz", "--var", "sha256=" + sums[v]}, extra...)
	}

	// 2. v1 on every host; a second run plans nothing.
	r := tend(t, append([]string{"apply"}, vars("v1")...)...)
	if r.code != 0 {
		t.Fatalf("apply v1:\n%s", r)
	}
	if !strings.Contains(r.stdout, "+ release[releaseapp]: (none) -> v1") {
		t.Errorf("the plan does not show the release:\n%s", r.stdout)
	}
	for _, h := range hosts {
		if v := versionOf(h); v != "v1" {
			t.Errorf("%s answers %q, want v1", h.Name, v)
		}
		h.Exec(t, "sh", "-c", "echo precious > /opt/releaseapp/shared/data/keep.txt")
	}
	if r := tend(t, append([]string{"plan", "--detailed-exitcode"}, vars("v1")...)...); r.code != 0 || !strings.Contains(r.stdout, "No changes.") {
		t.Fatalf("plan after v1 is not empty:\n%s", r)
	}

	// 3. v2 one host at a time; the report has the order and the times.
	r = tend(t, append([]string{"plan"}, vars("v2")...)...)
	for _, want := range []string{"~ release[releaseapp]: v1 -> v2", "upload " + base + "/releaseapp-v2.tar.gz", "run bin/releaseapp migrate in /opt/releaseapp/releases/v2 as app",
		"switch /opt/releaseapp/current -> releases/v2", "restart releaseapp.service", "health: GET http://127.0.0.1:", "Rollout of role app: 3 batches of 1"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the v2 plan lacks %q:\n%s", want, r.stdout)
		}
	}
	r = tend(t, append([]string{"apply", "-o", "json"}, vars("v2")...)...)
	if r.code != 0 {
		t.Fatalf("apply v2:\n%s", r)
	}
	var rep struct {
		Rollouts []struct {
			Batches []struct {
				Hosts      []string `json:"hosts"`
				Status     string   `json:"status"`
				Started    *string  `json:"started"`
				DurationMS int64    `json:"duration_ms"`
			} `json:"batches"`
		} `json:"rollouts"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || len(rep.Rollouts) != 1 || len(rep.Rollouts[0].Batches) != 3 {
		t.Fatalf("the v2 report has no rollout of 3 batches (%v):\n%s", err, r.stdout)
	}
	var prevEnd time.Time
	for i, b := range rep.Rollouts[0].Batches {
		if len(b.Hosts) != 1 || b.Hosts[0] != hosts[i].Name || b.Status != "ok" || b.Started == nil {
			t.Fatalf("batch %d: %+v, want %s ok", i+1, b, hosts[i].Name)
		}
		start, err := time.Parse(time.RFC3339Nano, *b.Started)
		if err != nil {
			t.Fatal(err)
		}
		if start.Before(prevEnd) {
			t.Errorf("batch %d started at %s, before batch %d ended at %s", i+1, start, i, prevEnd)
		}
		prevEnd = start.Add(time.Duration(b.DurationMS) * time.Millisecond)
	}
	for _, h := range hosts {
		if v := versionOf(h); v != "v2" {
			t.Errorf("%s answers %q, want v2", h.Name, v)
		}
		if got := h.Exec(t, "cat", "/opt/releaseapp/shared/data/keep.txt"); got != "precious\n" {
			t.Errorf("%s: the shared file is %q after the switch", h.Name, got)
		}
		if rels, cur := releasesOn(t, h); !slices.Equal(rels, []string{"v1", "v2"}) || cur != "releases/v2" {
			t.Errorf("%s: releases %v, current %q", h.Name, rels, cur)
		}
		if log := h.Exec(t, "cat", "/opt/releaseapp/shared/data/migrations.log"); !strings.Contains(log, "migrated v2 in /opt/releaseapp/releases/v2") {
			t.Errorf("%s: before_switch did not run in the new release:\n%s", h.Name, log)
		}
	}

	// 4. v3 is broken: the first host fails, goes back to v2 by itself;
	// the others are never touched.
	r = tend(t, append([]string{"apply"}, vars("v3")...)...)
	if r.code != 1 {
		t.Fatalf("apply v3 exited %d, want 1:\n%s", r.code, r)
	}
	first := hosts[0].Name
	for _, want := range []string{"host " + first, "release v3 failed", "health check failed", "500 Internal Server Error", "broken release v3: cannot reach its database", "switched back to v2, healthy again",
		hosts[1].Name + "  NOT STARTED", hosts[2].Name + "  NOT STARTED"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the v3 report lacks %q:\n%s", want, r.stdout)
		}
	}
	if v := versionOf(hosts[0]); v != "v2" {
		t.Errorf("%s answers %q after its rollback, want v2", first, v)
	}
	if rels, cur := releasesOn(t, hosts[0]); !slices.Equal(rels, []string{"v1", "v2", "v3"}) || cur != "releases/v2" {
		t.Errorf("%s: releases %v, current %q; want v3 kept and current at v2", first, rels, cur)
	}
	for _, h := range hosts[1:] {
		if rels, cur := releasesOn(t, h); !slices.Equal(rels, []string{"v1", "v2"}) || cur != "releases/v2" {
			t.Errorf("%s was touched: releases %v, current %q", h.Name, rels, cur)
		}
	}

	// 5. A wrong sha256 is refused before any host is touched.
	before := map[string]int{}
	for _, h := range hosts {
		before[h.Name], _ = sshdCounts(t, h)
	}
	bad := append([]string{"apply"}, vars("v4")...)
	bad[len(bad)-1] = "sha256=" + strings.Repeat("0", 64)
	r = tend(t, bad...)
	if r.code != 1 || !strings.Contains(r.stdout+r.stderr, "sha256 is "+sums["v4"]+", the spec says "+strings.Repeat("0", 64)) {
		t.Errorf("a wrong sha256 was not refused:\n%s", r)
	}
	for _, h := range hosts {
		// The count itself logs in once: one more than before.
		if after, _ := sshdCounts(t, h); after != before[h.Name]+1 {
			t.Errorf("%s was contacted (%d connections before, %d after, counting the count's own) despite the wrong sha256", h.Name, before[h.Name], after)
		}
	}

	// 6. tend release rollback: the previous release on every host.
	r = tend(t, append([]string{"release", "rollback", "app/releaseapp", "--state-dir=" + testStateDir(t)}, vars("v2")...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "v2 -> v1 (rollback)") {
		t.Fatalf("release rollback:\n%s", r)
	}
	for _, h := range hosts {
		if v := versionOf(h); v != "v1" {
			t.Errorf("%s answers %q after the rollback, want v1", h.Name, v)
		}
	}

	// 7. The connection dies while v4 is prepared on the first host:
	// current still points at a complete release, the rollout stops; the
	// next run finishes the job.
	done := make(chan result, 1)
	go func() { done <- tend(t, append([]string{"apply"}, vars("v4", "--var", "slow=true")...)...) }()
	killed := false
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline) && !killed; time.Sleep(200 * time.Millisecond) {
		// The session's sshd is the nearest sshd above the before_switch
		// command: killing it drops tend's connection.
		_, _, err := hosts[0].Run("sh", "-c", `p=$(pgrep -xf 'sleep 31') || exit 1
while [ "$p" -gt 1 ]; do
  case $(tr '\0' ' ' < /proc/$p/cmdline) in "sshd: root@notty"*) kill -KILL "$p"; exit 0 ;; esac
  p=$(awk '{print $4}' /proc/$p/stat)
done
exit 1`)
		killed = err == nil
	}
	if !killed {
		t.Fatalf("the before_switch command never ran on %s", first)
	}
	r = <-done
	if r.code != 1 {
		t.Errorf("the interrupted apply exited %d, want 1:\n%s", r.code, r)
	}
	rels, cur := releasesOn(t, hosts[0])
	if cur != "releases/v1" || !slices.Contains(rels, "v4") {
		t.Errorf("%s after the interruption: releases %v, current %q; want current at v1 and an incomplete v4", first, rels, cur)
	}
	if _, _, err := hosts[0].Run("test", "-e", "/opt/releaseapp/releases/v4/.tend-release"); err == nil {
		t.Errorf("%s: the interrupted v4 is marked complete", first)
	}
	if _, _, err := hosts[0].Run("test", "-f", "/opt/releaseapp/releases/v1/.tend-release"); err != nil {
		t.Errorf("%s: current points at an incomplete release", first)
	}
	if v := versionOf(hosts[0]); v != "v1" {
		t.Errorf("%s answers %q after the interruption, want v1", first, v)
	}
	r = tend(t, append([]string{"apply"}, vars("v4")...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "an interrupted preparation") {
		t.Fatalf("apply v4 after the interruption:\n%s", r)
	}
	for _, h := range hosts {
		if v := versionOf(h); v != "v4" {
			t.Errorf("%s answers %q, want v4", h.Name, v)
		}
		if got := h.Exec(t, "cat", "/opt/releaseapp/shared/data/keep.txt"); got != "precious\n" {
			t.Errorf("%s: the shared file is %q", h.Name, got)
		}
	}
	// keep = 2: v4 and the newest good one before it (v2) stay, and the
	// failed v3 on the first host; v1 is removed.
	if rels, _ := releasesOn(t, hosts[0]); !slices.Equal(rels, []string{"v2", "v3", "v4"}) {
		t.Errorf("%s: releases %v, want v2 v3 v4", first, rels)
	}
	for _, h := range hosts[1:] {
		if rels, _ := releasesOn(t, h); !slices.Equal(rels, []string{"v2", "v4"}) {
			t.Errorf("%s: releases %v, want v2 v4", h.Name, rels)
		}
	}
	if r := tend(t, append([]string{"plan", "--detailed-exitcode"}, vars("v4")...)...); r.code != 0 {
		t.Errorf("plan after v4 is not empty:\n%s", r)
	}
}
