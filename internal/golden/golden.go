// Package golden compares test output with golden files under testdata and
// rewrites them when the tests run with -update:
//
//	go test ./... -update
//
// Every test package of the module imports it (some only for the flag), so
// that the flag is defined in each test binary and the command above works
// across the whole module.
package golden

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// Update is set by -update: golden files are rewritten instead of compared.
var Update = flag.Bool("update", false, "rewrite golden files under testdata instead of comparing with them")

// Check compares got with the file at path, or rewrites the file under
// -update. A mismatch fails the test with both texts.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if *Update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test -update to accept the new output)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}
