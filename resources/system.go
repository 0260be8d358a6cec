package resources

import (
	"context"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/tendhq/tend/inventory"
)

// This file holds what the system kinds (package, service, user, group,
// exec) share when they apply: running an argv on the host and turning a
// non-zero exit into an error that says what failed.

// hostName names the target host in messages.
func (t *Target) hostName() string {
	if t.Host != nil && t.Host.Name != "" {
		return t.Host.Name
	}
	return "host"
}

// logger returns t.Log, or a no-op logger when the Target has none.
func (t *Target) logger() *zap.Logger {
	if t.Log != nil {
		return t.Log
	}
	return zap.NewNop()
}

// run runs cmd on the host and returns an error naming what (e.g. "apt-get
// install nginx") when it cannot run or exits non-zero; the error holds the
// tail of its stderr (or stdout, when stderr is empty).
func run(ctx context.Context, t *Target, what string, cmd inventory.Cmd) (*inventory.Result, error) {
	t.logger().Debug("run", zap.String("what", what))
	res, err := t.Transport.Run(ctx, cmd)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", what, t.hostName(), err)
	}
	if res.ExitCode != 0 {
		return res, fmt.Errorf("%s on %s: exit status %d: %s", what, t.hostName(), res.ExitCode, outputTail(res))
	}
	return res, nil
}

// outputTail returns the last lines of a failed command's stderr (or its
// stdout when stderr is empty), at most about 1 KiB, on one line each
// separated by " | ".
func outputTail(res *inventory.Result) string {
	out := strings.TrimSpace(string(res.Stderr))
	if out == "" {
		out = strings.TrimSpace(string(res.Stdout))
	}
	if out == "" {
		return "no output"
	}
	lines := strings.Split(out, "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	s := strings.Join(lines, " | ")
	if len(s) > 1024 {
		s = "..." + s[len(s)-1024:]
	}
	return s
}

// displayArgv prints an argv as a reader would type it: words with spaces
// or shell characters single-quoted. It is for plans and messages only;
// commands always run as argv.
func displayArgv(argv []string) string {
	words := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == "" {
			words[i] = a
		} else {
			words[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(words, " ")
}
