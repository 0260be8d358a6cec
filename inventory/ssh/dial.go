package ssh

import (
	"context"
	"errors"
	"fmt"
	"net"

	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"

	"github.com/tendhq/tend/inventory"
)

// This file lets the host itself open TCP connections for tend: a health
// check reaches http://127.0.0.1:PORT as the host sees it, through a
// direct-tcpip channel of the one SSH connection (what `ssh -L` uses), so
// nothing is installed on the host and no new handshake happens.

var _ inventory.Dialer = (*Transport)(nil)

// DialContext connects to addr ("host:port") from the host, over a
// direct-tcpip channel of the transport's connection: the host resolves and
// dials addr, so 127.0.0.1 is the host's own loopback (through a jump host,
// too, since the channel is opened on the target's connection). It costs no
// connection and no exec in Stats, and does not take one of the Run slots
// (sshd's MaxSessions counts sessions, not forwarded channels).
//
// network must be "tcp", "tcp4" or "tcp6". ctx bounds the opening of the
// channel only; the returned net.Conn then lives until closed. It has no
// deadlines (SetDeadline returns an error) and zero addresses: interrupt it
// by closing it, as net/http does when a request's context ends. When sshd
// refuses forwarding
// (AllowTcpForwarding no, or a PermitOpen that does not list addr), the
// error matches errors.ErrUnsupported, so that a caller can fall back to a
// command run on the host; a port nobody listens on is an ordinary error
// ("connect failed (Connection refused)").
func (t *Transport) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("dial %s %s from %s: only tcp is supported", network, addr, t.name)
	}
	t.mu.Lock()
	closed := t.closed
	t.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("dial %s from %s: transport closed", addr, t.name)
	}
	c, err := t.client.DialContext(ctx, network, addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var oce *ssh.OpenChannelError
		if errors.As(err, &oce) && oce.Reason == ssh.Prohibited {
			return nil, &refusedError{addr: addr, host: t.name, login: t.login, err: err}
		}
		return nil, fmt.Errorf("dial %s from %s: %w", addr, t.name, lostConn(err))
	}
	if ce := t.log.Check(zap.DebugLevel, "tcp channel opened"); ce != nil {
		ce.Write(zap.String("to", addr))
	}
	return c, nil
}

// refusedError is sshd's refusal to forward a TCP connection. It unwraps to
// both the ssh package's error and errors.ErrUnsupported.
type refusedError struct {
	addr, host, login string
	err               error
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("dial %s from %s: the SSH server refuses TCP forwarding for %s "+
		"(sshd_config AllowTcpForwarding or PermitOpen): %v", e.addr, e.host, e.login, e.err)
}

func (e *refusedError) Unwrap() []error { return []error{e.err, errors.ErrUnsupported} }
