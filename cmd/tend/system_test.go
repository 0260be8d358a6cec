package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/tendhq/tend/internal/testhost"
)

// The acceptance tests of the system resources (packages, services, users,
// exec, notifications, prune, facts), run through the CLI against Debian
// containers booted with systemd. Their specs are in testdata/e2e/system.

const systemSpecs = "../../testdata/e2e/system"

// journalPath is where tend journals the notifications a run has not
// delivered yet: in the test's state directory (see testStateDir), named
// after the host.
func journalPath(t *testing.T, host string) string {
	return testStateDir(t) + "/pending-notifications." + host
}

// hostNames returns the names of hosts as HCL string literals.
func hostNames(hosts []*testhost.Host) string {
	var names []string
	for _, h := range hosts {
		names = append(names, strconv.Quote(h.Name))
	}
	return strings.Join(names, ", ")
}

// webGroups returns inventory groups for the nginx spec: "blue" and "green"
// (the children of "web"), each with its banner.
func webGroups(blue, green []*testhost.Host, blueBanner, greenBanner string) string {
	return fmt.Sprintf(`
group "blue" {
  hosts = [%s]
  vars  = { banner = %q }
}

group "green" {
  hosts = [%s]
  vars  = { banner = %q }
}

group "web" {
  children = ["blue", "green"]
}
`, hostNames(blue), blueBanner, hostNames(green), greenBanner)
}

// mainPID returns the main PID of unit on h, failing when it does not run.
func mainPID(t *testing.T, h *testhost.Host, unit string) string {
	t.Helper()
	out := strings.TrimSpace(h.Exec(t, "systemctl", "show", "-p", "MainPID", "--value", unit))
	if out == "" || out == "0" {
		t.Fatalf("%s: %s has no main PID (%q): it does not run", h.Name, unit, out)
	}
	return out
}

// httpGet fetches http://127.0.0.1:port/ and returns the body, retrying for
// a few seconds while nothing answers (a restart in progress).
func httpGet(port int) (string, error) {
	c := &http.Client{Timeout: 3 * time.Second}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var resp *http.Response
		resp, err = c.Get(url)
		if err != nil {
			continue
		}
		b, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if rerr != nil {
			return "", fmt.Errorf("read %s: %w", url, rerr)
		}
		if resp.StatusCode != http.StatusOK {
			return string(b), fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return string(b), nil
	}
	return "", fmt.Errorf("GET %s: %w", url, err)
}

// portFree reports whether nothing listens on 127.0.0.1:port.
func portFree(port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err != nil {
		return true
	}
	c.Close()
	return false
}

// checkNginx checks that nginx runs and is enabled on h, that its
// configuration is valid, and that it answers on h.AppPort with want.
func checkNginx(t *testing.T, h *testhost.Host, want string) {
	t.Helper()
	if out, _, err := h.Run("systemctl", "is-active", "nginx"); err != nil || out != "active\n" {
		t.Errorf("%s: nginx is %q (%v), want active", h.Name, out, err)
	}
	if out, _, err := h.Run("systemctl", "is-enabled", "nginx"); err != nil || out != "enabled\n" {
		t.Errorf("%s: nginx is %q (%v), want enabled", h.Name, out, err)
	}
	if _, stderr, err := h.Run("nginx", "-t"); err != nil {
		t.Errorf("%s: nginx -t: %v\n%s", h.Name, err, stderr)
	}
	if body, err := httpGet(h.AppPort); err != nil || body != want {
		t.Errorf("%s: GET 127.0.0.1:%d = %q, %v; want %q", h.Name, h.AppPort, body, err, want)
	}
}

// TestSystemNginx converges nginx on three hosts, each on its own port, and
// checks that a second run plans nothing and restarts nothing.
func TestSystemNginx(t *testing.T) {
	port80Free := portFree(80)
	hosts := testhost.Boot(t, 3)
	inv := testhost.WriteInventory(t, hosts, webGroups(hosts, nil, "v1", ""))
	spec := filepath.Join(systemSpecs, "nginx")

	// Nothing is installed yet: the package, the site and the service
	// are all planned, and the service is notified by the site.
	r := tend(t, "plan", "--detailed-exitcode", "-i", inv, spec)
	for _, want := range []string{"+ package[nginx]", "+ file[/etc/nginx/sites-enabled/default]", "~ service[nginx]"} {
		if r.code != 2 || !strings.Contains(r.stdout, want) {
			t.Errorf("first plan does not show %q (exit %d, want 2):\n%s", want, r.code, r)
		}
	}
	if r = tend(t, "apply", "-i", inv, spec); r.code != 0 {
		t.Fatalf("first apply:\n%s", r)
	}
	// The package's postinst starts nginx with its default site on port
	// 80 (one host wins the port, the others fail): the notification
	// must restart it with the managed site, on each host's own port.
	pids := map[string]string{}
	for _, h := range hosts {
		checkNginx(t, h, "v1 from "+h.Name+"\n")
		if out := h.Exec(t, "nginx", "-T"); strings.Contains(out, "listen 80") || strings.Contains(out, "listen [::]:80") {
			t.Errorf("%s: nginx still has a site on port 80:\n%s", h.Name, out)
		}
		pids[h.Name] = mainPID(t, h, "nginx")
	}
	if port80Free && !portFree(80) {
		t.Errorf("something listens on port 80 after the apply: an nginx the package started with its default site was never restarted")
	}

	// Converged: the second run plans nothing and restarts nothing.
	r = tend(t, "plan", "--detailed-exitcode", "-i", inv, spec)
	if r.code != 0 || !strings.Contains(r.stdout, "No changes. 3 hosts are converged.") {
		t.Fatalf("plan after apply:\n%s", r)
	}
	if r = tend(t, "apply", "-i", inv, spec); r.code != 0 {
		t.Fatalf("second apply:\n%s", r)
	}
	for _, h := range hosts {
		if pid := mainPID(t, h, "nginx"); pid != pids[h.Name] {
			t.Errorf("%s: a no-op apply restarted nginx: MainPID %s -> %s", h.Name, pids[h.Name], pid)
		}
	}
}

// TestSystemNginxGroupChange changes the site of one inventory group: nginx
// restarts on its hosts and only there.
func TestSystemNginxGroupChange(t *testing.T) {
	hosts := testhost.Boot(t, 3)
	blue, green := hosts[:2], hosts[2:]
	spec := filepath.Join(systemSpecs, "nginx")
	inv := testhost.WriteInventory(t, hosts, webGroups(blue, green, "blue-1", "green-1"))
	if r := tend(t, "apply", "-i", inv, spec); r.code != 0 {
		t.Fatalf("first apply:\n%s", r)
	}
	pids := map[string]string{}
	for _, h := range hosts {
		pids[h.Name] = mainPID(t, h, "nginx")
	}

	// Only blue's banner changes: the plan shows the blue hosts' sites as
	// diffs and their restarts, and nothing of the green host.
	inv = testhost.WriteInventory(t, hosts, webGroups(blue, green, "blue-2", "green-1"))
	r := tend(t, "plan", "--detailed-exitcode", "-i", inv, spec)
	if r.code != 2 || !strings.Contains(r.stdout, "-        return 200 \"blue-1 from") || !strings.Contains(r.stdout, "+        return 200 \"blue-2 from") {
		t.Errorf("plan of the blue change (exit %d, want 2):\n%s", r.code, r)
	}
	if strings.Contains(r.stdout, "host "+green[0].Name) {
		t.Errorf("the plan shows the green host %s:\n%s", green[0].Name, r.stdout)
	}
	if r = tend(t, "apply", "-i", inv, spec); r.code != 0 {
		t.Fatalf("apply of the blue change:\n%s", r)
	}
	for _, h := range blue {
		if pid := mainPID(t, h, "nginx"); pid == pids[h.Name] {
			t.Errorf("%s (blue): nginx was not restarted after its site changed: MainPID still %s", h.Name, pid)
		}
		checkNginx(t, h, "blue-2 from "+h.Name+"\n")
	}
	for _, h := range green {
		if pid := mainPID(t, h, "nginx"); pid != pids[h.Name] {
			t.Errorf("%s (green): nginx was restarted although nothing of it changed: MainPID %s -> %s", h.Name, pids[h.Name], pid)
		}
		checkNginx(t, h, "green-1 from "+h.Name+"\n")
	}
	if r = tend(t, "plan", "--detailed-exitcode", "-i", inv, spec); r.code != 0 {
		t.Errorf("plan after the change:\n%s", r)
	}
}

// TestSystemLostRestart fails a run after the site changed and before the
// restart, and checks that the next run restarts nginx although the file no
// longer differs: the notification was journaled on the host.
func TestSystemLostRestart(t *testing.T) {
	h := testhost.Boot(t, 1)[0]
	spec := filepath.Join(systemSpecs, "nginx")
	inv := testhost.WriteInventory(t, []*testhost.Host{h}, webGroups([]*testhost.Host{h}, nil, "v1", ""))
	if r := tend(t, "apply", "-i", inv, spec); r.code != 0 {
		t.Fatalf("first apply:\n%s", r)
	}
	pid := mainPID(t, h, "nginx")

	// The site changes, and exec.gate[0] (command false), which the
	// service depends on, fails: the restart never happens.
	inv = testhost.WriteInventory(t, []*testhost.Host{h}, webGroups([]*testhost.Host{h}, nil, "v2", ""))
	r := tend(t, "apply", "-i", inv, "--var=broken=true", spec)
	if r.code != 1 {
		t.Fatalf("apply with a failing exec: exit %d, want 1\n%s", r.code, r)
	}
	if !strings.Contains(r.stdout, "exec.gate[0]") || !strings.Contains(r.stdout, "skipped because exec.gate[0] failed") {
		t.Errorf("the failed exec and the skipped service are not reported:\n%s", r)
	}
	if got := h.Exec(t, "cat", "/etc/nginx/sites-enabled/default"); !strings.Contains(got, `return 200 "v2 from `) {
		t.Errorf("the site was not written in the failed run:\n%s", got)
	}
	if now := mainPID(t, h, "nginx"); now != pid {
		t.Errorf("nginx was restarted by the failed run: MainPID %s -> %s", pid, now)
	}
	if body, err := httpGet(h.AppPort); err != nil || body != "v1 from "+h.Name+"\n" {
		t.Errorf("after the failed run nginx answers %q, %v; want the old site", body, err)
	}
	journal := journalPath(t, h.Name)
	if out, _, err := h.Run("cat", journal); err != nil || !strings.Contains(out, "service[nginx]") {
		t.Fatalf("the journal %s does not hold service[nginx] after the failed run: %q, %v", journal, out, err)
	}

	// Fixed spec: the file no longer differs, but the plan shows the
	// pending restart and apply delivers it.
	r = tend(t, "plan", "--detailed-exitcode", "-i", inv, spec)
	if r.code != 2 || !strings.Contains(r.stdout, "~ service[nginx]") || !strings.Contains(r.stdout, "notified by") {
		t.Errorf("plan after the failed run does not show the pending notification (exit %d, want 2):\n%s", r.code, r)
	}
	if strings.Contains(r.stdout, "file[/etc/nginx/sites-enabled/default]") {
		t.Errorf("plan after the failed run shows the site, which no longer differs:\n%s", r.stdout)
	}
	if r = tend(t, "apply", "-i", inv, spec); r.code != 0 {
		t.Fatalf("apply of the fixed spec:\n%s", r)
	}
	if now := mainPID(t, h, "nginx"); now == pid {
		t.Errorf("nginx was not restarted by the run after the failed one: MainPID still %s", pid)
	}
	checkNginx(t, h, "v2 from "+h.Name+"\n")
	if _, _, err := h.Run("test", "!", "-e", journal); err != nil {
		t.Errorf("the journal %s is left after the notification was delivered", journal)
	}
	if r = tend(t, "plan", "--detailed-exitcode", "-i", inv, spec); r.code != 0 {
		t.Errorf("plan after the delivery:\n%s", r)
	}
}

// newKey returns a fresh ed25519 signer and its authorized_keys line.
func newKey(t *testing.T, comment string) (ssh.Signer, string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return signer, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " " + comment
}

// login logs in to h as user with key, checking the host key against h's
// known_hosts, and returns what `id -un` prints.
func login(h *testhost.Host, user string, key ssh.Signer) (string, error) {
	hk, err := knownhosts.New(h.KnownHostsFile)
	if err != nil {
		return "", err
	}
	c, err := ssh.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(h.Port)), &ssh.ClientConfig{
		User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(key)}, HostKeyCallback: hk, Timeout: 10 * time.Second,
	})
	if err != nil {
		return "", err
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	out, err := s.Output("id -un")
	return strings.TrimSpace(string(out)), err
}

// TestSystemUserKeys creates a user with an authorized key, logs in with
// it, then removes the key and checks that the login fails.
func TestSystemUserKeys(t *testing.T) {
	h := testhost.Boot(t, 1)[0]
	inv := testhost.WriteInventory(t, []*testhost.Host{h}, "")
	spec := filepath.Join(systemSpecs, "users")
	signer, line := newKey(t, "alice@e2e")
	withKey := filepath.Join(t.TempDir(), "with-key.hcl")
	writeFile(t, withKey, fmt.Sprintf("keys = [%q]\n", line))
	noKey := filepath.Join(t.TempDir(), "no-key.hcl")
	writeFile(t, noKey, "keys = []\n")

	// The key logs in once tend made the user, and only then.
	if _, err := login(h, "e2e-alice", signer); err == nil {
		t.Fatal("e2e-alice logs in before tend created her")
	}
	r := tend(t, "apply", "-i", inv, "--var-file", withKey, spec)
	if r.code != 0 || !strings.Contains(r.stdout, "user[e2e-alice]") {
		t.Fatalf("apply with the key:\n%s", r)
	}
	if who, err := login(h, "e2e-alice", signer); err != nil || who != "e2e-alice" {
		t.Fatalf("login as e2e-alice with her key: %q, %v", who, err)
	}
	if r = tend(t, "plan", "--detailed-exitcode", "-i", inv, "--var-file", withKey, spec); r.code != 0 {
		t.Errorf("plan after creating the user:\n%s", r)
	}

	// keys = [] with authorized_keys_exclusive = true: the key goes, and
	// with it the login.
	r = tend(t, "plan", "--detailed-exitcode", "-i", inv, "--var-file", noKey, spec)
	if r.code != 2 || !strings.Contains(r.stdout, "~ user[e2e-alice]") || !strings.Contains(r.stdout, "authorized_keys") {
		t.Errorf("plan of the key removal (exit %d, want 2):\n%s", r.code, r)
	}
	if r = tend(t, "apply", "-i", inv, "--var-file", noKey, spec); r.code != 0 {
		t.Errorf("apply without the key:\n%s", r)
	}
	if who, err := login(h, "e2e-alice", signer); err == nil {
		t.Errorf("e2e-alice still logs in (as %q) after her key was removed", who)
	}
	// Exclusive with no keys: an empty file (or none), not a blank line
	// that the next probe sees as a difference.
	if out := h.Exec(t, "sh", "-c", "cat /home/e2e-alice/.ssh/authorized_keys 2>/dev/null; true"); out != "" {
		t.Errorf("authorized_keys = %q, want it empty", out)
	}
	if r = tend(t, "plan", "--detailed-exitcode", "-i", inv, "--var-file", noKey, spec); r.code != 0 {
		t.Errorf("plan after removing the key:\n%s", r)
	}
}

// jsonPlan is the part of the JSON report the tests read.
type jsonPlan struct {
	Hosts []struct {
		Name      string `json:"name"`
		Resources []struct {
			Address string `json:"address"`
			Action  string `json:"action"`
			Reason  string `json:"reason"`
		} `json:"resources"`
	} `json:"hosts"`
}

// reasons returns address -> "action: reason" of the one host of a JSON plan.
func reasons(t *testing.T, r result) map[string]string {
	t.Helper()
	var p jsonPlan
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil || len(p.Hosts) != 1 {
		t.Fatalf("JSON plan (%v):\n%s", err, r)
	}
	m := map[string]string{}
	for _, res := range p.Hosts[0].Resources {
		m[res.Address] = res.Action + ": " + res.Reason
	}
	return m
}

// TestSystemExecGuards checks that an exec guarded by creates runs once in
// three applies, that a refresh_only exec runs only when its notifier
// changed, and that plans say why each runs or not.
func TestSystemExecGuards(t *testing.T) {
	h := testhost.Boot(t, 1)[0]
	inv := testhost.WriteInventory(t, []*testhost.Host{h}, "")
	spec := filepath.Join(systemSpecs, "exec")
	lines := func(log string) int {
		out := h.Exec(t, "sh", "-c", "cat /var/lib/e2e-exec/"+log+" 2>/dev/null; true")
		return strings.Count(out, "ran\n")
	}
	const once, refresh = "exec[once]", "exec[refresh]"

	// Run 1: both run; the plan says why.
	r := tend(t, "plan", "--no-color", "-i", inv, "--var=trigger=a", spec)
	for _, want := range []string{
		"~ " + once, "# creates /var/lib/e2e-exec/once.done is missing",
		"~ " + refresh, "# notified by file[/etc/e2e-exec/trigger]",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("first plan does not show %q:\n%s", want, r)
		}
	}
	if r = tend(t, "apply", "-i", inv, "--var=trigger=a", spec); r.code != 0 {
		t.Fatalf("apply 1:\n%s", r)
	}
	if o, f := lines("once.log"), lines("refresh.log"); o != 1 || f != 1 {
		t.Errorf("after apply 1: once ran %d times, refresh %d; want 1 and 1", o, f)
	}

	// Run 2: nothing changed, neither runs; the JSON plan says why.
	r = tend(t, "plan", "--detailed-exitcode", "-o", "json", "-i", inv, "--var=trigger=a", spec)
	if r.code != 0 {
		t.Errorf("plan 2: exit %d, want 0\n%s", r.code, r)
	}
	rs := reasons(t, r)
	if got := rs[once]; got != "no-op: creates /var/lib/e2e-exec/once.done exists" {
		t.Errorf("plan 2: %s is %q", once, got)
	}
	if got := rs[refresh]; got != "no-op: refresh_only: runs only when notified" {
		t.Errorf("plan 2: %s is %q", refresh, got)
	}
	if r = tend(t, "apply", "-i", inv, "--var=trigger=a", spec); r.code != 0 {
		t.Fatalf("apply 2:\n%s", r)
	}
	if o, f := lines("once.log"), lines("refresh.log"); o != 1 || f != 1 {
		t.Errorf("after apply 2: once ran %d times, refresh %d; want 1 and 1", o, f)
	}

	// Run 3: the trigger changes: refresh runs, once does not.
	r = tend(t, "plan", "--no-color", "-i", inv, "--var=trigger=b", spec)
	if !strings.Contains(r.stdout, "~ "+refresh) || !strings.Contains(r.stdout, "# notified by file[/etc/e2e-exec/trigger]") {
		t.Errorf("plan 3 does not show the notified exec:\n%s", r)
	}
	if strings.Contains(r.stdout, once) {
		t.Errorf("plan 3 shows %s, whose creates exists:\n%s", once, r)
	}
	if r = tend(t, "apply", "-i", inv, "--var=trigger=b", spec); r.code != 0 {
		t.Fatalf("apply 3:\n%s", r)
	}
	if o, f := lines("once.log"), lines("refresh.log"); o != 1 || f != 2 {
		t.Errorf("after apply 3: once ran %d times, refresh %d; want 1 and 2", o, f)
	}
}

// TestSystemPrune removes a file and a package from the spec: plans report
// them as orphaned, apply leaves them alone, and apply --prune removes them.
func TestSystemPrune(t *testing.T) {
	h := testhost.Boot(t, 1)[0]
	inv := testhost.WriteInventory(t, []*testhost.Host{h}, "")
	full := filepath.Join(systemSpecs, "prune", "full")
	reduced := filepath.Join(systemSpecs, "prune", "reduced")
	installed := func() bool {
		out, _, err := h.Run("dpkg-query", "-W", "-f", "${db:Status-Abbrev}", "hello")
		return err == nil && strings.HasPrefix(out, "ii")
	}
	exists := func(p string) bool {
		_, _, err := h.Run("test", "-e", p)
		return err == nil
	}
	const gone = "/etc/e2e-prune/gone"

	// tend applies the full spec, and so remembers what it manages.
	if r := tend(t, "apply", "-i", inv, full); r.code != 0 {
		t.Fatalf("apply of the full spec:\n%s", r)
	}
	if !installed() || !exists(gone) {
		t.Fatalf("the full spec did not converge: hello installed %v, %s exists %v", installed(), gone, exists(gone))
	}

	// The reduced spec: the dropped resources are orphans, shown but not
	// touched unless pruning is asked for.
	r := tend(t, "plan", "--no-color", "-i", inv, reduced)
	for _, want := range []string{"orphaned", "file[" + gone + "]", "package[hello]"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan of the reduced spec does not show %q:\n%s", want, r)
		}
	}
	if strings.Contains(r.stdout, "file[/etc/e2e-prune/keep]") {
		t.Errorf("plan of the reduced spec shows the kept file:\n%s", r)
	}
	if r = tend(t, "apply", "-i", inv, reduced); r.code != 0 {
		t.Fatalf("apply of the reduced spec without --prune:\n%s", r)
	}
	if !installed() || !exists(gone) {
		t.Errorf("apply without --prune removed the orphans: hello installed %v, %s exists %v", installed(), gone, exists(gone))
	}

	// --prune removes them: the file deleted, the package removed.
	if r = tend(t, "apply", "--prune", "-i", inv, reduced); r.code != 0 {
		t.Fatalf("apply --prune:\n%s", r)
	}
	if installed() || exists(gone) {
		t.Errorf("apply --prune left the orphans: hello installed %v, %s exists %v", installed(), gone, exists(gone))
	}
	if !exists("/etc/e2e-prune/keep") {
		t.Errorf("apply --prune removed the kept file")
	}
	r = tend(t, "plan", "--detailed-exitcode", "-i", inv, reduced)
	if r.code != 0 || strings.Contains(r.stdout, "orphaned") {
		t.Errorf("plan after pruning:\n%s", r)
	}
}

// TestSystemFacts selects resources with when conditions on host.facts and
// renders a template from them.
func TestSystemFacts(t *testing.T) {
	h := testhost.Boot(t, 1)[0]
	inv := testhost.WriteInventory(t, []*testhost.Host{h}, "")
	spec := filepath.Join(systemSpecs, "facts")
	arch := strings.TrimSpace(h.Exec(t, "uname", "-m"))
	cpus := strings.TrimSpace(h.Exec(t, "getconf", "_NPROCESSORS_ONLN"))

	// The plan shows the debian-only file and the rendered facts, and
	// leaves out the alpine-only file.
	r := tend(t, "plan", "--no-color", "-i", inv, spec)
	if r.code != 0 {
		t.Fatalf("plan:\n%s", r)
	}
	for _, want := range []string{
		"+ file[/etc/e2e-facts/on-debian]",
		"+ file[/etc/e2e-facts/facts.txt]",
		"+os          = debian 12",
		"+arch        = " + arch,
		"+hostname    = " + h.Name,
		"+cpus        = " + cpus,
		"+init        = systemd",
		"+pkg_manager = apt-get",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan does not show %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "on-alpine") {
		t.Errorf("plan shows the resource whose when is false:\n%s", r.stdout)
	}
	if r = tend(t, "apply", "-i", inv, spec); r.code != 0 {
		t.Fatalf("apply:\n%s", r)
	}
	// The memory size varies: it only has to be there.
	got := h.Exec(t, "cat", "/etc/e2e-facts/facts.txt")
	mem := ""
	for _, l := range strings.Split(got, "\n") {
		if v, ok := strings.CutPrefix(l, "memory_mb   = "); ok {
			mem = v
		}
	}
	if n, err := strconv.Atoi(mem); err != nil || n <= 0 {
		t.Errorf("facts.txt has no positive memory_mb:\n%s", got)
	}
	if _, _, err := h.Run("test", "-e", "/etc/e2e-facts/on-alpine"); err == nil {
		t.Errorf("the resource whose when is false was applied")
	}
	if r = tend(t, "plan", "--detailed-exitcode", "-i", inv, spec); r.code != 0 {
		t.Errorf("plan after apply:\n%s", r)
	}
}

// sshdCounts returns how many connections ("Accepted publickey") and
// sessions ("Starting session:") the sshd of h has logged.
func sshdCounts(t *testing.T, h *testhost.Host) (conns, sessions int) {
	t.Helper()
	out := h.Exec(t, "journalctl", "-u", "ssh", "--no-pager", "-o", "cat")
	return strings.Count(out, "Accepted publickey"), strings.Count(out, "Starting session:")
}

// TestSystemNoopCost converges hosts with 10 packages, 5 services, 20 files
// and 2 users, then checks on their sshd logs that a plan costs one
// connection and at most two remote executions per host.
func TestSystemNoopCost(t *testing.T) {
	hosts := testhost.Boot(t, 2)
	inv := testhost.WriteInventory(t, hosts, "")
	spec := filepath.Join(systemSpecs, "noop")
	if r := tend(t, "apply", "-i", inv, spec); r.code != 0 {
		t.Fatalf("apply:\n%s", r)
	}
	if r := tend(t, "plan", "--detailed-exitcode", "-i", inv, spec); r.code != 0 {
		t.Fatalf("plan after apply:\n%s", r)
	}
	// sshd (LogLevel VERBOSE) logs "Accepted publickey" per connection
	// and "Starting session:" per exec or subsystem: count both around
	// one more plan.
	type counts struct{ conns, sessions int }
	before := map[string]counts{}
	for _, h := range hosts {
		c, s := sshdCounts(t, h)
		before[h.Name] = counts{c, s}
	}
	r := tend(t, "plan", "--detailed-exitcode", "-i", inv, spec)
	if r.code != 0 || !strings.Contains(r.stdout, "No changes. 2 hosts are converged.") {
		t.Fatalf("no-op plan:\n%s", r)
	}
	// sshd logs through journald: give it a moment.
	time.Sleep(500 * time.Millisecond)
	for _, h := range hosts {
		c, s := sshdCounts(t, h)
		// Each sshdCounts call is one connection and one session itself.
		conns, sessions := c-before[h.Name].conns-1, s-before[h.Name].sessions-1
		if conns != 1 {
			t.Errorf("%s: the no-op plan opened %d SSH connections, want 1", h.Name, conns)
		}
		if sessions < 1 || sessions > 2 {
			t.Errorf("%s: the no-op plan ran %d remote executions, want 1 or 2", h.Name, sessions)
		}
		t.Logf("%s: no-op plan: %d connection(s), %d session(s)", h.Name, conns, sessions)
	}
}
