package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestSensitiveNeverPrinted plants marker secrets and checks that no output
// of plan (text, JSON, Markdown), apply, or the logs at debug level, in
// console and JSON form, holds them: on creation, and on an update whose
// diff would show them.
func TestSensitiveNeverPrinted(t *testing.T) {
	const marker1, marker2 = "SECRET-MARKER-1", "SECRET-MARKER-2"
	root := filepath.Join(t.TempDir(), "s")
	spec := "../../testdata/e2e/sensitive"
	base := []string{"--local", "--var=root=" + root, "--var=db_password=" + marker1, "--log-level=debug", spec}
	check := func(what string, r result) {
		t.Helper()
		for _, m := range []string{marker1, marker2} {
			if strings.Contains(r.stdout, m) || strings.Contains(r.stderr, m) {
				t.Errorf("%s printed the secret %s:\n%s", what, m, r)
			}
		}
	}
	for _, out := range []string{"text", "json", "markdown"} {
		for _, lf := range []string{"console", "json"} {
			r := tend(t, append([]string{"plan", "-o", out, "--log-format", lf}, base...)...)
			if r.code != 0 {
				t.Fatalf("plan -o %s: %s", out, r)
			}
			check("plan -o "+out+" --log-format "+lf, r)
		}
	}
	r := tend(t, append([]string{"apply"}, base...)...)
	if r.code != 0 {
		t.Fatalf("apply: %s", r)
	}
	check("apply", r)
	if got := readFile(t, filepath.Join(root, "password")); got != marker1 {
		t.Fatalf("password file = %q", got)
	}
	if got := readFile(t, filepath.Join(root, "app.conf")); !strings.Contains(got, marker1) {
		t.Fatalf("app.conf = %q", got)
	}

	// Hand edits: the plans now hold updates whose diffs would show secrets.
	for _, f := range []string{"password", "app.conf", "marked"} {
		writeFile(t, filepath.Join(root, f), "edited "+marker2+" "+marker1+"\n")
	}
	for _, out := range []string{"text", "json", "markdown"} {
		r := tend(t, append([]string{"plan", "--detailed-exitcode", "-o", out}, base...)...)
		if r.code != 2 {
			t.Fatalf("plan -o %s after edits: %s", out, r)
		}
		check("plan -o "+out+" of edited files", r)
	}
	r = tend(t, append([]string{"apply", "--log-format=json"}, base...)...)
	if r.code != 0 {
		t.Fatalf("repair: %s", r)
	}
	check("apply of edited files", r)
	if !strings.Contains(r.stdout, "(sensitive value)") {
		t.Errorf("the plan does not say a sensitive value changed:\n%s", r.stdout)
	}
}
