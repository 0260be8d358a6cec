package resources

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"go.uber.org/zap"

	"github.com/tendhq/tend/inventory"
)

// This file holds a release's health check: the `health { ... }` block, how
// plans print it, and Wait, which polls it on the host after a switch.
//
// HTTP and TCP checks reach the network as the host sees it: through the
// transport's inventory.Dialer (a direct-tcpip channel of the SSH
// connection, nothing installed on the host). When the transport cannot
// dial, or sshd refuses forwarding, they run a program on the host instead:
// curl or GNU wget for HTTP, bash's /dev/tcp under timeout(1) for TCP.
// Values only ever travel as argv.

// Defaults of a health block.
const (
	DefaultHealthExpect   = http.StatusOK
	DefaultHealthTimeout  = 30 * time.Second
	DefaultHealthInterval = time.Second
)

// healthBodyMax is how much of an HTTP body a failure message quotes.
const healthBodyMax = 1024

// healthCommandScript runs "$@" in the directory "$1"; the directory and
// the argv reach it as arguments, never inside the script.
const healthCommandScript = `cd -- "$1" && shift && exec "$@"`

// healthTCPScript connects to host "$1", port "$2" with bash's /dev/tcp; it
// exits 0 once the connection is made.
const healthTCPScript = `exec 3<>"/dev/tcp/$1/$2"`

// HealthCheck is a release's health block: how to tell the new release works.
// Exactly one of HTTP, TCP and Command is set. Zero Expect, Timeout and
// Interval mean their defaults.
type HealthCheck struct {
	HTTP     string        // a URL as the host sees it, e.g. http://127.0.0.1:8080/healthz; "" when not an HTTP check
	TCP      string        // "host:port" that must accept a connection
	Command  []string      // argv run on the host; exit 0 is healthy
	Expect   int           // the HTTP status expected (default 200)
	Timeout  time.Duration // how long it may take to pass (default 30s)
	Interval time.Duration // between attempts (default 1s)
}

// healthChecks are the attributes that each make a different check.
var healthChecks = []string{"http", "tcp", "command"}

// DecodeHealth builds a HealthCheck from a `health` nested block: attributes
// http, tcp, command (list of strings), expect (number), timeout and
// interval (duration strings like "30s"). Exactly one of http, tcp, command
// must be set; diagnostics point at the offending attribute (or at the block
// header when none is set) and say what is expected. kind names the resource
// kind for messages ("release"). The defaults are filled in.
func DecodeHealth(n *Nested, kind string) (*HealthCheck, hcl.Diagnostics) {
	what := "the health block of " + kind
	d := &decoder{b: &Block{Kind: what, Attrs: n.Attrs, DeclRange: n.DeclRange}}
	hc := &HealthCheck{}

	// Which checks are set, in source order, so that a conflict points at
	// the second one written.
	var set []string
	for _, name := range healthChecks {
		if d.has(name) {
			set = append(set, name)
		}
	}
	sort.SliceStable(set, func(i, j int) bool {
		return d.rangeOf(set[i]).Start.Byte < d.rangeOf(set[j]).Start.Byte
	})
	switch len(set) {
	case 0:
		d.errorf(n.DeclRange, "Missing health check",
			"The health block of %s must set one of http (a URL to GET, such as \"http://127.0.0.1:8080/healthz\"), "+
				"tcp (an address to connect to, such as \"127.0.0.1:5432\") or command (an argv to run, such as [\"bin/app\", \"check\"]).", kind)
	case 1:
	default:
		for _, name := range set[1:] {
			d.errorf(d.rangeOf(name), "Conflicting health checks",
				"The health block of %s sets both %s and %s; it checks exactly one thing: keep one of http, tcp or command.",
				kind, set[0], name)
		}
	}

	// Every attribute is decoded even after a conflict, so that all the
	// problems of the block are reported at once.
	hc.HTTP = healthURL(d)
	hc.TCP = healthAddr(d)
	hc.Command = healthArgv(d)
	hc.Expect = healthExpect(d)
	if d.has("expect") && !d.has("http") {
		d.errorf(d.rangeOf("expect"), "Unexpected attribute",
			"The expect status of %s applies to an http check only.", what)
	}
	hc.Timeout = d.duration("timeout", DefaultHealthTimeout)
	hc.Interval = d.duration("interval", DefaultHealthInterval)
	if d.has("interval") && hc.Interval >= hc.Timeout {
		d.errorf(d.rangeOf("interval"), "Invalid interval",
			"The interval (%s) of %s must be shorter than its timeout (%s), or the check runs only once.",
			hc.Interval, what, hc.Timeout)
	}
	return hc, d.diags
}

// healthURL reads http: an absolute http:// or https:// URL.
func healthURL(d *decoder) string {
	n := len(d.diags)
	s := d.str("http", "")
	if len(d.diags) > n || s == "" && !d.has("http") {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || !ValidArg(s) {
		d.errorf(d.rangeOf("http"), "Invalid health check URL",
			"The http check %q of %s must be an absolute http:// or https:// URL as the host sees it, such as \"http://127.0.0.1:8080/healthz\".",
			s, d.b.Kind)
		return ""
	}
	return s
}

// healthAddr reads tcp: "host:port" with a port number from 1 to 65535.
func healthAddr(d *decoder) string {
	n := len(d.diags)
	s := d.str("tcp", "")
	if len(d.diags) > n || s == "" && !d.has("tcp") {
		return ""
	}
	host, port, err := net.SplitHostPort(s)
	p, perr := strconv.Atoi(port)
	if err != nil || host == "" || perr != nil || p < 1 || p > 65535 || !ValidArg(s) || strings.HasPrefix(host, "-") {
		d.errorf(d.rangeOf("tcp"), "Invalid health check address",
			"The tcp check %q of %s must be \"host:port\" with a port from 1 to 65535, such as \"127.0.0.1:5432\".",
			s, d.b.Kind)
		return ""
	}
	return s
}

// healthArgv reads command: a list of strings with a program first.
func healthArgv(d *decoder) []string {
	argv, set := d.strList("command")
	if !set || argv == nil {
		return nil // unset, or not a list (reported by strList)
	}
	switch {
	case len(argv) == 0 || argv[0] == "":
		d.errorf(d.rangeOf("command"), "Invalid health check command",
			"The command of %s must be a list whose first element is the program to run, such as [\"bin/app\", \"check\"].", d.b.Kind)
		return nil
	case strings.ContainsRune(strings.Join(argv, ""), 0):
		d.errorf(d.rangeOf("command"), "Invalid health check command",
			"The command of %s must not contain a NUL byte.", d.b.Kind)
		return nil
	}
	return argv
}

// healthExpect reads expect: an HTTP status code as a number (a string of
// digits converts too).
func healthExpect(d *decoder) int {
	a, ok := d.b.Attrs["expect"]
	if !ok || a.Value.IsNull() {
		return DefaultHealthExpect
	}
	v, err := convert.Convert(a.Value, cty.Number)
	if err != nil || !v.IsKnown() {
		d.errorf(a.Range, "Incorrect attribute value type",
			"The attribute \"expect\" of %s must be a number, an HTTP status such as 200 or 204.", d.b.Kind)
		return DefaultHealthExpect
	}
	f, _ := v.AsBigFloat().Float64()
	if f != math.Trunc(f) || f < 100 || f > 599 {
		d.errorf(a.Range, "Invalid HTTP status",
			"The expect status of %s must be a whole number from 100 to 599, not %s.", d.b.Kind, v.AsBigFloat().Text('g', -1))
		return DefaultHealthExpect
	}
	return int(f)
}

// expect, timeout and interval apply the defaults to a HealthCheck built
// by hand, with zero fields.
func (hc *HealthCheck) expect() int {
	if hc.Expect == 0 {
		return DefaultHealthExpect
	}
	return hc.Expect
}

func (hc *HealthCheck) timeout() time.Duration {
	if hc.Timeout <= 0 {
		return DefaultHealthTimeout
	}
	return hc.Timeout
}

func (hc *HealthCheck) interval() time.Duration {
	if hc.Interval <= 0 {
		return DefaultHealthInterval
	}
	return hc.Interval
}

// what names one attempt, the prefix of a failure: "GET URL",
// "connect to ADDR", "run ARGV".
func (hc *HealthCheck) what() string {
	switch {
	case hc.HTTP != "":
		return "GET " + hc.HTTP
	case hc.TCP != "":
		return "connect to " + hc.TCP
	case len(hc.Command) > 0:
		return "run " + displayArgv(hc.Command)
	}
	return "no check"
}

// Describe returns how plans print the check, e.g.
// `GET http://127.0.0.1:8080/healthz until 200 (every 1s, up to 30s)`,
// `connect to 127.0.0.1:5432 (every 1s, up to 30s)` or
// `run bin/app check until exit 0 (every 1s, up to 30s)`.
func (hc *HealthCheck) Describe() string {
	when := fmt.Sprintf("(every %s, up to %s)", hc.interval(), hc.timeout())
	switch {
	case hc.HTTP != "":
		return fmt.Sprintf("%s until %d %s", hc.what(), hc.expect(), when)
	case hc.TCP != "":
		return hc.what() + " " + when
	case len(hc.Command) > 0:
		return hc.what() + " until exit 0 " + when
	}
	return "no check"
}

// Wait runs the check every Interval until it passes, Timeout passes or ctx
// ends. cwd is the working directory of a Command check (the release
// directory; "" runs it in the login directory). Each attempt is bounded by
// the time left. On success it returns a short description of what passed
// ("200 OK after 3 attempts, 2.1s"). On failure the error says what the
// last attempt saw (the one before it when the deadline cut it short): for
// HTTP the status line and the first KiB of the body, for a command its
// exit status and output tail, for TCP the dial error, e.g.
// `health check failed after 30s (31 attempts): GET
// http://127.0.0.1:8080/healthz: 503 Service Unavailable: "db down"`. When
// ctx ends first the error wraps ctx.Err(). A check that cannot run at all
// on this host (no TCP forwarding and no curl or wget) fails at once.
// Attempts are logged at debug level on t.Log.
func (hc *HealthCheck) Wait(ctx context.Context, t *Target, cwd string) (string, error) {
	if hc.HTTP == "" && hc.TCP == "" && len(hc.Command) == 0 {
		return "", errors.New("health check: nothing to check (set http, tcp or command)")
	}
	timeout, interval := hc.timeout(), hc.interval()
	log := t.logger().With(zap.String("health", hc.what()))
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	w := &healthWaiter{hc: hc, t: t, cwd: cwd, log: log}
	defer w.close()

	var last string // what the last attempt saw, for the failure
	for n := 1; ; n++ {
		began := time.Now()
		ok, saw, err := w.attempt(wctx)
		if err != nil {
			return "", fmt.Errorf("health check %s on %s: %w", hc.what(), t.hostName(), err)
		}
		if ce := log.Check(zap.DebugLevel, "health check attempt"); ce != nil {
			ce.Write(zap.Int("attempt", n), zap.Bool("passed", ok), zap.String("saw", saw),
				zap.Duration("took", time.Since(began)))
		}
		if ok {
			return fmt.Sprintf("%s after %s, %s", saw, attempts(n), roundElapsed(time.Since(start))), nil
		}
		// An attempt cut short by the deadline saw nothing: keep what the
		// one before it saw, which says why the check fails.
		if saw != noAnswer || last == "" {
			last = saw
		}
		timer := time.NewTimer(interval)
		select {
		case <-wctx.Done():
			timer.Stop()
		case <-timer.C:
			continue
		}
		if err := ctx.Err(); err != nil {
			return "", fmt.Errorf("health check stopped after %s (%s): %s: %s: %w",
				roundElapsed(time.Since(start)), attempts(n), hc.what(), last, err)
		}
		return "", fmt.Errorf("health check failed after %s (%s): %s: %s", timeout, attempts(n), hc.what(), last)
	}
}

// attempts prints "1 attempt" or "N attempts".
func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return strconv.Itoa(n) + " attempts"
}

// roundElapsed keeps messages short: 2.1s, 340ms.
func roundElapsed(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

// healthWaiter is the state of one Wait: the HTTP client on the transport's
// Dialer, or the program on the host used instead of it.
type healthWaiter struct {
	hc  *HealthCheck
	t   *Target
	cwd string
	log *zap.Logger

	client *http.Client // on the Dialer; nil until the first HTTP attempt
	// onHost is set once the checks run a program on the host instead of
	// dialing; why says what ruled dialing out, for the messages.
	onHost bool
	why    string
	tool   string // "curl" or "wget", once one was found on the host
}

// close releases the HTTP client's connections.
func (w *healthWaiter) close() {
	if w.client != nil {
		w.client.CloseIdleConnections()
	}
}

// attempt runs the check once. ok is whether it passed and saw what it saw
// (without the "GET URL" prefix). err is only for a check that cannot run
// on this host at all; every other failure is a failed attempt.
func (w *healthWaiter) attempt(ctx context.Context) (ok bool, saw string, err error) {
	switch hc := w.hc; {
	case hc.HTTP != "":
		if d := w.dialer(); d != nil {
			ok, saw, err := w.httpDial(ctx, d)
			if !errors.Is(err, errors.ErrUnsupported) {
				return ok, saw, nil
			}
			w.useHost(err)
		}
		return w.httpOnHost(ctx)
	case hc.TCP != "":
		if d := w.dialer(); d != nil {
			c, err := d.DialContext(ctx, "tcp", hc.TCP)
			if err == nil {
				_ = c.Close()
				return true, "connected", nil
			}
			if !errors.Is(err, errors.ErrUnsupported) {
				return false, attemptErr(ctx, err), nil
			}
			w.useHost(err)
		}
		return w.tcpOnHost(ctx)
	default:
		return w.command(ctx)
	}
}

// dialer returns the transport's Dialer, or nil when the checks run on
// the host.
func (w *healthWaiter) dialer() inventory.Dialer {
	if w.onHost {
		return nil
	}
	d, ok := w.t.Transport.(inventory.Dialer)
	if !ok {
		w.useHost(errors.New("the transport cannot open TCP connections"))
		return nil
	}
	return d
}

// useHost switches to programs run on the host, for every later attempt;
// why is what ruled dialing out.
func (w *healthWaiter) useHost(why error) {
	var ue *url.Error
	if errors.As(why, &ue) {
		why = ue.Err // its message would repeat the URL
	}
	w.onHost, w.why = true, why.Error()
	w.log.Info("health check runs a program on the host: the transport cannot reach it", zap.Error(why))
}

// noAnswer is what an attempt cut short by the deadline saw.
const noAnswer = "no answer before the timeout"

// attemptErr says what an attempt's error means: a deadline is noAnswer,
// anything else its own message.
func attemptErr(ctx context.Context, err error) string {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) || errors.Is(err, context.DeadlineExceeded) {
		return noAnswer
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // its message would repeat the URL
	}
	return err.Error()
}

// httpDial GETs the URL over a connection the Dialer opens. The client
// keeps no connection alive, uses no proxy and follows no redirect: the
// status of the URL itself is what counts. err is the Dialer's refusal to
// forward (errors.ErrUnsupported), when that is what happened.
func (w *healthWaiter) httpDial(ctx context.Context, d inventory.Dialer) (bool, string, error) {
	if w.client == nil {
		w.client = &http.Client{
			Transport: &http.Transport{
				DialContext:       d.DialContext,
				DisableKeepAlives: true,
				Proxy:             nil,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.hc.HTTP, nil)
	if err != nil {
		return false, err.Error(), nil
	}
	resp, err := w.client.Do(req)
	if err != nil {
		if errors.Is(err, errors.ErrUnsupported) {
			return false, "", err
		}
		return false, attemptErr(ctx, err), nil
	}
	defer resp.Body.Close()
	if resp.StatusCode == w.hc.expect() {
		return true, resp.Status, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, healthBodyMax+1))
	if err != nil && len(body) == 0 {
		return false, resp.Status + " (reading the body: " + attemptErr(ctx, err) + ")", nil
	}
	return false, statusAndBody(resp.Status, body), nil
}

// statusAndBody prints a status line and the start of a body: `503 Service
// Unavailable: "db down"`.
func statusAndBody(status string, body []byte) string {
	more := ""
	if len(body) > healthBodyMax {
		body, more = body[:healthBodyMax], "..."
	}
	b := strings.TrimSpace(string(body))
	if b == "" {
		return status
	}
	return fmt.Sprintf("%s: %q%s", status, b, more)
}

// secondsLeft is the time left before ctx's deadline in whole seconds
// (rounded up, at least 1), for the timeouts of programs on the host.
func secondsLeft(ctx context.Context) string {
	dl, ok := ctx.Deadline()
	if !ok {
		return strconv.Itoa(int(DefaultHealthTimeout / time.Second))
	}
	s := int(math.Ceil(time.Until(dl).Seconds()))
	return strconv.Itoa(max(s, 1))
}

// cannotRun is the error for a check that has no way to run on the host.
func (w *healthWaiter) cannotRun(missing string) error {
	return fmt.Errorf("cannot reach it: %s, and the host has no %s; "+
		"allow TCP forwarding for the login user (sshd_config AllowTcpForwarding yes) or install %s on the host",
		w.why, missing, strings.Fields(missing)[0])
}

// httpOnHost GETs the URL with curl on the host, or GNU wget when there is
// no curl (exit status 127), as argv.
func (w *healthWaiter) httpOnHost(ctx context.Context) (bool, string, error) {
	tools := []string{"curl", "wget"}
	if w.tool != "" {
		tools = []string{w.tool}
	}
	for _, tool := range tools {
		var args []string
		// Both: no proxy from the host's environment, no redirect
		// followed (curl follows none without -L), a time limit a little
		// past the deadline (ctx ends the Run first), the URL as the last
		// argument, after an option that marks it as one.
		if tool == "curl" {
			// The body, then a line with the status code.
			args = []string{"curl", "-sS", "--noproxy", "*", "--max-time", secondsLeft(ctx),
				"-o", "-", "-w", "\n%{http_code}", "--url", w.hc.HTTP}
		} else {
			// The headers (-S) go to stderr, the body to stdout, also for
			// an error status.
			args = []string{"wget", "-nv", "-S", "-O", "-", "--max-redirect=0", "--no-proxy", "--content-on-error",
				"--timeout=" + secondsLeft(ctx), "--", w.hc.HTTP}
		}
		res, err := w.t.Transport.Run(ctx, inventory.Cmd{Args: args, NoBecome: true})
		if err != nil {
			return false, attemptErr(ctx, err), nil
		}
		if res.ExitCode == 127 && w.tool == "" {
			continue // not installed: try the next one
		}
		if w.tool == "" {
			w.tool = tool
			w.log.Debug("health check uses a program on the host", zap.String("program", tool))
		}
		if tool == "curl" {
			return w.curlResult(res)
		}
		return w.wgetResult(res)
	}
	return false, "", w.cannotRun("curl or wget")
}

// curlResult reads curl's output: the body, a newline, the status code.
func (w *healthWaiter) curlResult(res *inventory.Result) (bool, string, error) {
	// A non-zero exit is a failure before any status: 7 for a refused
	// connection, 28 for a timeout, 60 for a certificate; stderr says which.
	if res.ExitCode != 0 {
		return false, fmt.Sprintf("curl exit status %d: %s", res.ExitCode, outputTail(res)), nil
	}
	out := res.Stdout
	i := strings.LastIndexByte(string(out), '\n')
	code, err := strconv.Atoi(strings.TrimSpace(string(out[i+1:])))
	if i < 0 || err != nil {
		return false, fmt.Sprintf("curl printed no status code: %s", outputTail(res)), nil
	}
	status := fmt.Sprintf("%d %s", code, http.StatusText(code))
	if code == w.hc.expect() {
		return true, status, nil
	}
	return false, statusAndBody(status, out[:i]), nil
}

// wgetResult reads wget's output: the last status line of the headers on
// stderr (-S), the body on stdout.
func (w *healthWaiter) wgetResult(res *inventory.Result) (bool, string, error) {
	// wget exits 8 for an error status and still prints it; the last
	// status line is the one of the response that counts.
	var status string
	code := 0
	for _, line := range strings.Split(string(res.Stderr), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && strings.HasPrefix(f[0], "HTTP/") {
			if c, err := strconv.Atoi(f[1]); err == nil {
				code, status = c, strings.Join(f[1:], " ")
			}
		}
	}
	if code == 0 {
		return false, fmt.Sprintf("wget exit status %d: %s", res.ExitCode, outputTail(res)), nil
	}
	if code == w.hc.expect() {
		return true, status, nil
	}
	return false, statusAndBody(status, res.Stdout), nil
}

// tcpOnHost connects with bash's /dev/tcp on the host, bounded by
// timeout(1).
func (w *healthWaiter) tcpOnHost(ctx context.Context) (bool, string, error) {
	// timeout(1) bounds the connect even where sshd will not forward a
	// signal to the command (root logins); 124 is its "timed out".
	host, port, _ := net.SplitHostPort(w.hc.TCP)
	secs := secondsLeft(ctx)
	res, err := w.t.Transport.Run(ctx, inventory.Cmd{
		Args:     []string{"timeout", secs, "bash", "-c", healthTCPScript, "bash", host, port},
		NoBecome: true,
	})
	switch {
	case err != nil:
		return false, attemptErr(ctx, err), nil
	case res.ExitCode == 0:
		return true, "connected", nil
	case res.ExitCode == 124:
		return false, "no connection within " + secs + "s", nil
	case res.ExitCode == 127:
		return false, "", w.cannotRun("bash or timeout to connect with")
	}
	return false, outputTail(res), nil
}

// command runs the argv in cwd with healthCommandScript, through Run (so
// under become when the host has it).
func (w *healthWaiter) command(ctx context.Context) (bool, string, error) {
	// The script receives the directory as $1 and the argv after it; cd
	// failing (a missing release directory) is a failed attempt with sh's
	// message, exit status 2.
	args := w.hc.Command
	if w.cwd != "" {
		args = append([]string{"sh", "-c", healthCommandScript, "sh", w.cwd}, w.hc.Command...)
	}
	res, err := w.t.Transport.Run(ctx, inventory.Cmd{Args: args})
	switch {
	case err != nil:
		return false, attemptErr(ctx, err), nil
	case res.ExitCode == 0:
		return true, "exit 0", nil
	}
	return false, fmt.Sprintf("exit status %d: %s", res.ExitCode, outputTail(res)), nil
}
