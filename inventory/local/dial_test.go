package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"
)

// TestDialContext fetches a page through the local Dialer and checks its
// errors: a closed port, another network, a cancelled context.
func TestDialContext(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s", r.URL.Path)
	}))
	t.Cleanup(web.Close)
	tr := New(Options{Name: "here", Log: zaptest.NewLogger(t)})

	c := &http.Client{Transport: &http.Transport{DialContext: tr.DialContext, DisableKeepAlives: true}}
	resp, err := c.Get(web.URL + "/local")
	if err != nil {
		t.Fatalf("GET through the local transport: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(b) != "hello from /local" {
		t.Errorf("body %q, %v", b, err)
	}
	if got := tr.Stats(); got.Connections != 0 || got.Execs != 0 {
		t.Errorf("Stats() = %+v after dialing, want zero", got)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = tr.DialContext(context.Background(), "tcp", addr)
	if err == nil || !strings.Contains(err.Error(), "dial "+addr+" from here") || !strings.Contains(err.Error(), "refused") {
		t.Errorf("dial a closed port: %v, want an error naming %s and the refusal", err, addr)
	}

	if _, err := tr.DialContext(context.Background(), "udp", addr); err == nil || !strings.Contains(err.Error(), "only tcp") {
		t.Errorf("dial udp: %v, want only tcp", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tr.DialContext(ctx, "tcp", web.Listener.Addr().String()); !errors.Is(err, context.Canceled) {
		t.Errorf("dial with a cancelled context: %v, want context.Canceled", err)
	}
}
