package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/agent"
	"github.com/tendhq/tend/internal/sshtest"
)

// selfSigned writes a certificate and key for 127.0.0.1 into dir and
// returns their paths and a pool that trusts the certificate.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "tend agent test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "agent.crt"), filepath.Join(dir, "agent.key")
	writeFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})))
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestAgentAccess guarantees the agent's access rules, through a real
// agent process serving TLS:
//   - with tls_cert_file and tls_key_file the API and the UI are HTTPS
//     only (a plain HTTP request gets no answer it could use);
//   - a request without a token, or with a wrong one, is 401; a read-only
//     token reads but gets 403 on sync and rollback; an admin token syncs;
//   - a webhook without a valid HMAC signature is refused;
//   - no token secret appears in the agent's logs, at debug level;
//   - listen defaults to 127.0.0.1.
func TestAgentAccess(t *testing.T) {
	servers := sshtest.Start(t, 1)
	inv, roots := sshInventory(t, servers)
	dir := t.TempDir()
	repo := newGitopsRepo(t, dir)
	repo.commit(map[string]string{"main.hcl": fmt.Sprintf(`role "all" {
  hosts = ["*"]
  file %q {
    content = "v1\n"
  }
}
`, filepath.Join(roots[0], "app.txt"))}, "v1")
	certFile, keyFile, pool := selfSigned(t, dir)
	const readOnly = "read-only-secret-42"
	addr := freePort(t)
	cfg := gitopsConfig(t, dir, "agent.hcl", "file://"+repo.bare, inv, addr, filepath.Join(dir, "data"), testStateDir(t), fmt.Sprintf(`poll_interval  = "200ms"
drift_interval = "1h"
sync_policy    = "manual"
tls_cert_file  = %q
tls_key_file   = %q
token "viewer" {
  secret    = %q
  read_only = true
}
`, certFile, keyFile, readOnly))

	logs := &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		root := newRoot()
		root.SetArgs([]string{"agent", "-c", cfg, "--log-level", "debug", "--log-format", "json"})
		root.SetOut(logs)
		root.SetErr(logs)
		done <- root.ExecuteContext(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Errorf("the agent did not stop")
		}
	})

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	do := func(method, path, token string) int {
		req, err := http.NewRequest(method, "https://"+addr+path, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return -1
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	deadline := time.Now().Add(30 * time.Second)
	for do(http.MethodGet, "/api/v1/healthz", "") != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("the agent never answered over HTTPS:\n%s", tailLines(logs.String(), 30))
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Plain HTTP gets nothing usable from a TLS listener.
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/api/v1/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("plain HTTP was answered 200 by a TLS agent")
		}
	}
	// Wait for the first plan: the host is OutOfSync.
	a := &gitopsAgent{t: t, addr: addr, logs: logs}
	a.wait("the first plan", 30*time.Second, func() (bool, string) {
		req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/api/v1/status", nil)
		req.Header.Set("Authorization", "Bearer "+gitopsToken)
		resp, err := client.Do(req)
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		var st agent.Status
		if err := jsonDecode(resp, &st); err != nil {
			return false, err.Error()
		}
		return hostsAre(st, 1, agent.StatusOutOfSync, "")
	})

	for _, tc := range []struct {
		method, path, token string
		want                int
	}{
		{http.MethodGet, "/api/v1/status", "", http.StatusUnauthorized},
		{http.MethodGet, "/api/v1/status", "not-a-token-at-all", http.StatusUnauthorized},
		{http.MethodGet, "/api/v1/status", readOnly, http.StatusOK},
		{http.MethodGet, "/api/v1/history", readOnly, http.StatusOK},
		{http.MethodPost, "/api/v1/sync", readOnly, http.StatusForbidden},
		{http.MethodPost, "/api/v1/rollback", readOnly, http.StatusForbidden},
		{http.MethodPost, "/api/v1/pause", readOnly, http.StatusForbidden},
		{http.MethodPost, "/api/v1/webhook", "", http.StatusUnauthorized},
	} {
		if got := do(tc.method, tc.path, tc.token); got != tc.want && !(tc.path == "/api/v1/webhook" && got == http.StatusForbidden) {
			t.Errorf("%s %s with token %q: %d, want %d", tc.method, tc.path, tc.token, got, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(roots[0], "app.txt")); !os.IsNotExist(err) {
		t.Errorf("a read-only token changed the host: %v", err)
	}
	if got := do(http.MethodPost, "/api/v1/sync", gitopsToken); got != http.StatusOK {
		t.Errorf("sync with the admin token: %d", got)
	}
	if got := readFile(t, filepath.Join(roots[0], "app.txt")); got != "v1\n" {
		t.Errorf("the admin sync did not converge the host: %q", got)
	}
	cancel()
	<-done
	done <- nil // for the cleanup
	for _, secret := range []string{gitopsToken, readOnly, "not-a-token-at-all"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the agent's debug log holds the token %q", secret)
		}
	}
	if !strings.Contains(logs.String(), `"scheme":"https"`) {
		t.Errorf("the agent did not log that it serves HTTPS:\n%s", tailLines(logs.String(), 20))
	}

	// listen defaults to loopback.
	plain := filepath.Join(dir, "default.hcl")
	writeFile(t, plain, fmt.Sprintf("source {\n  url = %q\n}\ninventory = %q\n", "file://"+repo.bare, inv))
	c, _, diags := agent.LoadConfig(plain)
	if diags.HasErrors() || c.Listen != "127.0.0.1:7070" {
		t.Errorf("default listen %q (%v), want 127.0.0.1:7070", c.Listen, diags)
	}
	// Half a TLS configuration is an error at its position.
	half := filepath.Join(dir, "half.hcl")
	writeFile(t, half, fmt.Sprintf("source {\n  url = %q\n}\ninventory = %q\ntls_cert_file = %q\n", "file://"+repo.bare, inv, certFile))
	if _, _, diags := agent.LoadConfig(half); !diags.HasErrors() || !strings.Contains(diags.Error(), "half.hcl:5,1") || !strings.Contains(diags.Error(), "TLS needs both tls_cert_file and tls_key_file") {
		t.Errorf("half a TLS configuration: %v", diags)
	}
}

// jsonDecode decodes a response body into out.
func jsonDecode(resp *http.Response, out any) error {
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s", resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
