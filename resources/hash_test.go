package resources

import (
	"strings"
	"testing"
)

// TestSameHash checks the comparison File.Diff makes against the probe's
// hash: equal to HashOf, and nothing else matches.
func TestSameHash(t *testing.T) {
	b := []byte("server { listen 80; }\n")
	h := HashOf(b)
	if !sameHash(h, b) {
		t.Fatalf("sameHash(HashOf(b), b) = false")
	}
	for _, other := range []string{"", strings.ToUpper(h), h[:63], h + "0", HashOf([]byte("other"))} {
		if sameHash(other, b) {
			t.Errorf("sameHash(%q, b) = true", other)
		}
	}
	if !sameHash(HashOf(nil), nil) || !sameHash(HashOf([]byte{}), nil) {
		t.Errorf("the hash of empty content does not match")
	}
}
