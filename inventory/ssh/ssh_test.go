package ssh

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/tendhq/tend/internal/sshtest"
	"github.com/tendhq/tend/inventory"
)

// dialT dials h and closes the transport when the test ends.
func dialT(t *testing.T, h *inventory.Host, opts Options) *Transport {
	t.Helper()
	if opts.Log == nil {
		opts.Log = zaptest.NewLogger(t)
	}
	tr, err := Dial(context.Background(), h, opts)
	if err != nil {
		t.Fatalf("Dial %s: %v", h.Name, err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

// runT runs args and fails the test on an error (not on an exit status).
func runT(t *testing.T, tr *Transport, cmd inventory.Cmd) *inventory.Result {
	t.Helper()
	res, err := tr.Run(context.Background(), cmd)
	if err != nil {
		t.Fatalf("Run %q: %v", cmd.Args, err)
	}
	return res
}

// mustContain fails unless err's message holds every part.
func mustContain(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error does not contain %q:\n%v", p, err)
		}
	}
}

func TestDialKeyFile(t *testing.T) {
	srv := sshtest.Start(t, 1)[0]
	tr := dialT(t, srv.Host("web1"), Options{})
	res := runT(t, tr, inventory.Cmd{Args: []string{"id", "-un"}})
	if got, want := strings.TrimSpace(string(res.Stdout)), currentUser(); got != want {
		t.Errorf("id -un = %q, want %q", got, want)
	}
	if got := tr.Stats(); got != (inventory.Stats{Connections: 1, Execs: 1}) {
		t.Errorf("Stats() = %+v, want 1 connection, 1 exec", got)
	}
	if got := srv.Connections(); got != 1 {
		t.Errorf("server saw %d connections, want 1", got)
	}
}

func TestDialIdentityFileTilde(t *testing.T) {
	srv := sshtest.Start(t, 1)[0]
	home := t.TempDir()
	t.Setenv("HOME", home)
	b, err := os.ReadFile(srv.ClientKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "key"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	h := srv.Host("web1")
	h.IdentityFiles = []string{"~/key"}
	runT(t, dialT(t, h, Options{}), inventory.Cmd{Args: []string{"true"}})
}

// serveAgent serves keyring on a unix socket in a temporary directory and
// returns the socket's path.
func serveAgent(t *testing.T, keyring agent.Agent) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = agent.ServeAgent(keyring, c)
			}()
		}
	}()
	return sock
}

func TestDialAgent(t *testing.T) {
	srv := sshtest.Start(t, 1)[0]
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: srv.ClientKey}); err != nil {
		t.Fatal(err)
	}
	h := srv.Host("web1")
	h.IdentityFiles = nil
	h.UseAgent = true

	t.Run("SSH_AUTH_SOCK", func(t *testing.T) {
		t.Setenv("SSH_AUTH_SOCK", serveAgent(t, keyring))
		runT(t, dialT(t, h, Options{}), inventory.Cmd{Args: []string{"true"}})
	})
	t.Run("Options.Agent", func(t *testing.T) {
		t.Setenv("SSH_AUTH_SOCK", "")
		runT(t, dialT(t, h, Options{Agent: keyring.(agent.ExtendedAgent)}), inventory.Cmd{Args: []string{"true"}})
	})
	t.Run("empty agent", func(t *testing.T) {
		t.Setenv("SSH_AUTH_SOCK", serveAgent(t, agent.NewKeyring()))
		_, err := Dial(context.Background(), h, Options{})
		mustContain(t, err, "connect web1 (127.0.0.1:", "no key to log in as", "0 key(s) of ssh-agent")
	})
	t.Run("no SSH_AUTH_SOCK", func(t *testing.T) {
		t.Setenv("SSH_AUTH_SOCK", "")
		_, err := Dial(context.Background(), h, Options{})
		mustContain(t, err, "SSH_AUTH_SOCK is not")
	})
}

func TestDialKeyProblems(t *testing.T) {
	srv := sshtest.Start(t, 1)[0]
	dir := t.TempDir()

	t.Run("no key at all", func(t *testing.T) {
		h := srv.Host("web1")
		h.IdentityFiles = nil
		_, err := Dial(context.Background(), h, Options{})
		mustContain(t, err, "no key to log in", "no identity files and ssh_agent is off")
	})
	t.Run("passphrase", func(t *testing.T) {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		f := filepath.Join(dir, "locked")
		sshtest.WritePrivateKey(t, f, priv, "secret")
		h := srv.Host("web1")
		h.IdentityFiles = []string{f}
		_, err := Dial(context.Background(), h, Options{})
		mustContain(t, err, f, "passphrase", "ssh-add")
	})
	t.Run("missing file", func(t *testing.T) {
		h := srv.Host("web1")
		h.IdentityFiles = []string{filepath.Join(dir, "nope")}
		_, err := Dial(context.Background(), h, Options{})
		mustContain(t, err, filepath.Join(dir, "nope"))
	})
	t.Run("key not authorized", func(t *testing.T) {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		f := filepath.Join(dir, "stranger")
		sshtest.WritePrivateKey(t, f, priv, "")
		h := srv.Host("web1")
		h.IdentityFiles = []string{f}
		_, err := Dial(context.Background(), h, Options{})
		mustContain(t, err, "log in as "+h.User, f, "unable to authenticate")
	})
}

func TestUnknownHostKey(t *testing.T) {
	srv := sshtest.Start(t, 1)[0]
	kh := filepath.Join(t.TempDir(), "dotssh", "known_hosts")
	h := srv.Host("web1")
	h.KnownHosts = kh
	port := strconv.Itoa(srv.Port)

	_, err := Dial(context.Background(), h, Options{})
	mustContain(t, err, "web1", "127.0.0.1:"+port, "unknown", "ssh-ed25519", ssh.FingerprintSHA256(srv.HostKey),
		"--trust-on-first-use", "ssh-keyscan -p "+port+" 127.0.0.1 >> "+kh)
	if _, err := os.Stat(kh); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused key was recorded: stat %s: %v", kh, err)
	}

	tr := dialT(t, h, Options{TrustOnFirstUse: true})
	runT(t, tr, inventory.Cmd{Args: []string{"true"}})
	b, err := os.ReadFile(kh)
	if err != nil {
		t.Fatal(err)
	}
	want := knownhosts.Line([]string{"[127.0.0.1]:" + port}, srv.HostKey) + "\n"
	if string(b) != want {
		t.Errorf("known_hosts after TOFU:\n%q\nwant\n%q", b, want)
	}
	for path, mode := range map[string]os.FileMode{kh: 0o600, filepath.Dir(kh): 0o700 | os.ModeDir} {
		if fi, err := os.Stat(path); err != nil || fi.Mode() != mode {
			t.Errorf("%s: mode %v (%v), want %v", path, fi.Mode(), err, mode)
		}
	}
	// Recorded: a second dial needs no trust on first use.
	runT(t, dialT(t, h, Options{}), inventory.Cmd{Args: []string{"true"}})
}

func TestTOFUAppendsAfterLastLineWithoutNewline(t *testing.T) {
	srv := sshtest.Start(t, 1)[0]
	kh := filepath.Join(t.TempDir(), "known_hosts")
	other := knownhosts.Line([]string{"other.example"}, srv.ClientSigner.PublicKey())
	if err := os.WriteFile(kh, []byte(other), 0o600); err != nil {
		t.Fatal(err)
	}
	h := srv.Host("web1")
	h.KnownHosts = kh
	dialT(t, h, Options{TrustOnFirstUse: true})
	b, _ := os.ReadFile(kh)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || lines[0] != other {
		t.Errorf("known_hosts after TOFU:\n%s", b)
	}
}

func TestChangedHostKeyRefused(t *testing.T) {
	srv := sshtest.Start(t, 1)[0]
	oldKey := srv.HostKey
	kh := filepath.Join(t.TempDir(), "known_hosts")
	other := knownhosts.Line([]string{"other.example"}, srv.ClientSigner.PublicKey())
	content := "# hosts\n" + other + "\n" + knownhosts.Line([]string{"[127.0.0.1]:" + strconv.Itoa(srv.Port)}, oldKey) + "\n"
	if err := os.WriteFile(kh, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	newKey := srv.RotateHostKey(t)
	h := srv.Host("web1")
	h.KnownHosts = kh
	// Refused even with trust on first use.
	_, err := Dial(context.Background(), h, Options{TrustOnFirstUse: true})
	mustContain(t, err, "web1", "CHANGED", kh+":3", ssh.FingerprintSHA256(oldKey), ssh.FingerprintSHA256(newKey),
		"ssh-keygen -R '[127.0.0.1]:"+strconv.Itoa(srv.Port)+"' -f "+kh)
	if b, _ := os.ReadFile(kh); string(b) != content {
		t.Errorf("known_hosts was changed:\n%s", b)
	}
}

func TestHostKeyAlgorithmsFromKnownHosts(t *testing.T) {
	// The server also has an ECDSA key, which Go prefers, and known_hosts
	// lists only the ed25519 one.
	srv := sshtest.Start(t, 1, sshtest.WithECDSAHostKey())[0]
	h := srv.Host("web1")
	runT(t, dialT(t, h, Options{}), inventory.Cmd{Args: []string{"true"}})

	// Control: without restricting the algorithms the same check fails,
	// so the test above shows something.
	cb, err := knownhosts.New(srv.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ssh.Dial("tcp", srv.Addr, &ssh.ClientConfig{
		User: h.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(srv.ClientSigner)},
		HostKeyCallback: cb, Timeout: 5 * time.Second,
	})
	mustContain(t, err, "key mismatch")
}

func TestRunArgvReachesRemoteIntact(t *testing.T) {
	srv := sshtest.Start(t, 1)[0]
	tr := dialT(t, srv.Host("web1"), Options{})
	dir := t.TempDir()
	args := append([]string{"sh", "-c", `cd "$1" && shift && printf '%s\n' "$@"`, "sh", dir}, awkward...)
	res := runT(t, tr, inventory.Cmd{Args: args})
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	if want := strings.Join(awkward, "\n") + "\n"; string(res.Stdout) != want {
		t.Errorf("got\n%q\nwant\n%q", res.Stdout, want)
	}
	// printf directly, as the first word, too.
	res = runT(t, tr, inventory.Cmd{Args: append([]string{"printf", `%s\n`}, awkward...)})
	if want := strings.Join(awkward, "\n") + "\n"; string(res.Stdout) != want {
		t.Errorf("printf: got\n%q\nwant\n%q", res.Stdout, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "MARKER")); err == nil {
		t.Error("an argument was run by the remote shell: MARKER exists")
	}
	home, _ := os.UserHomeDir()
	if _, err := os.Stat(filepath.Join(home, "MARKER")); err == nil {
		t.Error("an argument was run by the remote shell: ~/MARKER exists")
	}

	env := inventory.Cmd{
		Args: []string{"sh", "-c", `printf '%s|%s' "$A" "$B_2"`},
		Env:  []string{"A=it's $(x) ; `y`", "B_2=line1\nline2"},
	}
	res = runT(t, tr, env)
	if want := "it's $(x) ; `y`|line1\nline2"; string(res.Stdout) != want {
		t.Errorf("env: got %q, want %q", res.Stdout, want)
	}
}

func TestRunStdinExitAndStderr(t *testing.T) {
	srv := sshtest.Start(t, 1)[0]
	tr := dialT(t, srv.Host("web1"), Options{})

	res := runT(t, tr, inventory.Cmd{Args: []string{"cat"}, Stdin: strings.NewReader("hello\nworld")})
	if string(res.Stdout) != "hello\nworld" {
		t.Errorf("cat: %q", res.Stdout)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	res = runT(t, tr, inventory.Cmd{Args: []string{"wc", "-c"}, Stdin: bytes.NewReader(big)})
	if strings.TrimSpace(string(res.Stdout)) != strconv.Itoa(len(big)) {
		t.Errorf("wc -c of 1 MiB: %q", res.Stdout)
	}
	// A command that does not read its input is not an error.
	res = runT(t, tr, inventory.Cmd{Args: []string{"true"}, Stdin: bytes.NewReader(big)})
	if res.ExitCode != 0 {
		t.Errorf("true with unread stdin: exit %d", res.ExitCode)
	}

	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"sh", "-c", "echo oops >&2; exit 3"}, 3, "oops\n"},
		{[]string{"false"}, 1, ""},
		{[]string{"tend-no-such-program"}, 127, "tend-no-such-program"},
		{[]string{"sh", "-c", "kill -9 $$"}, 128 + 9, ""},
	} {
		res := runT(t, tr, inventory.Cmd{Args: tc.args})
		if res.ExitCode != tc.code || !strings.Contains(string(res.Stderr), tc.stderr) {
			t.Errorf("%q: exit %d stderr %q, want exit %d stderr containing %q", tc.args, res.ExitCode, res.Stderr, tc.code, tc.stderr)
		}
	}
	if got, want := tr.Stats().Execs, 7; got != want {
		t.Errorf("Execs = %d, want %d", got, want)
	}
}

func TestRunCancel(t *testing.T) {
	srv := sshtest.Start(t, 1)[0]
	tr := dialT(t, srv.Host("web1"), Options{})
	pidFile := filepath.Join(t.TempDir(), "pid")
	// The deadline leaves the remote command time to start even on a busy
	// machine whose login shell is slow (root's .bashrc may run pyenv).
	const deadline = 3 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	res, err := tr.Run(ctx, inventory.Cmd{Args: []string{"sh", "-c", `echo $$ > "$1"; exec sleep 30`, "sh", pidFile}})
	if !errors.Is(err, context.DeadlineExceeded) || res != nil {
		t.Fatalf("Run = %v, %v; want nil, context.DeadlineExceeded", res, err)
	}
	if d := time.Since(start) - deadline; d > 2*time.Second {
		t.Errorf("Run returned %s after the deadline", d)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the command did not start: %v", err)
	}
	// sshd refuses signal requests for root logins (no post-auth privilege
	// separation), so the remote sleep may outlive the session: end it
	// here, by its PID.
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid > 0 && processAlive(pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	// The connection is still good, and the cancelled Run's session slot
	// comes back: 2*DefaultMaxSessions more Runs finish.
	var wg sync.WaitGroup
	for range 2 * DefaultMaxSessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := tr.Run(context.Background(), inventory.Cmd{Args: []string{"true"}}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// A context cancelled before Run starts nothing.
	execs := tr.Stats().Execs
	cancelled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := tr.Run(cancelled, inventory.Cmd{Args: []string{"true"}}); !errors.Is(err, context.Canceled) {
		t.Errorf("Run with a cancelled ctx: %v", err)
	}
	if got := tr.Stats().Execs; got != execs {
		t.Errorf("Run with a cancelled ctx sent an exec")
	}
}

// processAlive reports whether pid runs and is not a zombie.
func processAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || !bytes.HasPrefix(bytes.TrimSpace(b[i+1:]), []byte("Z"))
}

func TestConcurrentRunsShareOneConnection(t *testing.T) {
	// sshd keeps its default MaxSessions (10): 50 concurrent Runs must
	// queue on the transport's session slots, not fail.
	srv := sshtest.Start(t, 1)[0]
	tr := dialT(t, srv.Host("web1"), Options{})
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := tr.Run(context.Background(), inventory.Cmd{Args: []string{"echo", fmt.Sprint("run ", i)}})
			if err != nil {
				errs <- err
				return
			}
			if got, want := string(res.Stdout), fmt.Sprintf("run %d\n", i); got != want {
				errs <- fmt.Errorf("run %d: got %q", i, got)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if _, err := tr.FS(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.FS(context.Background()); err != nil { // no second SFTP
		t.Fatal(err)
	}
	want := inventory.Stats{Connections: 1, Execs: n + 1}
	if got := tr.Stats(); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	waitFor(t, func() bool { return srv.Sessions() >= n+1 })
	if got := srv.Connections(); got != want.Connections {
		t.Errorf("sshd log: %d connections, want %d", got, want.Connections)
	}
	if got := srv.Sessions(); got != want.Execs {
		t.Errorf("sshd log: %d sessions, want %d", got, want.Execs)
	}
}

// waitFor polls cond for up to two seconds (sshd's log trails the client
// by a moment).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

func TestConnectionDroppedMidRun(t *testing.T) {
	srv := sshtest.Start(t, 1)[0]
	tr := dialT(t, srv.Host("web1"), Options{})
	type outcome struct {
		res *inventory.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := tr.Run(context.Background(), inventory.Cmd{Args: []string{"sleep", "30"}})
		done <- outcome{res, err}
	}()
	waitFor(t, func() bool { return srv.Sessions() >= 1 })
	if srv.Sessions() < 1 {
		t.Fatal("the command never started")
	}
	if n := srv.KillConnections(t); n == 0 {
		t.Fatal("no connection process to kill")
	}
	select {
	case o := <-done:
		if o.err == nil {
			t.Fatalf("Run returned a Result (%+v) for a lost connection, want an error", o.res)
		}
		mustContain(t, o.err, "run sleep on web1")
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the connection dropped")
	}
	_, err := tr.Run(context.Background(), inventory.Cmd{Args: []string{"true"}})
	mustContain(t, err, "run true on web1")
}

func TestConnectTimeoutSilentServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never written to
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	srv := sshtest.Start(t, 1)[0] // only for a client key
	h := srv.Host("silent")
	h.Port = l.Addr().(*net.TCPAddr).Port
	h.ConnectTimeout = 300 * time.Millisecond
	start := time.Now()
	_, err = Dial(context.Background(), h, Options{})
	took := time.Since(start)
	mustContain(t, err, "connect silent (127.0.0.1:"+strconv.Itoa(h.Port)+")", "no SSH handshake within 300ms")
	if took < 300*time.Millisecond || took > 2*time.Second {
		t.Errorf("Dial gave up after %s, want about 300ms", took)
	}

	// ctx bounds it too.
	h.ConnectTimeout = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = Dial(ctx, h, Options{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Dial with an expiring ctx: %v, want context.DeadlineExceeded", err)
	}
}

func TestConnectRefused(t *testing.T) {
	srv := sshtest.Start(t, 1)[0]
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	h := srv.Host("gone")
	h.Port = port
	_, err = Dial(context.Background(), h, Options{})
	mustContain(t, err, "connect gone (127.0.0.1:"+strconv.Itoa(port)+")", "refused")
}

func TestJumpHost(t *testing.T) {
	srvs := sshtest.Start(t, 2)
	bastion, target := srvs[0], srvs[1]
	h := target.Host("inner")
	h.Jump = bastion.Jump()
	tr := dialT(t, h, Options{})
	res := runT(t, tr, inventory.Cmd{Args: []string{"echo", "through"}})
	if string(res.Stdout) != "through\n" {
		t.Errorf("got %q", res.Stdout)
	}
	if got := tr.Stats(); got != (inventory.Stats{Connections: 1, Execs: 1}) {
		t.Errorf("Stats() = %+v", got)
	}
	waitFor(t, func() bool { return target.Sessions() >= 1 })
	if b, tg := bastion.Connections(), target.Connections(); b != 1 || tg != 1 {
		t.Errorf("connections: bastion %d, target %d; want 1 and 1", b, tg)
	}
	if got := bastion.Sessions(); got != 0 {
		t.Errorf("bastion ran %d sessions, want 0 (it only forwards)", got)
	}

	// Control: a bastion that refuses forwarding fails the dial, so the
	// connection above did go through the bastion.
	closed := sshtest.Start(t, 1, sshtest.WithConfig("AllowTcpForwarding no"))[0]
	h.Jump = closed.Jump()
	_, err := Dial(context.Background(), h, Options{})
	mustContain(t, err, "connect inner", "jump host 127.0.0.1:"+strconv.Itoa(closed.Port))

	// The bastion's host key is checked like any other.
	h.Jump = bastion.Jump()
	h.Jump.KnownHosts = filepath.Join(t.TempDir(), "empty")
	_, err = Dial(context.Background(), h, Options{})
	mustContain(t, err, "jump host 127.0.0.1:"+strconv.Itoa(bastion.Port), "unknown")
}

// requireSudo fails the test when sudo is missing.
func requireSudo(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("sudo"); err != nil {
		t.Fatal("sudo not found: apt-get install -y sudo")
	}
	if os.Geteuid() != 0 {
		t.Fatal("the become tests run as root (sudo -n must not ask for a password)")
	}
}

func TestBecome(t *testing.T) {
	requireSudo(t)
	srv := sshtest.Start(t, 1)[0]
	h := srv.Host("web1")
	h.Become, h.BecomeUser = true, "nobody"
	tr := dialT(t, h, Options{})
	res := runT(t, tr, inventory.Cmd{Args: []string{"id", "-un"}})
	if got := strings.TrimSpace(string(res.Stdout)); got != "nobody" || res.ExitCode != 0 {
		t.Errorf("id -un under become = %q (exit %d, %s), want nobody", got, res.ExitCode, res.Stderr)
	}
	res = runT(t, tr, inventory.Cmd{Args: []string{"id", "-un"}, NoBecome: true})
	if got := strings.TrimSpace(string(res.Stdout)); got != h.User {
		t.Errorf("id -un with NoBecome = %q, want %q", got, h.User)
	}
	res = runT(t, tr, inventory.Cmd{Args: []string{"sh", "-c", `printf %s "$X"`}, Env: []string{"X=kept"}})
	if string(res.Stdout) != "kept" {
		t.Errorf("env under sudo: %q (%s)", res.Stdout, res.Stderr)
	}

	// Become root as root: no sudo in the way.
	h2 := srv.Host("web2")
	h2.Become = true
	tr2 := dialT(t, h2, Options{})
	if tr2.become != "" {
		t.Errorf("become %q for a login as %s, want none", tr2.become, h2.User)
	}
}

func TestBecomeSFTP(t *testing.T) {
	requireSudo(t)
	srv := sshtest.Start(t, 1)[0]
	// A directory nobody may write to, outside the 0700 test temp dirs.
	dir, err := os.MkdirTemp("", "tend-become-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	h := srv.Host("web1")
	h.Become, h.BecomeUser = true, "nobody"
	tr := dialT(t, h, Options{})
	fsys, err := tr.FS(context.Background())
	if err != nil {
		t.Fatalf("FS under become: %v", err)
	}
	f := filepath.Join(dir, "owned")
	w, err := fsys.CreateExclusive(f, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(f)
	if err != nil {
		t.Fatal(err)
	}
	if uid := fi.Sys().(*syscall.Stat_t).Uid; uid != 65534 {
		t.Errorf("file written under become is owned by uid %d, want nobody (65534)", uid)
	}
	if got := tr.Stats().Execs; got != 1 {
		t.Errorf("Execs = %d after opening SFTP through sudo, want 1", got)
	}
	waitFor(t, func() bool { return srv.Sessions() >= 1 })
	if got := srv.Sessions(); got != 1 {
		t.Errorf("sshd log: %d sessions, want 1", got)
	}

	// A wrong sftp-server path fails clearly, and the failure is kept.
	tr2 := dialT(t, h, Options{})
	tr2.SetSFTPServer("/nonexistent/sftp-server")
	_, err = tr2.FS(context.Background())
	mustContain(t, err, "/nonexistent/sftp-server", "nobody", "web1")
	_, err2 := tr2.FS(context.Background())
	if err2 == nil || err2.Error() != err.Error() {
		t.Errorf("second FS call: %v, want the first error again", err2)
	}
	if got := tr2.Stats().Execs; got != 1 {
		t.Errorf("Execs = %d after a failed SFTP start tried twice, want 1", got)
	}
}

func TestCloseIdempotent(t *testing.T) {
	srv := sshtest.Start(t, 1)[0]
	tr, err := Dial(context.Background(), srv.Host("web1"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.FS(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := tr.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	_, err = tr.Run(context.Background(), inventory.Cmd{Args: []string{"true"}})
	mustContain(t, err, "run true on web1")
	_, err = tr.FS(context.Background())
	mustContain(t, err, "closed")
}
