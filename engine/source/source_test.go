package source

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
)

var ctx = context.Background()

// specFiles is a small spec tree under specs/, with a nested template.
func specFiles(motd string) map[string]string {
	return map[string]string{
		"README.md":                     "not a spec\n",
		"specs/main.hcl":                `role "all" {}` + "\n",
		"specs/templates/motd.tmpl":     motd,
		"specs/modules/web/web.hcl":     "# web\n",
		"specs/modules/web/files/a.txt": "a\n",
	}
}

func TestFileCloneFetchFollowsBranchAndReusesCache(t *testing.T) {
	r := newRepo(t)
	h1 := r.commit(specFiles("hello\n"), "first\n\nwith a body")
	cache := filepath.Join(t.TempDir(), "cache")
	s := mustNew(t, Spec{URL: "file://" + r.bare, Ref: "main", Path: "specs", CacheDir: cache})

	if _, ok := s.Head(); ok {
		t.Fatal("Head before any fetch reports a revision")
	}
	snap, err := s.Fetch(ctx)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	rev := snap.Revision
	if rev.Hash != h1 || rev.Ref != "main" || rev.Author != "Ada Author <ada@example.test>" ||
		rev.Message != "first\n\nwith a body\n" || rev.Date.IsZero() || rev.Signed {
		t.Fatalf("revision = %+v, want hash %s on main", rev, h1)
	}
	if got, want := rev.String(), "main@sha1:"+h1; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
	b, err := fs.ReadFile(snap.FS, "templates/motd.tmpl")
	if err != nil || string(b) != "hello\n" {
		t.Fatalf("ReadFile = %q, %v", b, err)
	}
	if _, err := fs.ReadFile(snap.FS, "README.md"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a file outside Path is readable: %v", err)
	}
	ents, err := fs.ReadDir(snap.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, ","); got != "main.hcl,modules,templates" {
		t.Fatalf("ReadDir(.) = %s", got)
	}
	var walked []string
	err = fs.WalkDir(snap.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			walked = append(walked, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(walked)
	if got := strings.Join(walked, ","); got != "main.hcl,modules/web/files/a.txt,modules/web/web.hcl,templates/motd.tmpl" {
		t.Fatalf("WalkDir = %s", got)
	}
	if err := fstest.TestFS(snap.FS, "main.hcl", "templates/motd.tmpl", "modules/web/files/a.txt"); err != nil {
		t.Fatal(err)
	}

	// A new commit on the branch is followed; the old snapshot still reads
	// its own revision.
	h2 := r.commit(map[string]string{"specs/templates/motd.tmpl": "bye\n"}, "second")
	snap2, err := s.Fetch(ctx)
	if err != nil {
		t.Fatalf("second Fetch: %v", err)
	}
	if snap2.Revision.Hash != h2 || h2 == h1 {
		t.Fatalf("after a new commit: hash %s, want %s", snap2.Revision.Hash, h2)
	}
	if b, _ := fs.ReadFile(snap2.FS, "templates/motd.tmpl"); string(b) != "bye\n" {
		t.Fatalf("new snapshot reads %q", b)
	}
	if b, _ := fs.ReadFile(snap.FS, "templates/motd.tmpl"); string(b) != "hello\n" {
		t.Fatalf("old snapshot reads %q", b)
	}
	// Nothing new is not an error.
	snap3, err := s.Fetch(ctx)
	if err != nil || snap3.Revision.Hash != h2 {
		t.Fatalf("up-to-date Fetch: %v, %+v", err, snap3)
	}
	if head, ok := s.Head(); !ok || head.Hash != h2 {
		t.Fatalf("Head = %+v, %v", head, ok)
	}

	// A second Source on the same cache fetches instead of cloning, and
	// can go back to the first revision.
	s2 := mustNew(t, Spec{URL: "file://" + r.bare, Ref: "main", Path: "specs", CacheDir: cache})
	snap4, err := s2.Fetch(ctx)
	if err != nil || snap4.Revision.Hash != h2 {
		t.Fatalf("Fetch on the reused cache: %v", err)
	}
	if s.clones != 1 || s2.clones != 0 {
		t.Fatalf("clones: first source %d (want 1), second %d (want 0)", s.clones, s2.clones)
	}
	old, err := s2.At(ctx, h1[:10])
	if err != nil || old.Revision.Hash != h1 {
		t.Fatalf("At(%s): %v", h1[:10], err)
	}
	if b, _ := fs.ReadFile(old.FS, "templates/motd.tmpl"); string(b) != "hello\n" {
		t.Fatalf("At reads %q", b)
	}
	if head, _ := s2.Head(); head.Hash != h2 {
		t.Fatalf("At moved Head to %s", head.Hash)
	}
}

func TestDefaultRefIsRemoteHeadAndPlainPath(t *testing.T) {
	r := newRepo(t)
	h := r.commit(specFiles("x"), "one")
	for _, url := range []string{r.bare, "file://" + r.bare} {
		s := mustNew(t, Spec{URL: url}) // in memory, no cache dir
		snap, err := s.Fetch(ctx)
		if err != nil {
			t.Fatalf("Fetch %s: %v", url, err)
		}
		if snap.Revision.Ref != "main" || snap.Revision.Hash != h {
			t.Fatalf("%s: revision %s, want main@sha1:%s", url, snap.Revision, h)
		}
		if _, err := fs.Stat(snap.FS, "specs/templates/motd.tmpl"); err != nil {
			t.Fatalf("%s: %v", url, err)
		}
	}
}

func TestTagAndCommitPins(t *testing.T) {
	r := newRepo(t)
	h1 := r.commit(specFiles("v1\n"), "one")
	gitCmd(t, r.work, r.env, "tag", "-a", "-m", "release", "v1.0.0")
	gitCmd(t, r.work, r.env, "tag", "light")
	gitCmd(t, r.work, r.env, "push", "-q", "origin", "--tags")
	h2 := r.commit(map[string]string{"specs/templates/motd.tmpl": "v2\n"}, "two")
	gitCmd(t, r.work, r.env, "checkout", "-q", "-b", "feature")
	h3 := r.commit(map[string]string{"specs/templates/motd.tmpl": "feature\n"}, "three")

	cases := []struct{ ref, hash, label string }{
		{"v1.0.0", h1, "v1.0.0"},
		{"refs/tags/light", h1, "light"},
		{"main", h2, "main"},
		{"refs/heads/feature", h3, "feature"},
		{h1, h1, h1},
		{h1[:7], h1, h1[:7]},
		{strings.ToUpper(h2[:12]), h2, strings.ToUpper(h2[:12])},
	}
	cache := t.TempDir()
	for _, c := range cases {
		s := mustNew(t, Spec{URL: "file://" + r.bare, Ref: c.ref, CacheDir: cache})
		snap, err := s.Fetch(ctx)
		if err != nil {
			t.Fatalf("ref %s: %v", c.ref, err)
		}
		if snap.Revision.Hash != c.hash || snap.Revision.Ref != c.label {
			t.Fatalf("ref %s: got %s, want %s@sha1:%s", c.ref, snap.Revision, c.label, c.hash)
		}
	}
	// A tag stays put when the branch moves.
	s := mustNew(t, Spec{URL: "file://" + r.bare, Ref: "v1.0.0", CacheDir: cache})
	gitCmd(t, r.work, r.env, "checkout", "-q", "main")
	r.commit(map[string]string{"specs/templates/motd.tmpl": "v3\n"}, "four")
	if snap, err := s.Fetch(ctx); err != nil || snap.Revision.Hash != h1 {
		t.Fatalf("tag after a new commit: %v", err)
	}
	// Unknown refs are errors naming the ref.
	s = mustNew(t, Spec{URL: "file://" + r.bare, Ref: "nope", CacheDir: cache})
	if _, err := s.Fetch(ctx); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("unknown ref: %v", err)
	}
	// A missing Path is an error naming it.
	s = mustNew(t, Spec{URL: "file://" + r.bare, Ref: "main", Path: "missing", CacheDir: cache})
	if _, err := s.Fetch(ctx); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing path: %v", err)
	}
}

func TestNewRejectsBadSpecs(t *testing.T) {
	for _, spec := range []Spec{
		{},
		{URL: "ftp://example.test/repo.git"},
		{URL: "https://"},
		{URL: "/repo", Path: "../up"},
		{URL: "/repo", RequireSigned: true},
		{URL: "/repo", TrustedSSHKeys: []string{"not a key"}},
	} {
		if _, err := New(spec, nil); err == nil {
			t.Errorf("New(%+v) accepted a bad spec", spec)
		}
	}
}

func TestRedact(t *testing.T) {
	cases := map[string]string{
		`fetch https://x-access-token:ghp_SECRET@github.com/o/r.git: 401`: `fetch https://x-access-token:***@github.com/o/r.git: 401`,
		`url "http://TOKEN123@127.0.0.1:80/r.git"`:                        `url "http://***@127.0.0.1:80/r.git"`,
		`ssh://root@127.0.0.1:2222/srv/r.git`:                             `ssh://root@127.0.0.1:2222/srv/r.git`,
		`ssh://git:pw@host/r.git and https://u:p@h/x`:                     `ssh://git:***@host/r.git and https://u:***@h/x`,
		`no url here`: `no url here`,
	}
	for in, want := range cases {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
