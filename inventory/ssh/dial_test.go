package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/tendhq/tend/internal/sshtest"
	"github.com/tendhq/tend/inventory"
)

// helloServer is an HTTP server on 127.0.0.1 that answers "hello from PATH"
// and counts its requests.
func helloServer(t *testing.T) (*httptest.Server, *sync.Mutex, *int) {
	t.Helper()
	var (
		mu sync.Mutex
		n  int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		fmt.Fprintf(w, "hello from %s", r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	return srv, &mu, &n
}

// getThrough fetches url with an HTTP client whose connections d opens.
func getThrough(d inventory.Dialer, url string) (string, error) {
	c := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	defer c.CloseIdleConnections()
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), nil
}

// TestDialContext fetches pages from an HTTP server on 127.0.0.1 through
// direct-tcpip channels, concurrently, and checks that neither Stats nor
// sshd's log count a connection or a session for them; then the errors: a
// closed port, another network, a cancelled context, a closed transport.
func TestDialContext(t *testing.T) {
	srv := sshtest.Start(t, 1)[0]
	web, mu, requests := helloServer(t)
	tr := dialT(t, srv.Host("web1"), Options{})
	runT(t, tr, inventory.Cmd{Args: []string{"true"}}) // sshd has logged the login
	waitFor(t, func() bool { return srv.Sessions() >= 1 })
	before, conns, sessions := tr.Stats(), srv.Connections(), srv.Sessions()

	// Concurrent requests, each on its own channel of the one connection,
	// more of them than the session slots.
	const n = 12
	errs := make(chan error, n)
	for i := range n {
		go func() {
			path := "/r" + strconv.Itoa(i)
			body, err := getThrough(tr, web.URL+path)
			if err == nil && body != "hello from "+path {
				err = fmt.Errorf("GET %s: body %q", path, body)
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	mu.Lock()
	got := *requests
	mu.Unlock()
	if got != n {
		t.Errorf("the web server saw %d requests, want %d", got, n)
	}
	if after := tr.Stats(); after != before {
		t.Errorf("Stats grew from %+v to %+v: dialing must cost no connection and no exec", before, after)
	}
	if c, s := srv.Connections(), srv.Sessions(); c != conns || s != sessions {
		t.Errorf("sshd saw %d connections and %d sessions after dialing, want %d and %d", c, s, conns, sessions)
	}

	// A port nobody listens on is a plain error, not "unsupported".
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := l.Addr().String()
	l.Close()
	_, err = tr.DialContext(context.Background(), "tcp", closedAddr)
	mustContain(t, err, "dial "+closedAddr+" from web1", "connect failed")
	if errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("a refused connection matches errors.ErrUnsupported: %v", err)
	}

	_, err = tr.DialContext(context.Background(), "udp", web.Listener.Addr().String())
	mustContain(t, err, "only tcp is supported")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tr.DialContext(ctx, "tcp", web.Listener.Addr().String()); !errors.Is(err, context.Canceled) {
		t.Errorf("DialContext with a cancelled context: %v, want context.Canceled", err)
	}

	// The transport still runs commands after all that.
	if res := runT(t, tr, inventory.Cmd{Args: []string{"echo", "ok"}}); string(res.Stdout) != "ok\n" {
		t.Errorf("Run after dialing: %q", res.Stdout)
	}
	tr.Close()
	_, err = tr.DialContext(context.Background(), "tcp", web.Listener.Addr().String())
	mustContain(t, err, "transport closed")
}

// TestDialContextForwardingRefused checks that sshd's refusal to forward is
// an error matching errors.ErrUnsupported, also through net/http, and that
// the connection survives it.
func TestDialContextForwardingRefused(t *testing.T) {
	srv := sshtest.Start(t, 1, sshtest.WithConfig("AllowTcpForwarding no"))[0]
	web, _, _ := helloServer(t)
	tr := dialT(t, srv.Host("locked"), Options{})
	_, err := tr.DialContext(context.Background(), "tcp", web.Listener.Addr().String())
	mustContain(t, err, "dial "+web.Listener.Addr().String()+" from locked", "refuses TCP forwarding for "+currentUser(),
		"administratively prohibited")
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("a refusal does not match errors.ErrUnsupported: %v", err)
	}
	// Through net/http the refusal is still recognisable.
	_, err = getThrough(tr, web.URL)
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("GET through a refusing server: %v, want an error matching errors.ErrUnsupported", err)
	}
	runT(t, tr, inventory.Cmd{Args: []string{"true"}})
}

// TestDialContextThroughJump dials through a jump host that may forward to
// the target's sshd only, which proves the target opens the channel.
func TestDialContextThroughJump(t *testing.T) {
	web, _, _ := helloServer(t)
	target := sshtest.Start(t, 1)[0]
	// The bastion may forward to the target's sshd and nowhere else: the
	// web server is reachable only if the target opens the channel.
	bastion := sshtest.Start(t, 1, sshtest.WithConfig("PermitOpen 127.0.0.1:"+strconv.Itoa(target.Port)))[0]

	// Control: the bastion itself refuses to reach the web server.
	direct := dialT(t, bastion.Host("bastion"), Options{})
	_, err := direct.DialContext(context.Background(), "tcp", web.Listener.Addr().String())
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("the bastion forwarded to the web server (%v): the test proves nothing", err)
	}

	h := target.Host("inner")
	h.Jump = bastion.Jump()
	tr := dialT(t, h, Options{})
	before := tr.Stats()
	body, err := getThrough(tr, web.URL+"/jump")
	if err != nil {
		t.Fatalf("GET through the jump host: %v", err)
	}
	if body != "hello from /jump" {
		t.Errorf("body %q", body)
	}
	if after := tr.Stats(); after != before || after.Connections != 1 {
		t.Errorf("Stats went from %+v to %+v, want 1 connection and no change", before, after)
	}
}
