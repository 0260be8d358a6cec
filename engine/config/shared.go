package config

import (
	"io/fs"
	"sync"
)

// sharedFS is the spec file system as resources read it
// (resources.SharedFS): a file's bytes are read once and shared by every
// block that reads them, so that a source file copied to 5,000 hosts is in
// memory once. Files larger than sharedMax are read each time.
type sharedFS struct {
	fs.FS
	mu    sync.Mutex
	files map[string][]byte
}

// sharedMax is the size up to which a file is kept.
const sharedMax = 1 << 20

// ReadShared returns the bytes of name; they must not be modified.
func (s *sharedFS) ReadShared(name string) ([]byte, error) {
	s.mu.Lock()
	b, ok := s.files[name]
	s.mu.Unlock()
	if ok {
		return b, nil
	}
	b, err := fs.ReadFile(s.FS, name)
	if err != nil || len(b) > sharedMax {
		return b, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, ok := s.files[name]; ok {
		return prev, nil
	}
	if s.files == nil {
		s.files = map[string][]byte{}
	}
	s.files[name] = b
	return b, nil
}
