package main

import (
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/testhost"
)

// The packaging acceptance tests (issue 9): make build gives a static
// binary that knows its version, and the .deb of make deb installs in a
// Debian container, where its unit runs the agent.

// runMake runs make TARGET in the repository root with the variables vars
// and fails the test with its output when it fails.
func runMake(t *testing.T, target string, vars ...string) string {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatal("make is not installed: apt-get install -y make")
	}
	cmd := exec.Command("make", append([]string{"-C", "../..", target}, vars...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make %s %s: %v\n%s", target, strings.Join(vars, " "), err, out)
	}
	return string(out)
}

func TestMakeBuildStaticWithVersion(t *testing.T) {
	dir := t.TempDir()
	runMake(t, "build", "BINDIR="+dir, "VERSION=v9.8.7", "REVISION=0123456789abcdef")
	bin := filepath.Join(dir, "tend")
	out, err := exec.Command(bin, "version").CombinedOutput()
	if got := strings.TrimSpace(string(out)); err != nil || got != "tend v9.8.7 (0123456789abcdef)" {
		t.Errorf("tend version = %q (%v), want %q", got, err, "tend v9.8.7 (0123456789abcdef)")
	}
	// Static: no program interpreter (the dynamic loader) to ask for.
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a PT_INTERP program header: it is dynamically linked", bin)
		}
	}
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" {
		t.Errorf("build settings CGO_ENABLED=%q -trimpath=%q, want 0 and true", settings["CGO_ENABLED"], settings["-trimpath"])
	}
	if bi.Path != "github.com/tendhq/tend/cmd/tend" {
		t.Errorf("main package %q, want github.com/tendhq/tend/cmd/tend (the path go install takes)", bi.Path)
	}
}

func TestDebInstallsAndStartsAgent(t *testing.T) {
	dir := t.TempDir()
	deb := filepath.Join(dir, "tend.deb")
	// nfpm comes from the Go module proxy (cached after the first run).
	runMake(t, "deb", "BINDIR="+dir, "DEB="+deb)
	if out, err := exec.Command("dpkg-deb", "-c", deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -c %s: %v\n%s", deb, err, out)
	} else {
		for _, want := range []string{"./usr/bin/tend", "./lib/systemd/system/tend-agent.service", "-rw------- root/root", "./etc/tend/agent.hcl",
			"./usr/share/bash-completion/completions/tend", "./usr/share/zsh/vendor-completions/_tend", "./usr/share/fish/vendor_completions.d/tend.fish"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("the package lacks %q:\n%s", want, out)
			}
		}
	}

	h := testhost.Boot(t, 1)[0]
	// Not /tmp: the container mounts a tmpfs over it.
	copyInto(t, h, deb, "/root/tend.deb", 0o644)
	out, errOut, err := h.Run("dpkg", "-i", "/root/tend.deb")
	if err != nil {
		t.Fatalf("dpkg -i: %v\n%s%s", err, out, errOut)
	}
	t.Logf("dpkg -i:\n%s%s", out, errOut)
	if !strings.Contains(errOut, "tend: the agent is not started: fill in /etc/tend/agent.hcl") {
		t.Errorf("postinst does not say the agent waits for its configuration:\n%s", errOut)
	}
	if conf := h.Exec(t, "cat", "/var/lib/dpkg/info/tend.conffiles"); !strings.Contains(conf, "/etc/tend/agent.hcl") {
		t.Errorf("/etc/tend/agent.hcl is not a conffile: %q", conf)
	}
	if v := h.Exec(t, "tend", "version"); !strings.HasPrefix(v, "tend ") {
		t.Errorf("tend version in the container: %q", v)
	}
	// The shipped agent.hcl is not configured: the unit is known, but
	// neither enabled nor started.
	if en, _, _ := h.Run("systemctl", "is-enabled", "tend-agent"); strings.TrimSpace(en) != "disabled" {
		t.Errorf("tend-agent is %q after installing with the starter agent.hcl, want disabled", strings.TrimSpace(en))
	}
	if act, _, _ := h.Run("systemctl", "is-active", "tend-agent"); strings.TrimSpace(act) == "active" {
		t.Errorf("tend-agent is active with the starter agent.hcl")
	}
	if mode := strings.TrimSpace(h.Exec(t, "stat", "-c", "%a", "/etc/tend/agent.hcl")); mode != "600" {
		t.Errorf("/etc/tend/agent.hcl has mode %s, want 600", mode)
	}

	// Configured with a valid agent.hcl, the unit starts the agent, which
	// answers its health check and converges the container.
	gitDir := t.TempDir()
	repo := newGitopsRepo(t, gitDir)
	files := appSpec(t, "v3.0.0")
	files["inventory/hosts.hcl"] = pullInventory(h)
	repo.commit(files, "deb: app v3.0.0")
	git := startGitHTTP(t, gitDir, "127.0.0.1:0")
	writeFile(t, filepath.Join(h.Root, "etc/tend/agent.hcl"), pullConfig("http://"+git.addr+"/infra.git", h.AppPort))
	h.Exec(t, "systemctl", "start", "tend-agent")
	waitUntil(t, "tend-agent active", 60*time.Second, func() (bool, string) {
		act, _, _ := h.Run("systemctl", "is-active", "tend-agent")
		return strings.TrimSpace(act) == "active", "is-active: " + strings.TrimSpace(act)
	}, func() string { return journal(h) })
	health := fmt.Sprintf("http://127.0.0.1:%d/api/v1/healthz", h.AppPort)
	waitUntil(t, "the agent's healthz", 60*time.Second, func() (bool, string) {
		code, body, err := fetchURL(health)
		return err == nil && code == http.StatusOK, fmt.Sprintf("GET %s: %d %q %v", health, code, body, err)
	}, func() string { return journal(h) })
	waitUntil(t, "the packaged agent converged its host", 120*time.Second, func() (bool, string) {
		return fileIn(h, appFile, appContent("v3.0.0"))
	}, func() string { return journal(h) })
	if user := strings.TrimSpace(h.Exec(t, "systemctl", "show", "-p", "User", "--value", "tend-agent")); user != "root" {
		t.Errorf("the unit runs as %q, want root", user)
	}

	// Removing the package stops the agent and keeps the configuration.
	h.Exec(t, "dpkg", "-r", "tend")
	if act, _, _ := h.Run("systemctl", "is-active", "tend-agent"); strings.TrimSpace(act) == "active" {
		t.Errorf("tend-agent still active after dpkg -r")
	}
	if _, err := os.Stat(filepath.Join(h.Root, "usr/bin/tend")); err == nil {
		t.Errorf("/usr/bin/tend is still there after dpkg -r")
	}
	if _, err := os.Stat(filepath.Join(h.Root, "etc/tend/agent.hcl")); err != nil {
		t.Errorf("dpkg -r removed the configuration: %v", err)
	}
}
