package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/sshtest"
	"github.com/tendhq/tend/internal/testhost"
)

// The fault tests of issue 8: tend against real hosts that fail under it.
// Each test says what it guarantees; docs/reliability.md lists them all.

// faultReport is the part of the JSON report the fault tests compare.
type faultReport struct {
	Summary struct {
		Hosts  int `json:"hosts"`
		Failed int `json:"failed"`
	} `json:"summary"`
	Hosts []faultHost `json:"hosts"`
}

// faultHost is one host of a faultReport, timings left out.
type faultHost struct {
	Name       string          `json:"name"`
	Error      string          `json:"error"`
	Failed     bool            `json:"failed"`
	NotStarted bool            `json:"not_started"`
	Resources  []faultResource `json:"resources"`
}

// faultResource is one resource of a faultHost.
type faultResource struct {
	Address        string `json:"address"`
	Action         string `json:"action"`
	Status         string `json:"status"`
	Error          string `json:"error"`
	SkippedBecause string `json:"skipped_because"`
}

// parseFaultReport decodes the JSON report of a run.
func parseFaultReport(t *testing.T, r result) faultReport {
	t.Helper()
	var rep faultReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("the JSON report does not parse: %v\n%s", err, r)
	}
	return rep
}

// host returns the host called name of the report, failing the test when
// it is missing.
func (rep faultReport) host(t *testing.T, name string) faultHost {
	t.Helper()
	for _, h := range rep.Hosts {
		if h.Name == name {
			return h
		}
	}
	t.Fatalf("host %s is not in the report: %+v", name, rep.Hosts)
	return faultHost{}
}

// dropScript runs on a container host: every 20 ms it runs the shell
// condition $2, which prints a PID once the moment to strike has come;
// then it walks up from that process to the nearest "sshd: root@notty",
// the SSH session of the connection that started it, and kills it with
// SIGKILL: that connection drops as it would when the network or the peer
// fails. It gives up after $1 seconds.
const dropScript = `end=$(( $(date +%s) + $1 ))
while [ "$(date +%s)" -lt "$end" ]; do
  if p=$(sh -c "$2" 2>/dev/null) && [ -n "$p" ]; then
    p=${p%%[!0-9]*}
    while [ -n "$p" ] && [ "$p" -gt 1 ]; do
      case $(tr '\0' ' ' < /proc/$p/cmdline 2>/dev/null) in "sshd: root@notty"*) kill -KILL "$p"; echo "killed $p"; exit 0 ;; esac
      p=$(awk '{print $4}' /proc/$p/stat 2>/dev/null)
    done
  fi
  sleep 0.02
done
echo "the condition never held" >&2
exit 1`

// dropConnectionWhen starts dropScript on h with the condition cond and
// returns a channel that receives nil once it dropped a connection, or
// why it did not. Start it before the run it interrupts.
func dropConnectionWhen(h *testhost.Host, cond string, timeout time.Duration) <-chan error {
	done := make(chan error, 1)
	go func() {
		out, errOut, err := h.Run("sh", "-c", dropScript, "sh", strconv.Itoa(int(timeout/time.Second)), cond)
		if err != nil {
			err = fmt.Errorf("%v: %s%s", err, out, errOut)
		}
		done <- err
	}()
	return done
}

// sha256Of returns the hex sha256 of b.
func sha256Of(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// randomBytes returns n random bytes: incompressible, so a write of them
// takes its time.
func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// remoteSHA returns the sha256 of path on h ("absent" when it is missing).
func remoteSHA(t *testing.T, h *testhost.Host, path string) string {
	t.Helper()
	out := h.Exec(t, "sh", "-c", `if [ -e "$1" ]; then sha256sum < "$1"; else echo absent; fi`, "sh", path)
	return strings.Fields(out)[0]
}

// leftovers lists the names in dir on h that tend's temporary files and
// directories have (".NAME.tend-...").
func leftovers(t *testing.T, h *testhost.Host, dir string) []string {
	t.Helper()
	out := h.Exec(t, "sh", "-c", `ls -A -- "$1" | grep '\.tend-' || true`, "sh", dir)
	return strings.Fields(out)
}

// TestFaultConnectionDroppedDuringFileWrite guarantees that a connection
// dropped while a file's new content is being written leaves the old file
// whole (never a truncated one), that the run reports the host failed, and
// that the next run writes the new content.
func TestFaultConnectionDroppedDuringFileWrite(t *testing.T) {
	h := testhost.Boot(t, 1)[0]
	inv := testhost.WriteInventory(t, []*testhost.Host{h}, "")
	spec := t.TempDir()
	writeFile(t, filepath.Join(spec, "main.hcl"), `role "big" {
  hosts = ["*"]

  file "/srv/big/data.bin" {
    source = "data.bin"
  }
}
`)
	old := randomBytes(t, 1<<20)
	if err := os.WriteFile(filepath.Join(spec, "data.bin"), old, 0o644); err != nil {
		t.Fatal(err)
	}
	// The old content: 1 MiB, written whole.
	if r := tend(t, "apply", "-i", inv, spec); r.code != 0 {
		t.Fatalf("first apply:\n%s", r)
	}
	if got := remoteSHA(t, h, "/srv/big/data.bin"); got != sha256Of(old) {
		t.Fatalf("after the first apply the file has sha256 %s, want %s", got, sha256Of(old))
	}

	// 64 MiB of new content; the connection drops once the temporary
	// file has some of it.
	next := randomBytes(t, 64<<20)
	if err := os.WriteFile(filepath.Join(spec, "data.bin"), next, 0o644); err != nil {
		t.Fatal(err)
	}
	dropped := dropConnectionWhen(h, `[ -n "$(find /srv/big -maxdepth 1 -name '.data.bin.tend-*' -size +64k)" ] && pgrep -x sftp-server`, 120*time.Second)
	r := tend(t, "apply", "-o", "json", "-i", inv, spec)
	if err := <-dropped; err != nil {
		t.Fatalf("the connection was not dropped during the write: %v\ntend:\n%s", err, r)
	}
	if r.code != 1 {
		t.Errorf("the interrupted apply exited %d, want 1:\n%s", r.code, r)
	}
	rep := parseFaultReport(t, r)
	if hr := rep.host(t, h.Name); !hr.Failed || rep.Summary.Failed != 1 {
		t.Errorf("the report does not say the host failed: %+v", hr)
	}
	// The managed path still holds every byte of the old content.
	if got := remoteSHA(t, h, "/srv/big/data.bin"); got != sha256Of(old) {
		t.Fatalf("after the dropped connection the file has sha256 %s, want the old content's %s: it was changed or truncated", got, sha256Of(old))
	}
	t.Logf("after the drop: old content intact; temporary files left: %v", leftovers(t, h, "/srv/big"))

	// The next run converges.
	r = tend(t, "apply", "-i", inv, spec)
	if r.code != 0 {
		t.Fatalf("the apply after the drop:\n%s", r)
	}
	if got := remoteSHA(t, h, "/srv/big/data.bin"); got != sha256Of(next) {
		t.Errorf("the next run did not converge: sha256 %s, want %s", got, sha256Of(next))
	}
	// The interrupted write's hidden temporary file stays (tend has no
	// way to tell it from another run's today, see docs/reliability.md);
	// nothing else may.
	left := leftovers(t, h, "/srv/big")
	for _, name := range left {
		if !regexp.MustCompile(`^\.data\.bin\.tend-[0-9a-f]{12}$`).MatchString(name) {
			t.Errorf("unexpected leftover %q in /srv/big", name)
		}
	}
	if len(left) > 1 {
		t.Errorf("the converging run left its own temporary files behind: %v", left)
	}
	if r := tend(t, "plan", "--detailed-exitcode", "-i", inv, spec); r.code != 0 {
		t.Errorf("plan after converging is not empty:\n%s", r)
	}
}

// TestFaultConnectionDroppedDuringPackageInstall guarantees that a
// connection dropped while apt-get and dpkg install a package (while dpkg
// configures the unpacked packages) fails the
// run for that host, and that the next run installs the package cleanly
// (dpkg left consistent: nothing half-installed, dpkg --audit silent).
func TestFaultConnectionDroppedDuringPackageInstall(t *testing.T) {
	h := testhost.Boot(t, 1)[0]
	inv := testhost.WriteInventory(t, []*testhost.Host{h}, "")
	spec := t.TempDir()
	writeFile(t, filepath.Join(spec, "main.hcl"), `role "py" {
  hosts = ["*"]

  package "python3-minimal" {}
}
`)
	// dpkg configuring (running maintainer scripts) is where an
	// interruption hurts most: a package left half-configured.
	dropped := dropConnectionWhen(h, `pgrep -f '^/usr/bin/dpkg .*--configure'`, 300*time.Second)
	r := tend(t, "apply", "-o", "json", "-i", inv, spec)
	if err := <-dropped; err != nil {
		t.Fatalf("the connection was not dropped while dpkg ran: %v\ntend:\n%s", err, r)
	}
	if r.code != 1 {
		t.Errorf("the interrupted apply exited %d, want 1:\n%s", r.code, r)
	}
	rep := parseFaultReport(t, r)
	if hr := rep.host(t, h.Name); !hr.Failed {
		t.Errorf("the report does not say the host failed: %+v", hr)
	}
	// apt-get may have gone on without its connection; wait for it to
	// end before looking at dpkg's state.
	h.Exec(t, "sh", "-c", `for i in $(seq 600); do pgrep -x 'apt-get|dpkg' >/dev/null || exit 0; sleep 0.2; done; exit 1`)
	audit, _, _ := h.Run("sh", "-c", "dpkg --audit; dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' python3-minimal 2>&1 || true")
	t.Logf("dpkg after the drop:\n%s", audit)

	// The next run installs the package, whatever state dpkg was left in.
	r = tend(t, "apply", "-i", inv, spec)
	if r.code != 0 {
		t.Fatalf("the apply after the drop did not converge:\n%s", r)
	}
	if out := h.Exec(t, "dpkg-query", "-W", "-f", "${db:Status-Abbrev}", "python3-minimal"); strings.TrimSpace(out) != "ii" {
		t.Errorf("python3-minimal is %q after the next run, want ii", out)
	}
	if out := h.Exec(t, "dpkg", "--audit"); strings.TrimSpace(out) != "" {
		t.Errorf("dpkg --audit after the next run:\n%s", out)
	}
	if r := tend(t, "plan", "--detailed-exitcode", "-i", inv, spec); r.code != 0 {
		t.Errorf("plan after converging is not empty:\n%s", r)
	}
}

// releaseFaultSpec deploys /opt/app from a local artifact; its health
// command takes 3 s (the window in which the connection is dropped) and
// passes when the release has a HEALTHY file.
const releaseFaultSpec = `variable "v" {
  type = string
}

role "app" {
  hosts = ["*"]

  release "app" {
    version = var.v
    path    = "/opt/app"
    artifact {
      path = "artifacts/app-${var.v}.tar.gz"
    }
    health {
      command  = ["sh", "-c", "sleep 3; test -f HEALTHY"]
      timeout  = "10s"
      interval = "200ms"
    }
  }
}
`

// writeAppArtifact writes artifacts/app-V.tar.gz under spec: a VERSION
// file and, when healthy, a HEALTHY file.
func writeAppArtifact(t *testing.T, spec, v string, healthy bool) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	files := map[string]string{"VERSION": v + "\n"}
	if healthy {
		files["HEALTHY"] = "yes\n"
	}
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg, ModTime: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(spec, "artifacts", "app-"+v+".tar.gz"), buf.String())
}

// appState returns where /opt/app/current points on h, whether that
// release is complete (has its marker), and the history's events as
// "event version" lines.
func appState(t *testing.T, h *testhost.Host) (current string, complete bool, history []string) {
	t.Helper()
	out := h.Exec(t, "sh", "-c", `readlink /opt/app/current || echo none
if [ -f /opt/app/current/.tend-release ]; then echo complete; else echo incomplete; fi
awk '{print $2, $3}' /opt/app/.tend-history 2>/dev/null || true`)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[0], lines[1] == "complete", lines[2:]
}

// TestFaultConnectionDroppedDuringReleaseSwitch guarantees that a
// connection dropped after a release switch, during its health check,
// leaves current at a complete release, fails the run, and that the next
// run does not take the unconfirmed release for converged: it runs the
// health check again, keeps a healthy release and switches a failing one
// back to the last healthy release.
func TestFaultConnectionDroppedDuringReleaseSwitch(t *testing.T) {
	h := testhost.Boot(t, 1)[0]
	inv := testhost.WriteInventory(t, []*testhost.Host{h}, "")
	spec := t.TempDir()
	writeFile(t, filepath.Join(spec, "main.hcl"), releaseFaultSpec)
	writeAppArtifact(t, spec, "v1", true)
	writeAppArtifact(t, spec, "v2", true)
	writeAppArtifact(t, spec, "v3", false)
	apply := func(v string, extra ...string) result {
		return tend(t, append([]string{"apply", "-i", inv, "--var", "v=" + v, spec}, extra...)...)
	}
	if r := apply("v1"); r.code != 0 {
		t.Fatalf("apply v1:\n%s", r)
	}

	// interrupt switches to v and drops the connection during the
	// health check that follows the switch.
	interrupt := func(v string) {
		t.Helper()
		dropped := dropConnectionWhen(h, `pgrep -xf 'sleep 3'`, 120*time.Second)
		r := apply(v)
		if err := <-dropped; err != nil {
			t.Fatalf("the connection was not dropped during the health check of %s: %v\ntend:\n%s", v, err, r)
		}
		if r.code != 1 || !strings.Contains(r.stdout, h.Name) {
			t.Errorf("the interrupted apply of %s exited %d, want 1 with the host's failure:\n%s", v, r.code, r)
		}
		cur, complete, hist := appState(t, h)
		if !complete {
			t.Fatalf("after the drop current points at %s, which is not a complete release", cur)
		}
		t.Logf("after the drop during %s's health check: current -> %s; history %q", v, cur, hist)
	}

	// A healthy v2: the next run checks it again and records it.
	interrupt("v2")
	r := apply("v2")
	if r.code != 0 {
		t.Fatalf("apply v2 after the drop:\n%s", r)
	}
	cur, _, hist := appState(t, h)
	if cur != "releases/v2" || len(hist) == 0 || hist[len(hist)-1] != "switch v2" {
		t.Errorf("after the next run: current -> %s, history %q; want releases/v2 with its switch recorded (the health check redone)", cur, hist)
	}
	if r := tend(t, "plan", "--detailed-exitcode", "-i", inv, "--var", "v=v2", spec); r.code != 0 {
		t.Errorf("plan after v2 converged is not empty:\n%s", r)
	}

	// A broken v3: the next run finds it unhealthy and goes back to v2.
	interrupt("v3")
	r = apply("v3")
	if r.code != 1 || !strings.Contains(r.stdout, "release v3 failed") || !strings.Contains(r.stdout, "switched back to v2") {
		t.Errorf("apply v3 after the drop did not find v3 unhealthy and switch back to v2:\n%s", r)
	}
	if cur, complete, hist := appState(t, h); cur != "releases/v2" || !complete || hist[len(hist)-1] != "fail v3" {
		t.Errorf("after the next run: current -> %s (complete %v), history %q; want releases/v2 and v3 recorded as failed", cur, complete, hist)
	}
}

// TestFaultDiskFull guarantees that a file write onto a full file system
// (a 64 KiB tmpfs as the target directory) fails cleanly: the run reports
// the failure, the old content stays, and no temporary file or directory
// is left behind, for a world-readable file and a private (0600) one.
func TestFaultDiskFull(t *testing.T) {
	h := testhost.Boot(t, 1)[0]
	inv := testhost.WriteInventory(t, []*testhost.Host{h}, "")
	h.Exec(t, "sh", "-c", "mkdir -p /srv/full && mount -t tmpfs -o size=64k tmpfs /srv/full")
	t.Cleanup(func() { _, _, _ = h.Run("umount", "/srv/full") })
	spec := t.TempDir()
	writeFile(t, filepath.Join(spec, "main.hcl"), `role "full" {
  hosts = ["*"]

  file "/srv/full/public.txt" {
    source = "public.txt"
  }

  file "/srv/full/private.txt" {
    source = "private.txt"
    mode   = "0600"
  }
}
`)
	writeFile(t, filepath.Join(spec, "public.txt"), "old public\n")
	writeFile(t, filepath.Join(spec, "private.txt"), "old private\n")
	if r := tend(t, "apply", "-i", inv, spec); r.code != 0 {
		t.Fatalf("first apply:\n%s", r)
	}
	// Each new content (176 KiB and 192 KiB) is larger than the whole
	// file system, so the write runs out of space half way.
	writeFile(t, filepath.Join(spec, "public.txt"), strings.Repeat("new public\n", 16<<10))
	writeFile(t, filepath.Join(spec, "private.txt"), strings.Repeat("new private\n", 16<<10))
	r := tend(t, "apply", "-o", "json", "-i", inv, spec)
	if r.code != 1 {
		t.Errorf("the apply onto a full disk exited %d, want 1:\n%s", r.code, r)
	}
	hr := parseFaultReport(t, r).host(t, h.Name)
	if !hr.Failed {
		t.Errorf("the report does not say the host failed: %+v", hr)
	}
	for _, res := range hr.Resources {
		if res.Status != "failed" || !strings.Contains(res.Error, "write "+strings.TrimPrefix(strings.TrimSuffix(res.Address, "]"), "file[")) {
			t.Errorf("%s: status %q, error %q; want failed, naming the write of its path", res.Address, res.Status, res.Error)
		}
		t.Logf("%s: %s", res.Address, res.Error)
	}
	if got := h.Exec(t, "cat", "/srv/full/public.txt"); got != "old public\n" {
		t.Errorf("public.txt = %q after the failed write, want the old content", got)
	}
	if got := h.Exec(t, "cat", "/srv/full/private.txt"); got != "old private\n" {
		t.Errorf("private.txt = %q after the failed write, want the old content", got)
	}
	if left := leftovers(t, h, "/srv/full"); len(left) != 0 {
		t.Errorf("the failed writes left temporary files behind: %v", left)
	}
}

// TestFaultHangingHost guarantees that a host that accepts TCP connections
// and never speaks SSH fails after its connect_timeout with an error that
// says so, while the other hosts of the run converge.
func TestFaultHangingHost(t *testing.T) {
	servers := sshtest.Start(t, 2)
	inv, roots := sshInventory(t, servers)

	// A listener that accepts and never writes a byte.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	const connectTimeout = 3 * time.Second
	hangRoot := filepath.Join(t.TempDir(), "hang")
	f, err := os.OpenFile(inv, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, `host "hang" {
  address         = "127.0.0.1"
  port            = %d
  identity_file   = %q
  known_hosts     = %q
  ssh_agent       = false
  connect_timeout = "%ds"
  vars            = { root = %q, app_port = 9999 }
}
`, ln.Addr().(*net.TCPAddr).Port, servers[0].ClientKeyFile, servers[0].KnownHostsFile, int(connectTimeout/time.Second), hangRoot)
	f.Close()
	spec := t.TempDir()
	writeFile(t, filepath.Join(spec, "main.hcl"), `role "all" {
  hosts = ["*"]

  file "hello" {
    path    = "${host.vars.root}/hello.txt"
    content = "hello from ${host.name}\n"
  }
}
`)
	// One run over the three hosts, timed: the hanging host must not
	// hold it up beyond its connect timeout.
	start := time.Now()
	r := tend(t, "apply", "-o", "json", "-i", inv, spec)
	took := time.Since(start)
	if r.code != 1 {
		t.Errorf("apply exited %d, want 1:\n%s", r.code, r)
	}
	rep := parseFaultReport(t, r)
	hang := rep.host(t, "hang")
	if want := fmt.Sprintf("no SSH handshake within %s", connectTimeout); !hang.Failed || !strings.Contains(hang.Error, "unreachable") || !strings.Contains(hang.Error, want) {
		t.Errorf("the hanging host's error is %q; want it unreachable with %q", hang.Error, want)
	}
	t.Logf("hanging host after %s: %s", took.Round(time.Millisecond), hang.Error)
	if took < connectTimeout || took > connectTimeout+20*time.Second {
		t.Errorf("the run took %s; want at least the connect timeout %s and not much more", took, connectTimeout)
	}
	// The other hosts converged as if the hanging one were not there.
	for i, root := range roots {
		name := fmt.Sprintf("h%d", i)
		if hr := rep.host(t, name); hr.Failed {
			t.Errorf("%s failed beside the hanging host: %+v", name, hr)
		}
		if got := readFile(t, filepath.Join(root, "hello.txt")); got != "hello from "+name+"\n" {
			t.Errorf("%s: hello.txt = %q", name, got)
		}
	}
}

// holdLockSource is a program that takes the fcntl write lock apt and
// dpkg take on a file and holds it for a while, as another package
// manager run would.
const holdLockSource = `package main

import (
	"os"
	"syscall"
	"time"
)

func main() {
	f, err := os.OpenFile(os.Args[1], os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		panic(err)
	}
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLKW, &lk); err != nil {
		panic(err)
	}
	d, err := time.ParseDuration(os.Args[2])
	if err != nil {
		panic(err)
	}
	time.Sleep(d)
}
`

// TestFaultPackageLockHeld guarantees that while another process holds
// dpkg's lock, a package install waits for it up to the package's
// lock_timeout, goes on when the lock is released in time, and otherwise
// fails saying how long it waited, which lock file is held and by which
// process (apt's own message names only the file).
func TestFaultPackageLockHeld(t *testing.T) {
	h := testhost.Boot(t, 1)[0]
	inv := testhost.WriteInventory(t, []*testhost.Host{h}, "")
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "main.go"), holdLockSource)
	writeFile(t, filepath.Join(src, "go.mod"), "module holdlock\n\ngo 1.22\n")
	build := exec.Command("go", "build", "-o", filepath.Join(h.Root, "usr/local/bin/holdlock"), ".")
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build holdlock: %v\n%s", err, out)
	}
	// hold starts holdlock as a transient unit of the host's systemd
	// and waits until it has the lock.
	hold := func(unit, d string) {
		t.Helper()
		h.Exec(t, "systemd-run", "--unit", unit, "--collect", "/usr/local/bin/holdlock", "/var/lib/dpkg/lock-frontend", d)
		h.Exec(t, "sh", "-c", `for i in $(seq 100); do grep -q "$(stat -c %i /var/lib/dpkg/lock-frontend)" /proc/locks 2>/dev/null && exit 0; sleep 0.1; done; exit 1`)
	}
	t.Cleanup(func() { _, _, _ = h.Run("systemctl", "stop", "holdlock1", "holdlock2") })
	spec := t.TempDir()
	pkgSpec := func(timeout string) {
		writeFile(t, filepath.Join(spec, "main.hcl"), fmt.Sprintf(`role "pkg" {
  hosts = ["*"]

  package "hello" {
    lock_timeout = %q
  }
}
`, timeout))
	}

	// Held for 60 s, waited for 6 s: the install fails and says why. (The
	// run's time includes apt-get update, which takes no dpkg lock.)
	pkgSpec("6s")
	hold("holdlock1", "60s")
	start := time.Now()
	r := tend(t, "apply", "-o", "json", "-i", inv, spec)
	took := time.Since(start)
	if r.code != 1 {
		t.Errorf("apply under a held lock exited %d, want 1:\n%s", r.code, r)
	}
	hr := parseFaultReport(t, r).host(t, h.Name)
	var msg string
	for _, res := range hr.Resources {
		msg += res.Error
	}
	for _, want := range []string{"/var/lib/dpkg/lock-frontend", "waited 6s for the lock", "/var/lib/dpkg/lock-frontend is held by process", "(/usr/local/bin/holdlock /var/lib/dpkg/lock-frontend 60s)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the failure does not say %q: %q", want, msg)
		}
	}
	if took < 6*time.Second {
		t.Errorf("the apply gave up after %s, before its lock_timeout of 6s", took)
	}
	t.Logf("lock held: failed after %s: %s", took.Round(time.Millisecond), msg)
	h.Exec(t, "systemctl", "stop", "holdlock1")

	// Held for 8 s, waited for up to 120 s: the install waits and succeeds.
	pkgSpec("120s")
	hold("holdlock2", "8s")
	start = time.Now()
	r = tend(t, "apply", "-i", inv, spec)
	took = time.Since(start)
	if r.code != 0 {
		t.Fatalf("apply while the lock is held for 8s:\n%s", r)
	}
	if out := h.Exec(t, "dpkg-query", "-W", "-f", "${db:Status-Abbrev}", "hello"); strings.TrimSpace(out) != "ii" {
		t.Errorf("hello is %q, want ii", out)
	}
	t.Logf("lock held for 8s: the install waited and succeeded after %s", took.Round(time.Millisecond))
	if took < 5*time.Second {
		t.Errorf("the install finished after %s, before the lock (held 8s) was released", took)
	}
}

// tempSuffix is the random part of a temporary file's name (tempName).
var tempSuffix = regexp.MustCompile(`\.tend-[0-9a-f]{12}`)

// TestFaultParallelHostsMatchSerial guarantees that converging 50 hosts at
// once gives, host by host and resource by resource, the same outcomes as
// converging them one at a time, with failures injected on some hosts (a
// file whose parent is a regular file, an unreachable port) and the race
// detector watching the engine.
func TestFaultParallelHostsMatchSerial(t *testing.T) {
	const n = 50
	servers := sshtest.Start(t, n)
	dir := t.TempDir()
	// A closed port: nothing listens there once the listener is closed.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	// One host block per server, each with its own root; every tenth
	// host from h03 has a blocking file, every tenth from h07 a closed
	// port.
	var b strings.Builder
	roots := make([]string, n)
	for i, s := range servers {
		roots[i] = filepath.Join(dir, fmt.Sprintf("h%02d", i))
		port := s.Port
		if i%10 == 7 {
			port = closedPort
		}
		sub := "ok"
		if i%10 == 3 {
			sub = "blocker" // a regular file: the file below it cannot be made
		}
		fmt.Fprintf(&b, `host "h%02d" {
  address         = "127.0.0.1"
  port            = %d
  identity_file   = %q
  known_hosts     = %q
  ssh_agent       = false
  connect_timeout = "30s"
  vars            = { root = %q, sub = %q }
}
`, i, port, s.ClientKeyFile, s.KnownHostsFile, roots[i], sub)
	}
	inv := filepath.Join(dir, "inventory.hcl")
	writeFile(t, inv, b.String())
	spec := t.TempDir()
	writeFile(t, filepath.Join(spec, "main.hcl"), `role "all" {
  hosts = ["*"]

  directory "etc" {
    path = "${host.vars.root}/etc"
  }

  file "a" {
    path    = "${host.vars.root}/etc/a.conf"
    content = "a on ${host.name}\n"
  }

  file "b" {
    path    = "${host.vars.root}/${host.vars.sub}/b.conf"
    content = "b on ${host.name}\n"
  }

  file "after-b" {
    path       = "${host.vars.root}/etc/after-b.conf"
    content    = "after b\n"
    depends_on = [file["b"]]
  }

  symlink "current" {
    path   = "${host.vars.root}/current"
    target = "${host.vars.root}/etc"
  }
}
`)
	stateDir := testStateDir(t)
	// reset puts every host back in its starting state: an empty root,
	// with the blocking regular file where one is injected.
	reset := func() {
		t.Helper()
		if err := os.RemoveAll(stateDir); err != nil {
			t.Fatal(err)
		}
		for i, root := range roots {
			if err := os.RemoveAll(root); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(root, 0o755); err != nil {
				t.Fatal(err)
			}
			if i%10 == 3 {
				writeFile(t, filepath.Join(root, "blocker"), "not a directory\n")
			}
		}
	}
	run := func(parallel int) (faultReport, time.Duration) {
		t.Helper()
		reset()
		start := time.Now()
		r := tend(t, "apply", "-o", "json", "--parallel", strconv.Itoa(parallel), "--state-dir="+stateDir, "-i", inv, spec)
		took := time.Since(start)
		if r.code != 1 {
			t.Fatalf("apply --parallel %d exited %d, want 1 (failures were injected):\n%s", parallel, r.code, r)
		}
		rep := parseFaultReport(t, r)
		// The random part of temporary file names is not an outcome.
		for _, h := range rep.Hosts {
			for i := range h.Resources {
				h.Resources[i].Error = tempSuffix.ReplaceAllString(h.Resources[i].Error, ".tend-RANDOM")
			}
		}
		return rep, took
	}
	serial, tookSerial := run(1)
	parallel, tookParallel := run(n)
	t.Logf("--parallel 1 took %s, --parallel %d took %s", tookSerial.Round(time.Millisecond), n, tookParallel.Round(time.Millisecond))

	if len(serial.Hosts) != n || serial.Summary.Failed != 10 {
		t.Fatalf("the serial run has %d hosts, %d failed; want %d and 10", len(serial.Hosts), serial.Summary.Failed, n)
	}
	// The injected failures are what they should be.
	for i, hr := range serial.Hosts {
		switch i % 10 {
		case 3:
			st := map[string]string{}
			for _, r := range hr.Resources {
				st[r.Address] = r.Status
			}
			if !hr.Failed || hr.Error != "" || st["file[b]"] != "failed" || st["file[after-b]"] != "skipped" || st["file[a]"] != "applied" {
				t.Errorf("%s (parent is a file): %+v", hr.Name, hr)
			}
		case 7:
			if !hr.Failed || !strings.Contains(hr.Error, "unreachable") {
				t.Errorf("%s (closed port): %+v", hr.Name, hr)
			}
		default:
			if hr.Failed {
				t.Errorf("%s failed: %+v", hr.Name, hr)
			}
		}
	}
	// The whole reports, host by host: the same outcomes either way.
	if !reflect.DeepEqual(serial, parallel) {
		for i := range serial.Hosts {
			if i < len(parallel.Hosts) && !reflect.DeepEqual(serial.Hosts[i], parallel.Hosts[i]) {
				t.Errorf("%s differs:\nserial:   %+v\nparallel: %+v", serial.Hosts[i].Name, serial.Hosts[i], parallel.Hosts[i])
			}
		}
		t.Fatalf("--parallel %d and --parallel 1 reported different outcomes (summary %+v vs %+v)", n, parallel.Summary, serial.Summary)
	}
	// And the hosts are in the same state: every good host converged.
	for i, root := range roots {
		if i%10 == 3 || i%10 == 7 {
			continue
		}
		if got := readFile(t, filepath.Join(root, "ok/b.conf")); got != fmt.Sprintf("b on h%02d\n", i) {
			t.Errorf("h%02d: b.conf = %q", i, got)
		}
	}
}
