package local

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tendhq/tend/inventory"
)

// signalWriter collects what it is given and closes seen once the output
// holds want.
type signalWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	had := strings.Contains(w.buf.String(), w.want)
	w.buf.Write(p)
	if !had && strings.Contains(w.buf.String(), w.want) {
		close(w.seen)
	}
	return len(p), nil
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// With Cmd.Stdout set, output arrives while the command runs: the command
// waits for input that the test sends only after seeing its first line.
func TestRunStreamsStdout(t *testing.T) {
	tr := New(Options{Log: zaptest.NewLogger(t)})
	in, feed := io.Pipe()
	w := &signalWriter{want: "first\n", seen: make(chan struct{})}
	type result struct {
		res *inventory.Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := tr.Run(context.Background(), inventory.Cmd{
			Args:   []string{"sh", "-c", `echo first; read x; echo "second $x"`},
			Stdin:  in,
			Stdout: w,
		})
		done <- result{res, err}
	}()
	select {
	case <-w.seen:
	case r := <-done:
		t.Fatalf("the command ended before its first line was streamed: %+v %v", r.res, r.err)
	case <-time.After(10 * time.Second):
		_ = feed.Close()
		t.Fatal("the first line was not streamed within 10s")
	}
	_, _ = feed.Write([]byte("go\n"))
	_ = feed.Close()
	var r result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the command did not end after its input was closed")
	}
	if r.err != nil || r.res.ExitCode != 0 {
		t.Fatalf("Run: %+v %v", r.res, r.err)
	}
	if len(r.res.Stdout) != 0 {
		t.Errorf("Result.Stdout = %q, want empty when streaming", r.res.Stdout)
	}
	if got := w.String(); got != "first\nsecond go\n" {
		t.Errorf("streamed %q", got)
	}
}
