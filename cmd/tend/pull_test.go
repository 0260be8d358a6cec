package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/testhost"
)

// The pull-mode acceptance test (issue 9): a Debian container runs
// `tend agent --local` under systemd, set up by `tend install-agent`, from a
// Git repository served on 127.0.0.1; it converges itself, follows a new
// commit, and its /metrics count the syncs.

// buildStatic builds the tend binary as make build does (no cgo, so that
// it runs in the containers whatever their libc) into dir.
func buildStatic(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "tend")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/tend")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/tend: %v\n%s", err, out)
	}
	return bin
}

// copyInto copies the file src to path inside the host's root file system
// with mode perm.
func copyInto(t *testing.T, h *testhost.Host, src, path string, perm os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dst := filepath.Join(h.Root, path)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatalf("copy %s into %s:%s: %v", src, h.Name, path, err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// pullInventory is the repository's inventory for a pull-mode host: the
// host itself and one that must never be contacted (its address is in
// TEST-NET-1, and pull mode converges only its own host).
func pullInventory(h *testhost.Host) string {
	return fmt.Sprintf("host %q {\n  address = \"127.0.0.1\"\n}\n\nhost \"elsewhere\" {\n  address = \"192.0.2.1\"\n}\n", h.Name)
}

// pullConfig is the agent.hcl of a pull-mode host: the repository at url,
// the inventory in it, a fast poll, the API on 127.0.0.1:port.
func pullConfig(url string, port int) string {
	return fmt.Sprintf(`source {
  url = %q
  ref = "main"
}
inventory      = "inventory"
poll_interval  = "500ms"
drift_interval = "1h"
sync_policy    = "auto"
listen         = "127.0.0.1:%d"
data_dir       = "/var/lib/tend-agent"
state_dir      = "/var/lib/tend"
token "ops" {
  secret = %q
}
`, url, port, gitopsToken)
}

// waitUntil polls cond every 200ms until it holds, failing the test with
// its last detail and the describe output after timeout.
func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() (bool, string), describe func() string) {
	t.Helper()
	start := time.Now()
	for {
		ok, detail := cond()
		if ok {
			t.Logf("%s after %s", what, time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > timeout {
			t.Fatalf("timed out after %s waiting for %s; last: %s\n%s", timeout, what, detail, describe())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// journal returns the tail of the tend-agent unit's journal in h.
func journal(h *testhost.Host) string {
	out, errOut, err := h.Run("journalctl", "-u", "tend-agent", "--no-pager", "-n", "60")
	return fmt.Sprintf("journal of tend-agent on %s (%v):\n%s%s", h.Name, err, out, errOut)
}

// fetchURL returns the status code and body of GET url (one second timeout).
func fetchURL(url string) (int, string, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// metricSum adds the values of the samples of metric in a Prometheus text
// exposition whose labels include every one of labels (`result="x"`).
func metricSum(text, metric string, labels ...string) float64 {
	sum := 0.0
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, metric+"{") && !strings.HasPrefix(line, metric+" ") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		fields := strings.Fields(line)
		if v, err := strconv.ParseFloat(fields[len(fields)-1], 64); ok && err == nil {
			sum += v
		}
	}
	return sum
}

// fileIn reports whether path in h holds content.
func fileIn(h *testhost.Host, path, content string) (bool, string) {
	out, _, err := h.Run("cat", path)
	return err == nil && out == content, fmt.Sprintf("%s:%s = %q (%v)", h.Name, path, out, err)
}

func TestPullModeAgentInContainer(t *testing.T) {
	bin := buildStatic(t, t.TempDir())
	h := testhost.Boot(t, 1)[0]
	dir := t.TempDir()
	repo := newGitopsRepo(t, dir)
	files := appSpec(t, "v1.0.0")
	files["inventory/hosts.hcl"] = pullInventory(h)
	repo.commit(files, "pull mode: app v1.0.0")
	git := startGitHTTP(t, dir, "127.0.0.1:0")
	// The container shares this machine's network: 127.0.0.1 is the same.
	url := "http://" + git.addr + "/infra.git"
	api := fmt.Sprintf("http://127.0.0.1:%d", h.AppPort)

	copyInto(t, h, bin, "/usr/local/bin/tend", 0o755)
	if err := os.MkdirAll(filepath.Join(h.Root, "etc/tend"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(h.Root, "etc/tend/agent.hcl"), pullConfig(url, h.AppPort))
	if got := strings.TrimSpace(h.Exec(t, "hostname")); got != h.Name {
		t.Fatalf("the container's host name is %q, want %q (pull mode selects the host by it)", got, h.Name)
	}

	// The dry run changes nothing; the real one writes the unit, enables
	// and starts it, since the configuration is valid.
	dry := h.Exec(t, "/usr/local/bin/tend", "install-agent", "--dry-run")
	if !strings.Contains(dry, "systemctl restart tend-agent.service") {
		t.Fatalf("install-agent --dry-run does not plan a start:\n%s", dry)
	}
	if _, _, err := h.Run("test", "-e", "/etc/systemd/system/tend-agent.service"); err == nil {
		t.Fatalf("install-agent --dry-run wrote the unit")
	}
	out := h.Exec(t, "/usr/local/bin/tend", "install-agent")
	t.Logf("tend install-agent:\n%s", out)
	unit := h.Exec(t, "cat", "/etc/systemd/system/tend-agent.service")
	if !strings.Contains(unit, "ExecStart=/usr/local/bin/tend agent --local -c /etc/tend/agent.hcl") {
		t.Fatalf("the installed unit does not run this binary in pull mode:\n%s", unit)
	}
	if en, _, _ := h.Run("systemctl", "is-enabled", "tend-agent"); strings.TrimSpace(en) != "enabled" {
		t.Errorf("tend-agent is %q after install-agent, want enabled", strings.TrimSpace(en))
	}

	// Converged from the repository: the file appears with its content.
	waitUntil(t, "the agent converged its own host", 120*time.Second, func() (bool, string) {
		return fileIn(h, appFile, appContent("v1.0.0"))
	}, func() string { return journal(h) })

	// A new commit reaches it by polling.
	files = appSpec(t, "v2.0.0")
	files["inventory/hosts.hcl"] = pullInventory(h)
	rev2 := repo.commit(files, "pull mode: app v2.0.0")
	waitUntil(t, "the second commit applied", 60*time.Second, func() (bool, string) {
		return fileIn(h, appFile, appContent("v2.0.0"))
	}, func() string { return journal(h) })

	// Status: only this host, Synced at the second commit; "elsewhere" is
	// in the inventory but not this agent's.
	a := &gitopsAgent{t: t, addr: strings.TrimPrefix(api, "http://"), logs: &lockedBuffer{}}
	a.wait("the host Synced at the second commit", 30*time.Second, func() (bool, string) {
		st := a.status()
		ok, d := hostsAre(st, 1, "Synced", "")
		return ok && st.Hosts[0].Name == h.Name && strings.Contains(st.Hosts[0].Applied, rev2[:12]), d
	})

	// The metrics show both syncs.
	var metrics string
	waitUntil(t, "tend_agent_syncs_total{result=\"succeeded\"} >= 2", 30*time.Second, func() (bool, string) {
		code, body, err := fetchURL(api + "/metrics")
		metrics = body
		n := metricSum(body, "tend_agent_syncs_total", `result="succeeded"`)
		return err == nil && code == http.StatusOK && n >= 2, fmt.Sprintf("GET /metrics: %d %v; succeeded syncs %v", code, err, n)
	}, func() string { return tailLines(metrics, 40) + "\n" + journal(h) })
	if n := metricSum(metrics, "tend_agent_hosts", `status="Synced"`); n != 1 {
		t.Errorf("tend_agent_hosts{status=\"Synced\"} = %v, want 1", n)
	}
	if n := metricSum(metrics, "tend_agent_syncs_total", `result="failed"`); n != 0 {
		t.Errorf("tend_agent_syncs_total{result=\"failed\"} = %v, want 0", n)
	}
}

func TestInstallAgentDryRunWritesNothing(t *testing.T) {
	dir := t.TempDir()
	cfg, units := filepath.Join(dir, "etc", "agent.hcl"), filepath.Join(dir, "units")
	r := tend(t, "install-agent", "--dry-run", "--config", cfg, "--unit-dir", units, "--binary", "/opt/tend/bin/tend", "--host", "web-1")
	if r.code != 0 {
		t.Fatalf("install-agent --dry-run:\n%s", r)
	}
	for _, want := range []string{
		"write a starter configuration to " + cfg,
		"write the unit " + filepath.Join(units, "tend-agent.service") + " (ExecStart=/opt/tend/bin/tend agent --local --host web-1 -c " + cfg,
		"systemctl daemon-reload",
		"systemctl enable tend-agent.service",
		"not start the agent: " + cfg + " is not valid yet",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("install-agent --dry-run does not say %q:\n%s", want, r.stdout)
		}
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Errorf("install-agent --dry-run wrote into %s: %v %v", dir, entries, err)
	}
	// A path systemd would split is refused.
	if r := tend(t, "install-agent", "--dry-run", "--config", filepath.Join(dir, "my agent.hcl")); r.code != 1 || !strings.Contains(r.stderr, "white space") {
		t.Errorf("install-agent with a space in --config:\n%s", r)
	}
}

func TestAgentCheckAndSelectionFlags(t *testing.T) {
	// The shipped starter configuration is refused until its source is
	// filled in, so that neither the unit nor the package starts it.
	if r := tend(t, "agent", "--check", "-c", "../../deploy/systemd/agent.hcl"); r.code != 1 || !strings.Contains(r.stderr, "Missing source block") {
		t.Errorf("agent --check on the starter agent.hcl:\n%s", r)
	}
	cfg := filepath.Join(t.TempDir(), "agent.hcl")
	writeFile(t, cfg, pullConfig("https://git.example.com/infra.git", 7070))
	if r := tend(t, "agent", "--check", "-c", cfg); r.code != 0 || !strings.Contains(r.stdout, "is valid") {
		t.Errorf("agent --check on a valid agent.hcl:\n%s", r)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--local", "--shard", "1/2"}, "with --local each host converges itself"},
		{[]string{"--host", "web-1"}, "--host picks this machine's inventory host in pull mode"},
		{[]string{"--shard", "3/2"}, "--shard: parse shard"},
	} {
		r := tend(t, append([]string{"agent", "-c", cfg}, tc.args...)...)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("agent %v: want exit 1 with %q:\n%s", tc.args, tc.want, r)
		}
	}
}
