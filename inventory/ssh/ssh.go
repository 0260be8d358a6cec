package ssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"
	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/tendhq/tend/inventory"
)

// Defaults applied when the inventory or Options leave a setting empty.
const (
	DefaultPort           = 22
	DefaultConnectTimeout = 10 * time.Second
	DefaultBecomeUser     = "root"
	DefaultSFTPServer     = "/usr/lib/openssh/sftp-server"
	// DefaultMaxSessions keeps concurrent Runs under OpenSSH's default
	// MaxSessions (10), leaving room for the SFTP session and for sessions
	// the server has not freed yet: a Run returns when the command exits,
	// before sshd has closed its side of the channel, so a new session
	// can briefly meet the old one there ("open failed" at 10).
	DefaultMaxSessions = 7
)

// killGrace is how long a cancelled command has between SIGTERM and SIGKILL.
const killGrace = 2 * time.Second

// Options are the settings of Dial that do not come from the inventory.
type Options struct {
	// TrustOnFirstUse records the host key of a host that known_hosts does
	// not list yet, and accepts it. A changed key is refused regardless.
	TrustOnFirstUse bool
	// Log receives connection events; nil discards them.
	Log *zap.Logger
	// Agent, when set, is used instead of the agent at $SSH_AUTH_SOCK for
	// hosts with UseAgent (tests pass an in-process keyring).
	Agent agent.ExtendedAgent
	// SFTPServer is the path of sftp-server on the host, run through sudo
	// for SFTP under become. Empty means DefaultSFTPServer until
	// SetSFTPServer says otherwise.
	SFTPServer string
	// MaxSessions bounds the concurrent Runs on the connection; further
	// Runs wait for a free slot. Zero means DefaultMaxSessions.
	MaxSessions int
}

// Transport is one SSH connection to one host, used by every Run and by the
// SFTP file system. It implements inventory.Transport; all methods are safe
// for concurrent use.
type Transport struct {
	name   string // the inventory name, for messages
	login  string // the user sshd authenticated
	become string // the user sudo switches to, "" for none
	log    *zap.Logger
	client *ssh.Client
	jump   *ssh.Client // the bastion's connection, nil without one
	// slots holds one token per running Run: sshd refuses channels past
	// its MaxSessions, so Runs beyond the bound wait here instead of
	// failing with "administratively prohibited".
	slots chan struct{}

	// conns and execs back Stats; they only grow.
	conns atomic.Int64
	execs atomic.Int64

	// mu guards the lazily opened SFTP state and closed. FS holds it
	// while SFTP opens, so concurrent first calls open it once.
	mu         sync.Mutex
	sftpServer string
	sftp       *sftp.Client
	sftpSess   *ssh.Session // the sudo sftp-server session, under become
	fsys       *fileSystem
	fsErr      error // the failure to open SFTP, returned by every FS call
	closed     bool
}

var _ inventory.Transport = (*Transport)(nil)

// Dial connects to h, through h.Jump when set, and authenticates. It opens
// one network connection to the host (and one to the jump host); every Run
// and the SFTP channel share it. h.ConnectTimeout bounds the TCP connect and
// the SSH handshake of each hop. Errors name the host and its address.
func Dial(ctx context.Context, h *inventory.Host, opts Options) (*Transport, error) {
	log := opts.Log
	if log == nil {
		log = zap.NewNop()
	}
	target, err := targetEndpoint(h)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", h.Name, err)
	}
	wrap := func(err error) error {
		return fmt.Errorf("connect %s (%s:%d): %w", h.Name, target.addr, target.port, err)
	}
	timeout := h.ConnectTimeout
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	// Every entry of this transport says which host it is about.
	log = log.With(zap.String("host", h.Name), zap.String("address", target.hostport()))

	t := &Transport{
		name:       h.Name,
		login:      target.user,
		log:        log,
		sftpServer: opts.SFTPServer,
	}
	// Become is decided once: sudo only when it changes the user, so a
	// host that logs in as root with become = true pays nothing for it.
	if h.Become {
		t.become = h.BecomeUser
		if t.become == "" {
			t.become = DefaultBecomeUser
		}
		if t.become == t.login {
			t.become = "" // already that user: no sudo
		}
	}
	if t.sftpServer == "" {
		t.sftpServer = DefaultSFTPServer
	}
	n := opts.MaxSessions
	if n <= 0 {
		n = DefaultMaxSessions
	}
	t.slots = make(chan struct{}, n)

	// dial opens the byte stream the target's SSH runs over: a TCP
	// connection, or a direct-tcpip channel of the jump host's connection.
	dial := func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", target.hostport())
	}
	if h.Jump != nil {
		// The bastion is authenticated and host-key checked like the
		// target, with its own settings (see jumpEndpoint), and its own
		// ConnectTimeout budget.
		jep, err := jumpEndpoint(h, target)
		if err != nil {
			return nil, wrap(err)
		}
		jdial := func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", jep.hostport())
		}
		t.jump, err = connect(ctx, jep, jdial, opts, timeout, log)
		if err != nil {
			return nil, wrap(fmt.Errorf("%s: %w", jep.label, err))
		}
		log.Debug("connected to jump host", zap.String("jump", jep.hostport()))
		dial = func(ctx context.Context) (net.Conn, error) {
			c, err := t.jump.DialContext(ctx, "tcp", target.hostport())
			if err != nil {
				return nil, fmt.Errorf("tunnel through %s: %w", jep.label, err)
			}
			return c, nil
		}
	}
	t.client, err = connect(ctx, target, dial, opts, timeout, log)
	if err != nil {
		// Nothing may outlive a failed Dial: the caller gets no
		// Transport to Close.
		if t.jump != nil {
			_ = t.jump.Close()
		}
		return nil, wrap(err)
	}
	t.conns.Add(1)
	log.Debug("connected", zap.String("user", t.login))
	return t, nil
}

// targetEndpoint applies the inventory defaults to h.
func targetEndpoint(h *inventory.Host) (endpoint, error) {
	ep := endpoint{
		label:         h.Name,
		addr:          h.Address,
		port:          h.Port,
		user:          h.User,
		identityFiles: h.IdentityFiles,
		useAgent:      h.UseAgent,
		knownHosts:    h.KnownHosts,
	}
	if ep.addr == "" {
		ep.addr = h.Name
	}
	if ep.port == 0 {
		ep.port = DefaultPort
	}
	if ep.user == "" {
		ep.user = currentUser()
	}
	if ep.knownHosts == "" {
		ep.knownHosts = "~/.ssh/known_hosts"
	}
	kh, err := expandHome(ep.knownHosts)
	if err != nil {
		return ep, fmt.Errorf("known_hosts %s: %w", ep.knownHosts, err)
	}
	ep.knownHosts = kh
	return ep, nil
}

// jumpEndpoint applies defaults to h.Jump: the target's login user and
// known_hosts file, and the target's keys when the jump host names none.
func jumpEndpoint(h *inventory.Host, target endpoint) (endpoint, error) {
	j := h.Jump
	ep := endpoint{
		addr:          j.Address,
		port:          j.Port,
		user:          j.User,
		identityFiles: j.IdentityFiles,
		useAgent:      j.UseAgent,
		knownHosts:    j.KnownHosts,
	}
	if ep.port == 0 {
		ep.port = DefaultPort
	}
	if ep.user == "" {
		ep.user = target.user
	}
	if len(ep.identityFiles) == 0 && !ep.useAgent {
		ep.identityFiles, ep.useAgent = target.identityFiles, target.useAgent
	}
	if ep.knownHosts == "" {
		ep.knownHosts = target.knownHosts
	}
	kh, err := expandHome(ep.knownHosts)
	if err != nil {
		return ep, fmt.Errorf("jump host known_hosts %s: %w", ep.knownHosts, err)
	}
	ep.knownHosts = kh
	ep.label = "jump host " + ep.hostport()
	if ep.addr == "" {
		return ep, errors.New("jump host has no address")
	}
	return ep, nil
}

// connect dials ep with dial and runs the SSH handshake, both within timeout.
// The deadline is enforced by closing the connection, which also works for a
// connection tunnelled through a jump host (those have no deadlines).
func connect(ctx context.Context, ep endpoint, dial func(context.Context) (net.Conn, error),
	opts Options, timeout time.Duration, log *zap.Logger) (*ssh.Client, error) {
	// Keys and known_hosts are read before dialling: a missing key file
	// or a malformed known_hosts fails without touching the network.
	auth, release, err := authMethod(ep, opts, timeout, log)
	if err != nil {
		return nil, err
	}
	defer release()
	hk, err := newHostKeys(ep, opts.TrustOnFirstUse, log)
	if err != nil {
		return nil, err
	}
	// HostKeyAlgorithms is narrowed to the types on record: otherwise a
	// server with an ECDSA and an ed25519 key, of which known_hosts lists
	// the ed25519 one, would present ECDSA and fail as "key mismatch".
	cfg := &ssh.ClientConfig{
		User:              ep.user,
		Auth:              []ssh.AuthMethod{auth},
		HostKeyCallback:   hk.check,
		HostKeyAlgorithms: hk.algorithms(),
		Timeout:           timeout,
	}

	// One deadline covers the TCP connect and the handshake: a port that
	// accepts but never speaks SSH must not hang the run.
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := dial(dctx)
	if err != nil {
		if ctx.Err() == nil && errors.Is(dctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("no TCP connection within %s: %w", timeout, err)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	stop := context.AfterFunc(dctx, func() { _ = conn.Close() })
	c, chans, reqs, err := ssh.NewClientConn(conn, ep.hostport(), cfg)
	if !stop() {
		// The deadline or ctx fired and closed conn, whatever the
		// handshake returned.
		if err == nil {
			_ = c.Close()
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("no SSH handshake within %s (the port accepts TCP but the server does not answer)", timeout)
	}
	if err != nil {
		_ = conn.Close()
		// The ssh package wraps the callback's error in "ssh: handshake
		// failed"; the explained refusal reads better on its own.
		if hkErr := hk.lastErr(); hkErr != nil {
			return nil, hkErr
		}
		if strings.Contains(err.Error(), "unable to authenticate") {
			return nil, fmt.Errorf("log in as %s with %s: %w", ep.user, describeAuth(ep), err)
		}
		return nil, err
	}
	return ssh.NewClient(c, chans, reqs), nil
}

// SetSFTPServer sets the path of sftp-server on the host (the probe's
// resources.Facts.SFTPServer) for SFTP under become. It has an effect only
// before the first FS call.
func (t *Transport) SetSFTPServer(path string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if path != "" {
		t.sftpServer = path
	}
}

// Run executes cmd in a new session on the connection. The remote command
// line is cmd.Args with every word quoted once, behind `env` for cmd.Env and
// `sudo -n -u USER --` under become. A non-zero exit status, or death by a
// signal (128+N), is a Result; a lost connection or a command that ended
// without a status is an error. Cancelling ctx returns ctx.Err() at once; in
// the background the command gets SIGTERM, SIGKILL two seconds later, and
// the session is closed. sshd refuses signals on root logins (they run
// without post-auth privilege separation), so there a command that neither
// reads nor writes its closed channel runs on until it ends by itself.
func (t *Transport) Run(ctx context.Context, cmd inventory.Cmd) (*inventory.Result, error) {
	line, err := commandLine(cmd, t.become)
	if err != nil {
		return nil, fmt.Errorf("run on %s: %w", t.name, err)
	}
	prog := cmd.Args[0]
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case t.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	release := func() { <-t.slots }
	// Each Run is its own session (channel) on the shared connection:
	// cheap, concurrent, and counted by sshd as "Starting session".
	sess, err := t.client.NewSession()
	if err != nil {
		release()
		return nil, fmt.Errorf("run %s on %s: open session: %w", prog, t.name, lostConn(err))
	}
	var stdout, stderr bytes.Buffer
	sess.Stdout, sess.Stderr = &stdout, &stderr
	if cmd.Stdout != nil {
		sess.Stdout = cmd.Stdout
	}
	var stdin io.WriteCloser
	if cmd.Stdin != nil {
		// Our own copy, so that a command that exits without reading its
		// input is not reported as a failed write.
		if stdin, err = sess.StdinPipe(); err != nil {
			_ = sess.Close()
			release()
			return nil, fmt.Errorf("run %s on %s: %w", prog, t.name, err)
		}
	}
	t.execs.Add(1)
	start := time.Now()
	if err := sess.Start(line); err != nil {
		_ = sess.Close()
		release()
		return nil, fmt.Errorf("run %s on %s: %w", prog, t.name, lostConn(err))
	}
	if stdin != nil {
		go func() {
			_, _ = io.Copy(stdin, cmd.Stdin)
			_ = stdin.Close()
		}()
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err = <-done:
		_ = sess.Close()
		release()
	case <-ctx.Done():
		// Stop the command in the background; the slot is freed once
		// the session is gone.
		go func() {
			defer release()
			_ = sess.Signal(ssh.SIGTERM)
			select {
			case <-done:
			case <-time.After(killGrace):
				_ = sess.Signal(ssh.SIGKILL)
			}
			_ = sess.Close()
		}()
		t.log.Debug("run cancelled", zap.String("program", prog), zap.Error(ctx.Err()))
		return nil, ctx.Err()
	}

	// Wait's error tells the outcome apart: an ExitError carries the
	// remote status (128+N for a signal), ExitMissingError means the
	// channel closed without one, which happens when the connection
	// drops; anything else is a transport failure.
	res := &inventory.Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	var (
		exit    *ssh.ExitError
		missing *ssh.ExitMissingError
	)
	switch {
	case err == nil:
	case errors.As(err, &exit):
		res.ExitCode = exit.ExitStatus()
	case errors.As(err, &missing):
		return nil, fmt.Errorf("run %s on %s: the command ended without an exit status (connection lost?)", prog, t.name)
	default:
		return nil, fmt.Errorf("run %s on %s: %w", prog, t.name, lostConn(err))
	}
	if ce := t.log.Check(zap.DebugLevel, "ran"); ce != nil {
		ce.Write(zap.String("program", prog), zap.Int("exit", res.ExitCode), zap.Duration("took", time.Since(start)))
	}
	return res, nil
}

// lostConn makes the bare io.EOF of a dead connection say what it means.
func lostConn(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("connection lost: %w", err)
	}
	return err
}

// Stats reports the handshakes with the target (always 1 after Dial; the
// jump host's is not counted) and the exec requests and SFTP starts so far.
func (t *Transport) Stats() inventory.Stats {
	return inventory.Stats{Connections: int(t.conns.Load()), Execs: int(t.execs.Load())}
}

// Close ends SFTP, then the connection, then the jump host's connection. It
// is safe to call more than once; later calls return nil.
func (t *Transport) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	var errs []error
	if t.sftp != nil {
		if err := t.sftp.Close(); err != nil && !closedErr(err) {
			errs = append(errs, fmt.Errorf("close sftp on %s: %w", t.name, err))
		}
	}
	if t.sftpSess != nil {
		_ = t.sftpSess.Close()
	}
	if err := t.client.Close(); err != nil && !closedErr(err) {
		errs = append(errs, fmt.Errorf("close connection to %s: %w", t.name, err))
	}
	if t.jump != nil {
		if err := t.jump.Close(); err != nil && !closedErr(err) {
			errs = append(errs, fmt.Errorf("close jump connection of %s: %w", t.name, err))
		}
	}
	t.log.Debug("closed", zap.Int("execs", int(t.execs.Load())))
	return errors.Join(errs...)
}

// closedErr reports errors that only say the connection was already gone.
func closedErr(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) || errors.Is(err, os.ErrClosed)
}
