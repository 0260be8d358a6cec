package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/agent"
	"github.com/tendhq/tend/internal/testhost"
)

// The acceptance test of the example repository (issue 9): examples/devops-map
// converges three Debian containers (web-1, web-2, db-1) end to end, with
// nginx, PostgreSQL and unattended-upgrades installed by apt inside them, the
// application built by the example's own build script and deployed as a
// release, and its secret decrypted with the example's demo age key.

// exampleDir is the example repository, from cmd/tend.
const exampleDir = "../../examples/devops-map"

// examplePassword is the plaintext of examples/devops-map/secrets/db_password.age:
// no output of tend may contain it.
const examplePassword = "devops-map-demo-password"

// exampleIdentity is the example's demo age key, relative to cmd/tend.
var exampleIdentity = filepath.Join(exampleDir, "demo", "age-demo.key")

// buildExampleApp runs the example's app/build.sh for version into out,
// with artifact URLs under base, and returns the variable file it wrote. A
// missing tool is a failure that says how to install it.
func buildExampleApp(t *testing.T, version, out, base string) string {
	t.Helper()
	for tool, pkg := range map[string]string{"tar": "tar", "gzip": "gzip", "sha256sum": "coreutils", "go": "golang (or Go from go.dev)"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the example's build script needs %s: apt-get install -y %s", tool, pkg)
		}
	}
	cmd := exec.Command("sh", filepath.Join(exampleDir, "app", "build.sh"), version, out)
	cmd.Env = append(os.Environ(), "ARTIFACT_BASE_URL="+base, "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("examples/devops-map/app/build.sh %s: %v\n%s", version, err, b)
	}
	vars := filepath.Join(out, "artifact.hcl")
	for _, want := range []string{`app_version = "` + version + `"`, `app_url     = "` + base + "/devops-map-" + version + `.tar.gz"`, "app_sha256  = "} {
		if got := readFile(t, vars); !strings.Contains(got, want) {
			t.Fatalf("build.sh wrote a variable file without %q:\n%s", want, got)
		}
	}
	return vars
}

// exampleGet fetches http://127.0.0.1:port/path, retrying for a few seconds
// while nothing answers, and returns the status code and body.
func exampleGet(port int, path string) (int, string, error) {
	c := &http.Client{Timeout: 3 * time.Second}
	url := fmt.Sprintf("http://127.0.0.1:%d%s", port, path)
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var resp *http.Response
		if resp, err = c.Get(url); err != nil {
			continue
		}
		b, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if rerr != nil {
			return 0, "", fmt.Errorf("read %s: %w", url, rerr)
		}
		return resp.StatusCode, string(b), nil
	}
	return 0, "", fmt.Errorf("GET %s: %w", url, err)
}

// examplePorts returns n free ports on 127.0.0.1, besides those of the test
// hosts: the containers share this machine's port space.
func examplePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("find a free port: %v", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// exampleInventory writes the inventory of the test environment: the
// example's staging values (vars/staging.hcl), and per-host ports and
// addresses on 127.0.0.1 instead of production's 80, 8080 and 5432.
func exampleInventory(t *testing.T, web1, web2, db *testhost.Host, httpPorts [2]int) string {
	t.Helper()
	staging, err := filepath.Abs(filepath.Join(exampleDir, "environments", "staging", "vars", "staging.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	q := strconv.Quote
	var b strings.Builder
	fmt.Fprintf(&b, `# The example's roles on three test containers; written by example_test.go.
defaults {
  user          = "root"
  identity_file = %s
  known_hosts   = %s
  vars_files    = [%s]
  vars = {
    server_name = "devops-map.test"
    db_host     = "127.0.0.1"
    db_port     = %d
    pg_port     = %d
    pg_listen   = "127.0.0.1"
  }
}

group "web" {
  hosts = ["web-1", "web-2"]
}

group "db" {
  hosts = ["db-1"]
}
`, q(web1.ClientKeyFile), q(web1.KnownHostsFile), q(staging), db.AppPort, db.AppPort)
	for i, h := range []*testhost.Host{web1, web2} {
		fmt.Fprintf(&b, "\nhost \"web-%d\" {\n  address = \"127.0.0.1\"\n  port    = %d\n  vars    = { http_port = %d, app_port = %d }\n}\n",
			i+1, h.Port, httpPorts[i], h.AppPort)
	}
	fmt.Fprintf(&b, "\nhost \"db-1\" {\n  address = \"127.0.0.1\"\n  port    = %d\n}\n", db.Port)
	path := filepath.Join(t.TempDir(), "inventory.hcl")
	writeFile(t, path, b.String())
	return path
}

// noSecret fails the test when r's output holds the example's password.
func noSecret(t *testing.T, what string, r result) {
	t.Helper()
	if strings.Contains(r.stdout, examplePassword) || strings.Contains(r.stderr, examplePassword) {
		t.Errorf("%s prints the decrypted database password:\n%s", what, r)
	}
}

// TestExampleFiles checks the parts of the example repository that need no
// host: both environments validate with the demo key, the agent.hcl
// parses, and the build script makes the same archive twice.
func TestExampleFiles(t *testing.T) {
	for _, env := range []string{"staging", "production"} {
		r := tend(t, "validate", "-i", filepath.Join(exampleDir, "environments", env), "--age-identity", exampleIdentity, exampleDir)
		if r.code != 0 || !strings.Contains(r.stdout, "Success!") {
			t.Errorf("validate %s:\n%s", env, r)
		}
		noSecret(t, "validate "+env, r)
	}

	// agent.hcl, installed as /etc/tend/agent.hcl next to its keys/: the
	// keys it names are made here, the age identity is the demo key.
	etc := t.TempDir()
	writeFile(t, filepath.Join(etc, "agent.hcl"), readFile(t, filepath.Join(exampleDir, "control", "agent.hcl")))
	writeFile(t, filepath.Join(etc, "keys", "age.key"), readFile(t, exampleIdentity))
	writeFile(t, filepath.Join(etc, "keys", "known_hosts"), "")
	for _, name := range []string{"alice", "bob"} {
		_, line := newKey(t, name+"@example.com")
		writeFile(t, filepath.Join(etc, "keys", name+".pub"), line+"\n")
	}
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(etc, "keys", "deploy")).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen (apt-get install -y openssh-client): %v\n%s", err, out)
	}
	cfg, _, diags := agent.LoadConfig(filepath.Join(etc, "agent.hcl"))
	if diags.HasErrors() || cfg == nil {
		t.Fatalf("examples/devops-map/control/agent.hcl: %v", diags)
	}
	if cfg.Inventory != "environments/production" || cfg.Policy != agent.PolicyAuto || len(cfg.AgeIdentities) != 1 || len(cfg.Tokens) != 2 {
		t.Errorf("agent.hcl decoded to inventory %q, policy %q, %d identities, %d tokens",
			cfg.Inventory, cfg.Policy, len(cfg.AgeIdentities), len(cfg.Tokens))
	}
	if _, err := os.Stat(filepath.Join(exampleDir, cfg.Inventory)); err != nil {
		t.Errorf("agent.hcl's inventory is not in the example: %v", err)
	}

	// The build is reproducible: the sha256 a pipeline commits is the one
	// anybody gets from the same source and toolchain.
	a, b := t.TempDir(), t.TempDir()
	va := readFile(t, buildExampleApp(t, "9.9.9", a, "http://127.0.0.1:8000"))
	vb := readFile(t, buildExampleApp(t, "9.9.9", b, "http://127.0.0.1:8000"))
	if va != vb {
		t.Errorf("two builds of one version differ:\n%s\n%s", va, vb)
	}
}

// TestExampleDevopsMap converges the example repository on web-1, web-2 and
// db-1 and checks what a user would: the app answers through nginx, the app's
// database URL logs in to PostgreSQL, sshd runs with the hardening drop-in and
// takes an admin's key, unattended upgrades are configured; then nothing is
// left to change, a new release rolls out host by host, and nothing is left
// to change again.
func TestExampleDevopsMap(t *testing.T) {
	hosts := testhost.Boot(t, 3)
	web1, web2, db := hosts[0], hosts[1], hosts[2]
	// PostgreSQL, and unattended-upgrades waiting for apt, can make a
	// container's shutdown outlast the harness's 10 s: stop the services
	// the example installed before the hosts are torn down (cleanups run
	// last-registered first, so this runs before Boot's).
	t.Cleanup(func() {
		for h, units := range map[*testhost.Host][]string{web1: {"devops-map", "nginx"}, web2: {"devops-map", "nginx"}, db: {"postgresql"}} {
			argv := append([]string{"timeout", "60", "systemctl", "stop"}, append(units, "unattended-upgrades", "apt-daily.service", "apt-daily-upgrade.service")...)
			if _, stderr, err := h.Run(argv...); err != nil {
				t.Logf("%s: stop the example's services: %v %s", h.Name, err, stderr)
			}
		}
	})
	hp := examplePorts(t, 2)
	httpPorts := [2]int{hp[0], hp[1]}
	inv := exampleInventory(t, web1, web2, db, httpPorts)

	// The artifacts are served on 127.0.0.1, as an artifact store would
	// serve them; tend fetches them here and streams them over SSH.
	dist := t.TempDir()
	srv := httptest.NewServer(http.FileServer(http.Dir(dist)))
	t.Cleanup(srv.Close)
	t.Setenv("TEND_CACHE_DIR", t.TempDir())

	// The test's own values, over staging's: an admin whose key the test
	// holds, and root logins with keys kept (tend logs in as root here).
	signer, line := newKey(t, "carol@devops-map.test")
	testVars := filepath.Join(t.TempDir(), "test.hcl")
	writeFile(t, testVars, fmt.Sprintf("admins = { carol = [%q] }\nssh_permit_root_login = \"prohibit-password\"\n", line))
	built := map[string]string{} // version -> its variable file
	args := func(cmd, version string, extra ...string) []string {
		if built[version] == "" {
			built[version] = buildExampleApp(t, version, filepath.Join(dist, version), srv.URL+"/"+version)
		}
		a := []string{cmd, "-i", inv, "--age-identity", exampleIdentity,
			"--var-file", built[version], "--var-file", testVars}
		return append(append(a, extra...), exampleDir)
	}

	// First plan: everything is to be created; the sensitive parts show as
	// such and the password nowhere.
	r := tend(t, args("plan", "1.0.0", "--detailed-exitcode")...)
	noSecret(t, "the first plan", r)
	if r.code != 2 {
		t.Fatalf("first plan: exit %d, want 2\n%s", r.code, r)
	}
	for _, want := range []string{"host web-1", "host db-1", "+ package[nginx]", "+ package[postgresql]", "+ package[unattended-upgrades]",
		"+ release[devops-map]: (none) -> 1.0.0", "~ exec[app-database]", "(sensitive value)", "Rollout of role web: 2 batches of 1"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the first plan lacks %q:\n%s", want, r.stdout)
		}
	}

	r = tend(t, args("apply", "1.0.0")...)
	noSecret(t, "the first apply", r)
	if r.code != 0 {
		t.Fatalf("first apply:\n%s", r)
	}

	checkExample(t, web1, web2, db, httpPorts, "1.0.0")
	if _, err := login(web1, "carol", signer); err != nil {
		t.Errorf("web-1: the admin carol cannot log in with her key: %v", err)
	}
	if who, err := login(db, "carol", signer); err != nil || who != "carol" {
		t.Errorf("db-1: login as carol = %q, %v", who, err)
	}
	if out, stderr, err := db.Run("runuser", "-u", "carol", "--", "sudo", "-n", "true"); err != nil {
		t.Errorf("db-1: carol has no passwordless sudo: %v %s %s", err, out, stderr)
	}

	// Converged: nothing to change anywhere.
	r = tend(t, args("plan", "1.0.0", "--detailed-exitcode")...)
	noSecret(t, "the second plan", r)
	if r.code != 0 || !strings.Contains(r.stdout, "No changes. 3 hosts are converged.") {
		t.Fatalf("plan after apply: exit %d, want 0 and no changes\n%s", r.code, r)
	}

	// A new release: built, planned as one change per web host, rolled out
	// one host after the other, migrated, and served through nginx.
	r = tend(t, args("apply", "1.1.0")...)
	noSecret(t, "the apply of 1.1.0", r)
	if r.code != 0 || !strings.Contains(r.stdout, "~ release[devops-map]: 1.0.0 -> 1.1.0") {
		t.Fatalf("apply of 1.1.0:\n%s", r)
	}
	if strings.Contains(r.stdout, "host db-1") {
		t.Errorf("a new release of the app changed db-1:\n%s", r.stdout)
	}
	checkExample(t, web1, web2, db, httpPorts, "1.1.0")
	r = tend(t, args("plan", "1.1.0", "--detailed-exitcode")...)
	if r.code != 0 {
		t.Fatalf("plan after the release of 1.1.0: exit %d, want 0\n%s", r.code, r)
	}
}

// checkExample checks the converged example on its three hosts, with
// version running on the web hosts.
func checkExample(t *testing.T, web1, web2, db *testhost.Host, httpPorts [2]int, version string) {
	t.Helper()
	for i, h := range []*testhost.Host{web1, web2} {
		name := fmt.Sprintf("web-%d", i+1)
		// nginx proxies to the app: /version through nginx's port.
		if code, body, err := exampleGet(httpPorts[i], "/version"); err != nil || code != 200 || body != version+"\n" {
			t.Errorf("%s: GET /version through nginx on port %d = %d %q, %v; want 200 %q", name, httpPorts[i], code, body, err, version)
		}
		if _, body, err := exampleGet(httpPorts[i], "/"); err != nil || body != fmt.Sprintf("devops-map %s on %s (database configured: true)\n", version, name) {
			t.Errorf("%s: GET / through nginx = %q, %v", name, body, err)
		}
		if out := h.Exec(t, "nginx", "-T"); strings.Contains(out, "listen 80") || !strings.Contains(out, fmt.Sprintf("listen %d default_server;", httpPorts[i])) {
			t.Errorf("%s: nginx does not listen on its own port only:\n%s", name, out)
		}
		if got := h.Exec(t, "readlink", "/opt/devops-map/current"); got != "releases/"+version+"\n" && got != "/opt/devops-map/releases/"+version+"\n" {
			t.Errorf("%s: current -> %q, want releases/%s", name, got, version)
		}
		if got := h.Exec(t, "cat", "/opt/devops-map/shared/data/schema_version"); got != "3\n" {
			t.Errorf("%s: the migration did not run: schema_version %q", name, got)
		}
		for _, unit := range []string{"nginx", "devops-map"} {
			if out, _, err := h.Run("systemctl", "is-active", unit); err != nil || out != "active\n" {
				t.Errorf("%s: %s is %q (%v)", name, unit, out, err)
			}
		}
		if got := h.Exec(t, "stat", "-c", "%a %U %G", "/etc/devops-map/env"); got != "640 root devops-map\n" {
			t.Errorf("%s: /etc/devops-map/env is %q, want 640 root devops-map", name, got)
		}
	}

	// The app's configured database URL logs in to PostgreSQL as its role,
	// on db-1's own port: the secret, the role, the database, pg_hba and
	// the conf.d drop-in all agree.
	env := web1.Exec(t, "cat", "/etc/devops-map/env")
	var dbURL string
	for _, l := range strings.Split(env, "\n") {
		if v, ok := strings.CutPrefix(l, "DEVOPS_MAP_DATABASE_URL="); ok {
			dbURL = v
		}
	}
	if !strings.Contains(dbURL, examplePassword) || !strings.Contains(dbURL, fmt.Sprintf("@127.0.0.1:%d/devops_map", db.AppPort)) {
		t.Errorf("web-1: the database URL is %q", dbURL)
	}
	if got, stderr, err := db.Run("psql", dbURL, "-tAc", "select current_user || ' ' || current_database() || ' ' || 1"); err != nil || got != "devops_map devops_map 1\n" {
		t.Errorf("db-1: psql as the app's role: %q, %v\n%s", got, err, stderr)
	}
	if got := db.Exec(t, "runuser", "-u", "postgres", "--", "psql", "-p", strconv.Itoa(db.AppPort), "-tAc", "show port"); got != strconv.Itoa(db.AppPort)+"\n" {
		t.Errorf("db-1: postgres listens on port %q, want %d", got, db.AppPort)
	}

	for _, h := range []*testhost.Host{web1, web2, db} {
		// sshd runs with the drop-in (and still takes this test's root key,
		// since Exec logs in again).
		cfg := h.Exec(t, "sshd", "-T")
		for _, want := range []string{"passwordauthentication no", "permitrootlogin without-password", "x11forwarding no", "maxauthtries 4"} {
			if !strings.Contains(cfg, want+"\n") {
				t.Errorf("%s: sshd -T lacks %q", h.Name, want)
			}
		}
		if out, _, err := h.Run("systemctl", "is-active", "ssh"); err != nil || out != "active\n" {
			t.Errorf("%s: ssh is %q (%v)", h.Name, out, err)
		}
		// Unattended upgrades: installed and switched on.
		if got := h.Exec(t, "dpkg-query", "-W", "-f", "${Status}", "unattended-upgrades"); got != "install ok installed" {
			t.Errorf("%s: unattended-upgrades is %q", h.Name, got)
		}
		apt := h.Exec(t, "apt-config", "dump")
		for _, want := range []string{`APT::Periodic::Unattended-Upgrade "1";`, `APT::Periodic::Update-Package-Lists "1";`, `Unattended-Upgrade::Automatic-Reboot "false";`} {
			if !strings.Contains(apt, want) {
				t.Errorf("%s: apt-config dump lacks %s", h.Name, want)
			}
		}
	}
}
