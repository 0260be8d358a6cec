package resources

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"go.uber.org/zap/zaptest"

	"github.com/tendhq/tend/internal/sshtest"
	"github.com/tendhq/tend/inventory"
	"github.com/tendhq/tend/inventory/local"
	tssh "github.com/tendhq/tend/inventory/ssh"
)

// These tests run health checks against real servers on 127.0.0.1, through
// the local transport and through the SSH transport to an sshd of
// internal/sshtest (with and without TCP forwarding).

// healthServer answers 503 "db down" to its first fail requests and 200
// "ok" after that. It returns the URL of /healthz and a request counter.
func healthServer(t *testing.T, fail int) (string, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= int64(fail) {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, "db down\n")
			return
		}
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/healthz", &n
}

// healthTarget is a Target on tr for host name, logging to the test.
func healthTarget(t *testing.T, name string, tr inventory.Transport) *Target {
	return &Target{Host: &inventory.Host{Name: name}, Transport: tr, Log: zaptest.NewLogger(t)}
}

// healthSSH dials a fresh sshtest server started with opts.
func healthSSH(t *testing.T, opts ...sshtest.Option) (*tssh.Transport, *sshtest.Server) {
	t.Helper()
	srv := sshtest.Start(t, 1, opts...)[0]
	tr, err := tssh.Dial(context.Background(), srv.Host("web1"), tssh.Options{Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr, srv
}

// hostOnly is a transport that cannot dial, whatever it wraps, and on which
// the programs in missing are not installed (exit status 127, as a shell
// says it). It records the programs it was asked to run.
type hostOnly struct {
	inventory.Transport
	missing []string
	mu      sync.Mutex
	ran     []string
}

func (h *hostOnly) Run(ctx context.Context, c inventory.Cmd) (*inventory.Result, error) {
	h.mu.Lock()
	h.ran = append(h.ran, c.Args[0])
	h.mu.Unlock()
	for _, m := range h.missing {
		if c.Args[0] == m {
			return &inventory.Result{ExitCode: 127, Stderr: []byte("sh: 1: " + m + ": not found\n")}, nil
		}
	}
	return h.Transport.Run(ctx, c)
}

// programs lists the programs run so far, space-separated.
func (h *hostOnly) programs() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.ran, " ")
}

// requireTools fails the test when a program the fallbacks run is missing.
func requireTools(t *testing.T) {
	t.Helper()
	for _, p := range []string{"curl", "wget", "bash", "timeout"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("%s not found: apt-get install -y curl wget bash coreutils", p)
		}
	}
}

// closedPort returns 127.0.0.1:PORT where nothing listens (the port was
// free a moment ago).
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// mustMatch fails unless s matches the regular expression re.
func mustMatch(t *testing.T, s, re string) {
	t.Helper()
	if !regexp.MustCompile(re).MatchString(s) {
		t.Errorf("%q does not match %s", s, re)
	}
}

// TestHealthHTTPPassesAfterFlip waits for a server that answers 503 twice
// and then 200, through the Dialer of the local and the SSH transport.
func TestHealthHTTPPassesAfterFlip(t *testing.T) {
	sshTr, _ := healthSSH(t)
	for _, tc := range []struct {
		name string
		tr   inventory.Transport
	}{
		{"local", local.New(local.Options{})},
		{"ssh", sshTr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, n := healthServer(t, 2)
			hc := &HealthCheck{HTTP: url, Timeout: 10 * time.Second, Interval: 50 * time.Millisecond}
			before := tc.tr.Stats()
			got, err := hc.Wait(context.Background(), healthTarget(t, "web1", tc.tr), "")
			if err != nil {
				t.Fatalf("Wait: %v", err)
			}
			mustMatch(t, got, `^200 OK after 3 attempts, \d+(\.\d+)?m?s$`)
			if n.Load() != 3 {
				t.Errorf("the server saw %d requests, want 3", n.Load())
			}
			// Through the Dialer: no command ran on the host.
			if after := tc.tr.Stats(); after != before {
				t.Errorf("Stats went from %+v to %+v: the check must not run commands", before, after)
			}
		})
	}
}

// TestHealthHTTPFails checks what a failed HTTP check reports: the status
// line and the body (cut at 1 KiB), a redirect's own status, a server that
// never answers, and a context that ends first.
func TestHealthHTTPFails(t *testing.T) {
	t.Run("status and body", func(t *testing.T) {
		url, n := healthServer(t, 1<<30)
		hc := &HealthCheck{HTTP: url, Timeout: time.Second, Interval: 100 * time.Millisecond}
		start := time.Now()
		_, err := hc.Wait(context.Background(), healthTarget(t, "web1", local.New(local.Options{})), "")
		took := time.Since(start)
		if err == nil {
			t.Fatal("Wait passed against a server that always answers 503")
		}
		mustMatch(t, err.Error(), `^health check failed after 1s \((\d+) attempts\): GET `+regexp.QuoteMeta(url)+
			`: 503 Service Unavailable: "db down"$`)
		if got := n.Load(); got < 2 || got > 11 {
			t.Errorf("%d attempts in 1s every 100ms", got)
		}
		if !strings.Contains(err.Error(), "("+strconv.Itoa(int(n.Load()))+" attempts)") {
			t.Errorf("the error does not count the server's %d requests: %v", n.Load(), err)
		}
		if took < time.Second || took > 5*time.Second {
			t.Errorf("Wait took %s with a 1s timeout", took)
		}
	})
	t.Run("long body, redirect, expect", func(t *testing.T) {
		mux := http.NewServeMux()
		mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, strings.Repeat("x", 5000)+"END")
		})
		mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/ok", http.StatusFound)
		})
		mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
		mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		tg := healthTarget(t, "web1", local.New(local.Options{}))

		hc := &HealthCheck{HTTP: srv.URL + "/big", Timeout: time.Second, Interval: 100 * time.Millisecond}
		_, err := hc.Wait(context.Background(), tg, "")
		if err == nil || strings.Contains(err.Error(), "END") || !strings.Contains(err.Error(), `500 Internal Server Error: "xxx`) ||
			!strings.HasSuffix(err.Error(), `xxx"...`) || len(err.Error()) > 1300 {
			t.Errorf("a long body must be cut at 1 KiB: %.200v", err)
		}
		// The redirect is not followed: its own status counts.
		hc = &HealthCheck{HTTP: srv.URL + "/moved", Timeout: time.Second, Interval: 100 * time.Millisecond}
		_, err = hc.Wait(context.Background(), tg, "")
		if err == nil || !strings.Contains(err.Error(), "302 Found") {
			t.Errorf("redirect: %v, want a failure with 302 Found", err)
		}
		hc = &HealthCheck{HTTP: srv.URL + "/empty", Expect: 204, Timeout: time.Second}
		got, err := hc.Wait(context.Background(), tg, "")
		if err != nil || !strings.HasPrefix(got, "204 No Content after 1 attempt, ") {
			t.Errorf("expect 204: %q, %v", got, err)
		}
	})
	t.Run("hangs", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}))
		t.Cleanup(srv.Close)
		hc := &HealthCheck{HTTP: srv.URL, Timeout: 500 * time.Millisecond, Interval: 100 * time.Millisecond}
		_, err := hc.Wait(context.Background(), healthTarget(t, "web1", local.New(local.Options{})), "")
		if err == nil || err.Error() != "health check failed after 500ms (1 attempt): GET "+srv.URL+": no answer before the timeout" {
			t.Errorf("got %v", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		url, _ := healthServer(t, 1<<30)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		hc := &HealthCheck{HTTP: url, Timeout: 10 * time.Second, Interval: 100 * time.Millisecond}
		_, err := hc.Wait(ctx, healthTarget(t, "web1", local.New(local.Options{})), "")
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "health check stopped after") ||
			!strings.Contains(err.Error(), "503 Service Unavailable") {
			t.Errorf("got %v, want a stop that wraps the context's error", err)
		}
	})
}

// TestHealthTCP connects to a closed port (a failure with the dial error)
// and to one that opens while the check waits.
func TestHealthTCP(t *testing.T) {
	sshTr, _ := healthSSH(t)
	for _, tc := range []struct {
		name    string
		tr      inventory.Transport
		refusal string
	}{
		{"local", local.New(local.Options{Name: "web1"}), "connection refused"},
		{"ssh", sshTr, `connect failed ("Connection refused")`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := healthTarget(t, "web1", tc.tr)
			addr := closedPort(t)
			hc := &HealthCheck{TCP: addr, Timeout: 2 * time.Second, Interval: 100 * time.Millisecond}
			_, err := hc.Wait(context.Background(), tg, "")
			if err == nil || !strings.Contains(err.Error(), "health check failed after 2s") ||
				!strings.Contains(err.Error(), "connect to "+addr+": dial "+addr+" from web1") ||
				!strings.Contains(err.Error(), tc.refusal) {
				t.Errorf("closed port: %v", err)
			}

			// The port opens while the check waits.
			addr = closedPort(t)
			opened := make(chan net.Listener, 1)
			go func() {
				time.Sleep(300 * time.Millisecond)
				l, err := net.Listen("tcp", addr)
				if err != nil {
					t.Errorf("listen on %s: %v", addr, err)
				}
				opened <- l
			}()
			t.Cleanup(func() {
				if l := <-opened; l != nil {
					l.Close()
				}
			})
			hc = &HealthCheck{TCP: addr, Timeout: 5 * time.Second, Interval: 50 * time.Millisecond}
			got, err := hc.Wait(context.Background(), tg, "")
			if err != nil {
				t.Fatalf("Wait: %v", err)
			}
			mustMatch(t, got, `^connected after ([3-9]|\d\d) attempts, `)
		})
	}
}

// TestHealthCommand runs a command in a working directory with a name a
// shell would mangle: it fails once and then passes; a failing one reports
// its exit status and stderr, a missing directory sh's message.
func TestHealthCommand(t *testing.T) {
	sshTr, _ := healthSSH(t)
	// An exec over SSH takes seconds on a heavily loaded machine: failures
	// there get a longer timeout, so that they see an exit status.
	for _, tc := range []struct {
		name string
		tr   inventory.Transport
		fail time.Duration
	}{
		{"local", local.New(local.Options{}), 500 * time.Millisecond},
		{"ssh", sshTr, 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := healthTarget(t, "web1", tc.tr)
			// A directory name a shell would mangle: it travels as an
			// argument only.
			cwd := filepath.Join(t.TempDir(), "rel 1 'a' $(x)")
			if err := os.Mkdir(cwd, 0o755); err != nil {
				t.Fatal(err)
			}
			// Fails once (leaving a marker in the working directory), then
			// passes.
			hc := &HealthCheck{
				Command:  []string{"sh", "-c", `if [ -e ready ]; then exit 0; fi; touch ready; echo not yet >&2; exit 1`},
				Timeout:  10 * time.Second,
				Interval: 50 * time.Millisecond,
			}
			got, err := hc.Wait(context.Background(), tg, cwd)
			if err != nil {
				t.Fatalf("Wait: %v", err)
			}
			mustMatch(t, got, `^exit 0 after 2 attempts, `)
			if _, err := os.Stat(filepath.Join(cwd, "ready")); err != nil {
				t.Errorf("the command did not run in %s: %v", cwd, err)
			}

			hc = &HealthCheck{
				Command:  []string{"sh", "-c", `pwd; echo broken >&2; exit 3`},
				Timeout:  tc.fail,
				Interval: 100 * time.Millisecond,
			}
			_, err = hc.Wait(context.Background(), tg, cwd)
			mustMatch(t, fmt.Sprint(err), `^health check failed after `+regexp.QuoteMeta(tc.fail.String())+` \(\d+ attempts?\): run sh -c 'pwd; echo broken >&2; exit 3': exit status 3: broken$`)

			// A missing directory is a failed attempt that says so.
			hc.Command = []string{"true"}
			_, err = hc.Wait(context.Background(), tg, filepath.Join(cwd, "gone"))
			if err == nil || !strings.Contains(err.Error(), "exit status 2") || !strings.Contains(err.Error(), "gone") {
				t.Errorf("missing cwd: %v", err)
			}
		})
	}
}

// TestHealthOnHost covers the checks that run a program on the host: curl
// and bash's /dev/tcp when sshd refuses forwarding, wget when curl is
// missing, and an immediate failure that says what to do when neither is
// installed.
func TestHealthOnHost(t *testing.T) {
	requireTools(t)
	// sshd refuses forwarding: the checks run curl or bash on the host.
	refusing, srv := healthSSH(t, sshtest.WithConfig("AllowTcpForwarding no"))

	t.Run("curl when forwarding is refused", func(t *testing.T) {
		url, n := healthServer(t, 2)
		hc := &HealthCheck{HTTP: url, Timeout: 10 * time.Second, Interval: 50 * time.Millisecond}
		before := refusing.Stats()
		got, err := hc.Wait(context.Background(), healthTarget(t, "web1", refusing), "")
		if err != nil {
			t.Fatalf("Wait: %v", err)
		}
		mustMatch(t, got, `^200 OK after 3 attempts, `)
		if after := refusing.Stats(); after.Execs-before.Execs != 3 || n.Load() != 3 {
			t.Errorf("%d commands ran for %d requests, want 3 curl runs", after.Execs-before.Execs, n.Load())
		}
		if !strings.Contains(srv.Log(), "refused local port forward") {
			t.Errorf("sshd did not log a refused forward: the fallback was not exercised")
		}

		url, _ = healthServer(t, 1<<30)
		hc = &HealthCheck{HTTP: url, Timeout: 10 * time.Second, Interval: 100 * time.Millisecond}
		_, err = hc.Wait(context.Background(), healthTarget(t, "web1", refusing), "")
		mustMatch(t, fmt.Sprint(err), `^health check failed after 10s \(\d+ attempts?\): GET `+regexp.QuoteMeta(url)+
			`: 503 Service Unavailable: "db down"$`)

		_, err = (&HealthCheck{HTTP: "http://" + closedPort(t) + "/", Timeout: 10 * time.Second}).
			Wait(context.Background(), healthTarget(t, "web1", refusing), "")
		if err == nil || !strings.Contains(err.Error(), "curl exit status 7: curl: (7) Failed to connect") {
			t.Errorf("closed port through curl: %v", err)
		}
	})

	t.Run("tcp when forwarding is refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		before := refusing.Stats()
		hc := &HealthCheck{TCP: l.Addr().String(), Timeout: 5 * time.Second, Interval: 50 * time.Millisecond}
		got, err := hc.Wait(context.Background(), healthTarget(t, "web1", refusing), "")
		if err != nil || !strings.HasPrefix(got, "connected after 1 attempt") {
			t.Errorf("open port: %q, %v", got, err)
		}
		if refusing.Stats().Execs == before.Execs {
			t.Errorf("no command ran on the host: the fallback was not used")
		}
		addr := closedPort(t)
		hc = &HealthCheck{TCP: addr, Timeout: 10 * time.Second, Interval: 100 * time.Millisecond}
		_, err = hc.Wait(context.Background(), healthTarget(t, "web1", refusing), "")
		if err == nil || !strings.Contains(err.Error(), "connect to "+addr+": ") || !strings.Contains(err.Error(), "Connection refused") {
			t.Errorf("closed port: %v", err)
		}
	})

	t.Run("wget when there is no curl", func(t *testing.T) {
		tr := &hostOnly{Transport: local.New(local.Options{}), missing: []string{"curl"}}
		url, _ := healthServer(t, 1)
		hc := &HealthCheck{HTTP: url, Timeout: 10 * time.Second, Interval: 50 * time.Millisecond}
		got, err := hc.Wait(context.Background(), healthTarget(t, "web1", tr), "")
		if err != nil {
			t.Fatalf("Wait: %v", err)
		}
		mustMatch(t, got, `^200 OK after 2 attempts, `)
		// curl is looked for once; wget is used from then on.
		if got := tr.programs(); got != "curl wget wget" {
			t.Errorf("ran %q, want curl wget wget", got)
		}

		url, _ = healthServer(t, 1<<30)
		hc = &HealthCheck{HTTP: url, Timeout: time.Second, Interval: 100 * time.Millisecond}
		_, err = hc.Wait(context.Background(), healthTarget(t, "web1", tr), "")
		if err == nil || !strings.HasSuffix(err.Error(), `: 503 Service Unavailable: "db down"`) {
			t.Errorf("503 through wget: %v", err)
		}
	})

	t.Run("neither curl nor wget", func(t *testing.T) {
		tr := &hostOnly{Transport: refusing, missing: []string{"curl", "wget"}}
		hc := &HealthCheck{HTTP: "http://127.0.0.1:1/", Timeout: 10 * time.Second}
		start := time.Now()
		_, err := hc.Wait(context.Background(), healthTarget(t, "web1", tr), "")
		if err == nil {
			t.Fatal("Wait passed with no way to reach the URL")
		}
		for _, want := range []string{"health check GET http://127.0.0.1:1/ on web1: cannot reach it",
			"the transport cannot open TCP connections", "no curl or wget",
			"allow TCP forwarding for the login user", "install curl"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not say %q: %v", want, err)
			}
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("it took %s to give up: a check that cannot run must fail at once", took)
		}
	})
}

// healthNested builds a health block with the attributes in the order
// given (name, value, name, value...), each on its own line from line 2.
func healthNested(kv ...any) *Nested {
	n := &Nested{Type: "health", DeclRange: testDeclRange, Attrs: map[string]*Attr{}}
	for i := 0; i < len(kv); i += 2 {
		n.Attrs[kv[i].(string)] = &Attr{Value: kv[i+1].(cty.Value), Range: attrRange(i/2 + 2)}
	}
	return n
}

// TestDecodeHealth decodes valid health blocks and prints them as plans do.
func TestDecodeHealth(t *testing.T) {
	hc, diags := DecodeHealth(healthNested(
		"http", str("http://127.0.0.1:8080/healthz"), "expect", cty.NumberIntVal(204),
		"timeout", str("2s"), "interval", str("100ms")), "release")
	if diags.HasErrors() {
		t.Fatalf("unexpected diagnostics: %v", diags)
	}
	want := HealthCheck{HTTP: "http://127.0.0.1:8080/healthz", Expect: 204, Timeout: 2 * time.Second, Interval: 100 * time.Millisecond}
	if hc.HTTP != want.HTTP || hc.Expect != want.Expect || hc.Timeout != want.Timeout || hc.Interval != want.Interval || hc.TCP != "" || hc.Command != nil {
		t.Errorf("got %+v, want %+v", *hc, want)
	}
	if got := hc.Describe(); got != "GET http://127.0.0.1:8080/healthz until 204 (every 100ms, up to 2s)" {
		t.Errorf("Describe() = %q", got)
	}

	// Defaults, and the other kinds of check.
	for _, tc := range []struct {
		nested   *Nested
		describe string
	}{
		{healthNested("http", str("https://app.internal/healthz")), "GET https://app.internal/healthz until 200 (every 1s, up to 30s)"},
		{healthNested("tcp", str("127.0.0.1:5432")), "connect to 127.0.0.1:5432 (every 1s, up to 30s)"},
		{healthNested("command", cty.TupleVal([]cty.Value{str("bin/app"), str("check")}), "timeout", str("1m30s")),
			"run bin/app check until exit 0 (every 1s, up to 1m30s)"},
		{healthNested("command", cty.ListVal([]cty.Value{str("sh"), str("-c"), str("test -e 'ready file'")})),
			`run sh -c 'test -e '\''ready file'\''' until exit 0 (every 1s, up to 30s)`},
	} {
		hc, diags := DecodeHealth(tc.nested, "release")
		if diags.HasErrors() {
			t.Errorf("%s: unexpected diagnostics: %v", tc.describe, diags)
			continue
		}
		if got := hc.Describe(); got != tc.describe {
			t.Errorf("Describe() = %q, want %q", got, tc.describe)
		}
		if hc.Expect != 200 || hc.Interval != time.Second {
			t.Errorf("%s: defaults not filled in: %+v", tc.describe, *hc)
		}
	}
}

// TestDecodeHealthDiagnostics checks each problem of a health block: its
// summary, the line it points at and what its detail explains.
func TestDecodeHealthDiagnostics(t *testing.T) {
	// Each diagnostic: its summary, the line its Subject starts on (1 is
	// the block header, 2 the first attribute...) and words of its detail.
	type diag struct {
		summary string
		line    int
		detail  string
	}
	tests := []struct {
		name   string
		nested *Nested
		want   []diag
	}{
		{"none of them", healthNested("timeout", str("5s")),
			[]diag{{"Missing health check", 1, "health block of release must set one of http"}}},
		{"two of them", healthNested("tcp", str("127.0.0.1:5432"), "http", str("http://127.0.0.1/")),
			[]diag{{"Conflicting health checks", 3, "sets both tcp and http"}}},
		{"three of them", healthNested("command", cty.TupleVal([]cty.Value{str("true")}), "http", str("http://127.0.0.1/"), "tcp", str("127.0.0.1:1")),
			[]diag{{"Conflicting health checks", 3, "sets both command and http"}, {"Conflicting health checks", 4, "sets both command and tcp"}}},
		{"bad duration", healthNested("http", str("http://127.0.0.1/"), "timeout", str("soon")),
			[]diag{{"Invalid duration", 3, `The timeout "soon" of the health block of release is not a positive duration`}}},
		{"duration not a string", healthNested("tcp", str("127.0.0.1:1"), "interval", cty.TupleVal([]cty.Value{str("1s")})),
			[]diag{{"Incorrect attribute value type", 3, `"interval" of the health block of release must be a string`}}},
		{"interval too long", healthNested("tcp", str("127.0.0.1:1"), "timeout", str("2s"), "interval", str("5s")),
			[]diag{{"Invalid interval", 4, "must be shorter than its timeout (2s)"}}},
		{"expect not a number", healthNested("http", str("http://127.0.0.1/"), "expect", str("ok")),
			[]diag{{"Incorrect attribute value type", 3, `"expect" of the health block of release must be a number`}}},
		{"expect not a status", healthNested("http", str("http://127.0.0.1/"), "expect", cty.NumberFloatVal(200.5)),
			[]diag{{"Invalid HTTP status", 3, "whole number from 100 to 599, not 200.5"}}},
		{"expect without http", healthNested("tcp", str("127.0.0.1:1"), "expect", cty.NumberIntVal(200)),
			[]diag{{"Unexpected attribute", 3, "applies to an http check only"}}},
		{"bad url", healthNested("http", str("127.0.0.1:8080/healthz")),
			[]diag{{"Invalid health check URL", 2, "absolute http:// or https:// URL"}}},
		{"bad address", healthNested("tcp", str("localhost")),
			[]diag{{"Invalid health check address", 2, `"host:port"`}}},
		{"bad port", healthNested("tcp", str("127.0.0.1:99999")),
			[]diag{{"Invalid health check address", 2, "port from 1 to 65535"}}},
		{"empty command", healthNested("command", cty.ListValEmpty(cty.String)),
			[]diag{{"Invalid health check command", 2, "first element is the program"}}},
		{"command not a list", healthNested("command", str("bin/app check")),
			[]diag{{"Incorrect attribute value type", 2, "must be a list of strings"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := DecodeHealth(tc.nested, "release")
			if len(diags) != len(tc.want) {
				t.Fatalf("got %d diagnostics, want %d: %v", len(diags), len(tc.want), diags)
			}
			for i, w := range tc.want {
				d := diags[i]
				if d.Severity != hcl.DiagError || d.Summary != w.summary || !strings.Contains(d.Detail, w.detail) {
					t.Errorf("diagnostic %d: %q: %q, want %q containing %q", i, d.Summary, d.Detail, w.summary, w.detail)
				}
				if d.Subject == nil || d.Subject.Start.Line != w.line {
					t.Errorf("diagnostic %d (%s) points at %v, want line %d", i, d.Summary, d.Subject, w.line)
				}
			}
		})
	}
}
