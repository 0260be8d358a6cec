package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/tendhq/tend/inventory"
)

// waitDelay bounds how long Run waits for the output pipes after the command
// exited or was killed, when a grandchild still holds them open.
const waitDelay = 2 * time.Second

// Options configure a local transport.
type Options struct {
	// Name is the host name used in messages; default "localhost".
	Name string
	// Become runs commands through `sudo -n -u BecomeUser --`, unless
	// BecomeUser is the user tend runs as.
	Become     bool
	BecomeUser string // default root
	// Log receives one debug entry per command; nil discards them.
	Log *zap.Logger
}

// Transport runs commands and changes files on this machine. It implements
// inventory.Transport; all methods are safe for concurrent use.
type Transport struct {
	name   string
	become string // the user sudo switches to, "" for none
	log    *zap.Logger
	execs  atomic.Int64
	fsys   *fileSystem
}

var _ inventory.Transport = (*Transport)(nil)

// New returns a transport for this machine. It cannot fail: nothing is
// opened until a command runs.
func New(opts Options) *Transport {
	t := &Transport{name: opts.Name, log: opts.Log}
	if t.name == "" {
		t.name = "localhost"
	}
	if t.log == nil {
		t.log = zap.NewNop()
	}
	if opts.Become {
		t.become = opts.BecomeUser
		if t.become == "" {
			t.become = "root"
		}
		if u, err := user.Current(); err == nil && u.Username == t.become {
			t.become = ""
		}
	}
	t.fsys = &fileSystem{name: t.name}
	return t
}

// Run executes cmd.Args directly (Args[0] looked up in PATH) with cmd.Env
// added to this process's environment. A non-zero exit status is a Result;
// death by signal N is exit status 128+N and a program that is not found is
// 127, as a shell (and so the SSH transport) reports them. Cancelling ctx
// kills the command's whole process group and returns ctx.Err().
func (t *Transport) Run(ctx context.Context, cmd inventory.Cmd) (*inventory.Result, error) {
	if len(cmd.Args) == 0 {
		return nil, fmt.Errorf("run on %s: empty argv", t.name)
	}
	for _, e := range cmd.Env {
		if name, _, ok := strings.Cut(e, "="); !ok || name == "" {
			return nil, fmt.Errorf("run %s on %s: environment entry %q is not NAME=value", cmd.Args[0], t.name, e)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	prog := cmd.Args[0]
	argv := cmd.Args
	env := append(os.Environ(), cmd.Env...)
	if t.become != "" && !cmd.NoBecome {
		// sudo resets the environment: pass cmd.Env through env(1).
		argv = append([]string{"sudo", "-n", "-u", t.become, "--", "env"}, cmd.Env...)
		argv = append(argv, cmd.Args...)
		env = os.Environ()
	}
	c := exec.CommandContext(ctx, argv[0], argv[1:]...)
	c.Env = env
	var stdin io.WriteCloser
	if cmd.Stdin != nil {
		// Our own copy, as the SSH transport does: Run returns when the
		// command exits, even if cmd.Stdin has not ended (a pipe the
		// caller keeps open, like the engine's host lock).
		var err error
		if stdin, err = c.StdinPipe(); err != nil {
			return nil, fmt.Errorf("run %s on %s: %w", prog, t.name, err)
		}
	}
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if cmd.Stdout != nil {
		c.Stdout = cmd.Stdout
	}
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error {
		// The group's ID is the command's PID: this reaches its children
		// and nothing else.
		return syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
	}
	c.WaitDelay = waitDelay

	t.execs.Add(1)
	start := time.Now()
	err := c.Start()
	if err == nil {
		if stdin != nil {
			go func() {
				_, _ = io.Copy(stdin, cmd.Stdin)
				_ = stdin.Close()
			}()
		}
		err = c.Wait()
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	res := &inventory.Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		res.ExitCode = exit.ExitCode()
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.ExitCode = 128 + int(ws.Signal())
		}
	case errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist):
		res.ExitCode = 127
		res.Stderr = append(res.Stderr, fmt.Sprintf("%s: command not found\n", argv[0])...)
	default:
		return nil, fmt.Errorf("run %s on %s: %w", prog, t.name, err)
	}
	if ce := t.log.Check(zap.DebugLevel, "ran"); ce != nil {
		ce.Write(zap.String("host", t.name), zap.String("program", prog),
			zap.Int("exit", res.ExitCode), zap.Duration("took", time.Since(start)))
	}
	return res, nil
}

// FS returns this machine's file system. Its operations run as the user
// tend runs as; become applies to Run only.
func (t *Transport) FS(ctx context.Context) (inventory.FileSystem, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return t.fsys, nil
}

// Stats reports no connections and the number of commands run so far.
func (t *Transport) Stats() inventory.Stats {
	return inventory.Stats{Execs: int(t.execs.Load())}
}

// Close does nothing and returns nil: nothing is held open.
func (t *Transport) Close() error { return nil }
