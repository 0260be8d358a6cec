package inventory

import (
	"context"
	"io"
	"io/fs"
	"net"
)

// Cmd is one remote execution: an argv, never a shell string. The transport
// quotes every element exactly once; callers never quote user values.
type Cmd struct {
	// Args is the program and its arguments. Args[0] is looked up in the
	// target's PATH.
	Args []string
	// Stdin, when non-nil, is copied to the program's standard input.
	Stdin io.Reader
	// Env holds extra environment variables (NAME=value). The SSH transport
	// passes them through env(1) so that sshd's AcceptEnv does not matter.
	Env []string
	// NoBecome runs the command as the login user even when the host is
	// configured to become another user.
	NoBecome bool
	// Stdout, when non-nil, receives the program's standard output as it
	// is produced instead of it being buffered: Result.Stdout is then
	// empty. It lets a caller react to a long-running command (the
	// engine's per-host lock waits for "locked"). Run calls Write from
	// one goroutine at a time.
	Stdout io.Writer
}

// Result is the outcome of a Cmd that ran to completion. A non-zero exit
// status is a Result, not an error: errors mean the command could not be run
// or its outcome is unknown (connection lost, timeout).
type Result struct {
	Stdout   []byte
	Stderr   []byte
	ExitCode int
}

// Stats counts what a transport cost on the wire. The no-op contract (one
// connection, at most two executions per host) is asserted on these numbers
// and, in tests, on the server's own log.
type Stats struct {
	Connections int // network connections opened (SSH handshakes)
	Execs       int // remote executions: exec requests and SFTP subsystems
}

// Transport reaches one host. It is opened once per host per run and used by
// the probe, the content fetch and apply; every method is safe for concurrent
// use. Implementations: inventory/ssh (agentless, over SSH) and
// inventory/local (this machine).
type Transport interface {
	// Run executes cmd and waits for it. It honours ctx: cancelling it
	// kills the remote command where the protocol allows and returns
	// ctx.Err().
	Run(ctx context.Context, cmd Cmd) (*Result, error)

	// FS returns the host's file system for changing files. The SSH
	// transport opens its SFTP channel on the first call only (under become,
	// the SFTP server runs through sudo), so runs that change nothing never
	// pay for it.
	FS(ctx context.Context) (FileSystem, error)

	// Stats reports what this transport has cost so far.
	Stats() Stats

	// Close releases the connection. It is safe to call more than once.
	Close() error
}

// FileSystem is the small set of primitives apply needs; both sftp.Client and
// the os package provide them. All paths are absolute.
type FileSystem interface {
	// CreateExclusive creates a new file with exactly the permission bits
	// perm (no umask applies) and fails with fs.ErrExist if it exists.
	CreateExclusive(path string, perm fs.FileMode) (io.WriteCloser, error)
	Chmod(path string, mode fs.FileMode) error
	// Lchown changes the numeric owner and group of path, not following a
	// final symlink.
	Lchown(path string, uid, gid int) error
	// Rename atomically replaces newpath with oldpath (POSIX rename).
	Rename(oldpath, newpath string) error
	Mkdir(path string, perm fs.FileMode) error
	Symlink(target, path string) error
	Remove(path string) error
	// RemoveAll removes path and, for a directory, everything below it.
	RemoveAll(path string) error
	// Lstat reports path without following a final symlink: its type and
	// permission bits, its owner's uid, and a symlink's target.
	Lstat(path string) (*PathInfo, error)
}

// PathInfo is what FileSystem.Lstat reports of a path.
type PathInfo struct {
	Mode   fs.FileMode // type bits and permissions, as fs.FileInfo.Mode
	UID    int
	Target string // a symlink's target; "" for other types
}

// Dialer is a Transport that can open a TCP connection from the host itself,
// as the host sees the network: the SSH transport opens a direct-tcpip
// channel over its one connection (no new handshake, nothing installed on
// the host), the local transport dials directly. Health checks use it to
// reach http://127.0.0.1:PORT on the host.
type Dialer interface {
	// DialContext connects to addr ("host:port") from the host; network is
	// "tcp".
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}
