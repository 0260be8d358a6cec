package source

import (
	"errors"
	"io/fs"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/sshtest"
)

const (
	goodToken = "tok_GOOD_0123456789abcdef"
	badToken  = "tok_BAD_fedcba9876543210"
	password  = "pw_Secret_Horse_Battery"
)

// gitHTTP serves the repositories under root through git http-backend,
// requiring basic auth with the password goodToken (any user name).
func gitHTTP(t *testing.T, root string) *httptest.Server {
	t.Helper()
	execPath := gitCmd(t, root, gitEnv(), "--exec-path")
	backend := &cgi.Handler{
		Path: filepath.Join(execPath, "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null"},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pw, ok := r.BasicAuth(); !ok || pw != goodToken {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestHTTPTokenAuthUnreachableAndNoSecretsLeak(t *testing.T) {
	r := newRepo(t)
	h1 := r.commit(specFiles("one\n"), "one")
	srv := gitHTTP(t, filepath.Dir(r.bare))
	url := srv.URL + "/origin.git"
	log, logs := bufLogger()
	var errs []string

	// A wrong token is refused as an authentication problem.
	bad, err := New(Spec{URL: url, Ref: "main", CacheDir: t.TempDir(), Auth: Auth{Token: badToken}}, log)
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.Fetch(ctx)
	if !errors.Is(err, ErrAuth) || errors.Is(err, ErrUnreachable) {
		t.Fatalf("wrong token: %v, want ErrAuth", err)
	}
	errs = append(errs, err.Error())
	// A password planted in the URL's userinfo is not repeated either.
	withPW := strings.Replace(url, "http://", "http://someone:"+password+"@", 1)
	planted, err := New(Spec{URL: withPW, Ref: "main", CacheDir: t.TempDir(), Auth: Auth{Username: "someone", Password: password}}, log)
	if err != nil {
		t.Fatal(err)
	}
	_, err = planted.Fetch(ctx)
	if err == nil {
		t.Fatal("a wrong password was accepted")
	}
	errs = append(errs, err.Error())

	// The right token works; the user name defaults to x-access-token.
	cache := t.TempDir()
	s, err := New(Spec{URL: url, Ref: "main", Path: "specs", CacheDir: cache, Auth: Auth{Token: goodToken}}, log)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := s.Fetch(ctx)
	if err != nil || snap.Revision.Hash != h1 {
		t.Fatalf("Fetch over http: %v", err)
	}
	h2 := r.commit(map[string]string{"specs/templates/motd.tmpl": "two\n"}, "two")
	if snap, err = s.Fetch(ctx); err != nil || snap.Revision.Hash != h2 {
		t.Fatalf("second Fetch over http: %v", err)
	}

	// The server goes away: Fetch says unreachable, Head and At still work.
	srv.Close()
	_, err = s.Fetch(ctx)
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("closed server: %v, want ErrUnreachable", err)
	}
	errs = append(errs, err.Error())
	if head, ok := s.Head(); !ok || head.Hash != h2 {
		t.Fatalf("Head after a failed fetch = %+v", head)
	}
	old, err := s.At(ctx, h1)
	if err != nil || old.Revision.Hash != h1 {
		t.Fatalf("At from the cache while unreachable: %v", err)
	}
	if b, _ := fs.ReadFile(old.FS, "templates/motd.tmpl"); string(b) != "one\n" {
		t.Fatalf("At reads %q", b)
	}
	// A revision the cache lacks cannot be had while unreachable.
	_, err = s.At(ctx, strings.Repeat("ab", 20))
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("At of an unknown commit while unreachable: %v", err)
	}
	errs = append(errs, err.Error())

	all := strings.Join(errs, "\n") + "\n" + logs.String()
	for _, secret := range []string{goodToken, badToken, password} {
		if strings.Contains(all, secret) {
			t.Fatalf("secret %q leaked into errors or logs:\n%s", secret, all)
		}
	}
	if !strings.Contains(logs.String(), "source: fetched") {
		t.Fatalf("no fetch was logged:\n%s", logs.String())
	}
}

func TestSSHKnownHostsChecked(t *testing.T) {
	r := newRepo(t)
	h := r.commit(specFiles("ssh\n"), "over ssh")
	srv := sshtest.Start(t, 1)[0]
	url := "ssh://root@" + srv.Addr + r.bare

	s := mustNew(t, Spec{URL: url, Ref: "main", Path: "specs", CacheDir: t.TempDir(),
		Auth: Auth{SSHKeyFile: srv.ClientKeyFile, KnownHosts: srv.KnownHostsFile}})
	snap, err := s.Fetch(ctx)
	if err != nil || snap.Revision.Hash != h {
		t.Fatalf("Fetch over ssh: %v", err)
	}
	if b, _ := fs.ReadFile(snap.FS, "templates/motd.tmpl"); string(b) != "ssh\n" {
		t.Fatalf("read %q", b)
	}

	// A known_hosts file with another key for this address is refused.
	other := sshtest.Start(t, 1)[0]
	line, err := os.ReadFile(other.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	wrong := filepath.Join(t.TempDir(), "known_hosts")
	fixed := strings.ReplaceAll(string(line), other.Addr[len("127.0.0.1:"):], srv.Addr[len("127.0.0.1:"):])
	if err := os.WriteFile(wrong, []byte(fixed), 0o600); err != nil {
		t.Fatal(err)
	}
	s = mustNew(t, Spec{URL: url, Ref: "main", CacheDir: t.TempDir(),
		Auth: Auth{SSHKeyFile: srv.ClientKeyFile, KnownHosts: wrong}})
	if _, err := s.Fetch(ctx); err == nil || !strings.Contains(err.Error(), "key") {
		t.Fatalf("a wrong host key was accepted: %v", err)
	}
	// A host missing from known_hosts is refused.
	empty := filepath.Join(t.TempDir(), "empty_known_hosts")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s = mustNew(t, Spec{URL: url, Ref: "main", CacheDir: t.TempDir(),
		Auth: Auth{SSHKeyFile: srv.ClientKeyFile, KnownHosts: empty}})
	if _, err := s.Fetch(ctx); err == nil {
		t.Fatal("an unknown host was accepted")
	}
}
