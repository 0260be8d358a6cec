package config

import (
	"bytes"
	"testing"
	"testing/fstest"

	"github.com/tendhq/tend/resources"
)

// TestSharedFS checks what file resources read sources through: the same
// bytes for every reader of a small file, each with its sha256, a large
// file read each time, and a missing file an error.
func TestSharedFS(t *testing.T) {
	big := bytes.Repeat([]byte("x"), sharedMax+1)
	s := &sharedFS{FS: fstest.MapFS{"files/a": {Data: []byte("a\n")}, "files/big": {Data: big}}}
	a1, sum1, err := s.ReadShared("files/a")
	if err != nil || string(a1) != "a\n" || sum1 != resources.HashOf([]byte("a\n")) {
		t.Fatalf("files/a: %q, %s, %v", a1, sum1, err)
	}
	a2, sum2, _ := s.ReadShared("files/a")
	if &a1[0] != &a2[0] || sum2 != sum1 {
		t.Errorf("a second read of files/a does not share the first")
	}
	b1, bsum, err := s.ReadShared("files/big")
	if err != nil || !bytes.Equal(b1, big) || bsum != resources.HashOf(big) {
		t.Fatalf("files/big: %d bytes, %s, %v", len(b1), bsum, err)
	}
	if b2, _, _ := s.ReadShared("files/big"); &b1[0] == &b2[0] {
		t.Errorf("a file over sharedMax is kept")
	}
	if _, _, err := s.ReadShared("files/missing"); err == nil {
		t.Errorf("a missing file reads without an error")
	}
}
