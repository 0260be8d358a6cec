package config

import (
	"io/fs"
	"sync"

	"github.com/tendhq/tend/resources"
)

// sharedFS is the spec file system as resources read it
// (resources.SharedFS): a file's bytes are read and hashed once and shared
// by every block that reads them, so that a source file copied to 5,000
// hosts is in memory once. Files larger than sharedMax are read each time.
type sharedFS struct {
	fs.FS
	mu    sync.Mutex
	files map[string]sharedFile
}

// sharedFile is a file's bytes and their hex sha256.
type sharedFile struct {
	data []byte
	sum  string
}

// sharedMax is the size up to which a file is kept.
const sharedMax = 1 << 20

// ReadShared returns the bytes of name, which must not be modified, and
// their hex sha256.
func (s *sharedFS) ReadShared(name string) ([]byte, string, error) {
	s.mu.Lock()
	f, ok := s.files[name]
	s.mu.Unlock()
	if ok {
		return f.data, f.sum, nil
	}
	b, err := fs.ReadFile(s.FS, name)
	if err != nil {
		return nil, "", err
	}
	f = sharedFile{data: b, sum: resources.HashOf(b)}
	if len(b) > sharedMax {
		return f.data, f.sum, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, ok := s.files[name]; ok {
		return prev.data, prev.sum, nil
	}
	if s.files == nil {
		s.files = map[string]sharedFile{}
	}
	s.files[name] = f
	return f.data, f.sum, nil
}
