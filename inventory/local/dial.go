package local

import (
	"context"
	"fmt"
	"net"

	"github.com/tendhq/tend/inventory"
)

var _ inventory.Dialer = (*Transport)(nil)

// DialContext connects to addr ("host:port") from this machine with a plain
// net.Dialer; ctx bounds the connect. network must be "tcp", "tcp4" or
// "tcp6". It is not counted in Stats, which counts commands only. Errors
// name addr and the host.
func (t *Transport) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("dial %s %s from %s: only tcp is supported", network, addr, t.name)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("dial %s from %s: %w", addr, t.name, err)
	}
	return c, nil
}
