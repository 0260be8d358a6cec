package ssh

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tendhq/tend/inventory"
)

// Quote returns s as one word for a POSIX shell: wrapped in single quotes,
// with every single quote written as '\”. Nothing inside single quotes is
// special to the shell, so spaces, $(...), backquotes, ";" and newlines reach
// the program as they are.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// commandLine builds the string sent in the exec request for cmd: every word
// quoted exactly once, prefixed by `env NAME=value ...` for cmd.Env and by
// `sudo -n -u USER --` when become is a user to switch to ("" for none). sudo
// comes first so that the variables survive sudo's environment reset.
func commandLine(cmd inventory.Cmd, become string) (string, error) {
	if len(cmd.Args) == 0 {
		return "", errors.New("empty argv")
	}
	var argv []string
	if become != "" && !cmd.NoBecome {
		argv = append(argv, "sudo", "-n", "-u", become, "--")
	}
	if len(cmd.Env) > 0 {
		argv = append(argv, "env")
		for _, e := range cmd.Env {
			if err := checkEnv(e); err != nil {
				return "", err
			}
			argv = append(argv, e)
		}
	}
	argv = append(argv, cmd.Args...)
	words := make([]string, len(argv))
	for i, a := range argv {
		words[i] = Quote(a)
	}
	return strings.Join(words, " "), nil
}

// checkEnv accepts NAME=value with a shell variable name, which is what
// env(1) treats as an assignment rather than as the command.
func checkEnv(e string) error {
	name, _, ok := strings.Cut(e, "=")
	if !ok || name == "" {
		return fmt.Errorf("environment entry %q is not NAME=value", e)
	}
	for i, r := range name {
		if r == '_' || (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z') || (i > 0 && r >= '0' && r <= '9') {
			continue
		}
		return fmt.Errorf("environment entry %q: %q is not a variable name", e, name)
	}
	return nil
}
