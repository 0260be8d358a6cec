// Command devops-map is the application of the example repository: a small
// HTTP monolith, deployed by tend as a release behind nginx.
//
//	devops-map serve     serve HTTP on $DEVOPS_MAP_LISTEN (default 127.0.0.1:8080)
//	devops-map migrate   bring the schema up to this release (run by tend's before_switch)
//	devops-map version   print the version
//
// It answers
//
//	GET /          a greeting naming the version and the instance
//	GET /version   the version, one line
//	GET /healthz   200 "ok" once it is ready to serve (tend's health check)
//
// Configuration comes from the environment, which the systemd unit reads
// from /etc/devops-map/env (written by tend): DEVOPS_MAP_LISTEN,
// DEVOPS_MAP_INSTANCE, DEVOPS_MAP_DATABASE_URL and DEVOPS_MAP_DATA.
//
// A real application would connect to PostgreSQL and run its migrations
// there; this one keeps the example free of dependencies, so migrate
// records the schema version in DEVOPS_MAP_DATA (the release's shared data
// directory) and serve reports whether a database URL is configured without
// printing it.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// version is set at build time: go build -ldflags "-X main.version=1.2.0".
var version = "dev"

// schemaVersion is the schema this release needs; migrate brings the data
// directory to it.
const schemaVersion = 3

func main() {
	cmd := "serve"
	if len(os.Args) > 1 {
		cmd = os.Args[1]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve()
	case "migrate":
		err = migrate()
	case "version":
		fmt.Println(version)
	default:
		err = fmt.Errorf("unknown command %q: use serve, migrate or version", cmd)
	}
	if err != nil {
		log.Fatalf("devops-map %s: %v", cmd, err)
	}
}

// env returns the environment variable name, or def when it is unset.
func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// dataDir is where the application keeps its files: DEVOPS_MAP_DATA, or
// data/ in the working directory (the release directory, where tend links
// the shared data directory).
func dataDir() string {
	return env("DEVOPS_MAP_DATA", "data")
}

// migrate records schemaVersion in the data directory, with the release
// that migrated it. It is idempotent, as before_switch commands should be:
// a deploy that is retried runs it again.
func migrate() error {
	dir := dataDir()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("make data directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, "schema_version")
	tmp := path + ".tmp"
	content := fmt.Sprintf("%d\n", schemaVersion)
	if err := os.WriteFile(tmp, []byte(content), 0o640); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "migrations.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("open migration log: %w", err)
	}
	_, err = fmt.Fprintf(f, "%s schema %d by release %s\n", time.Now().UTC().Format(time.RFC3339), schemaVersion, version)
	return errors.Join(err, f.Close())
}

// serve runs the HTTP server until SIGTERM or SIGINT.
func serve() error {
	addr := env("DEVOPS_MAP_LISTEN", "127.0.0.1:8080")
	instance := env("DEVOPS_MAP_INSTANCE", "")
	if instance == "" {
		instance, _ = os.Hostname()
	}
	dbConfigured := os.Getenv("DEVOPS_MAP_DATABASE_URL") != ""

	mux := http.NewServeMux()
	mux.HandleFunc("/version", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, version)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(filepath.Join(dataDir(), "schema_version"))
		if err != nil || strings.TrimSpace(string(b)) != fmt.Sprint(schemaVersion) {
			http.Error(w, "schema not migrated to "+fmt.Sprint(schemaVersion), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "devops-map %s on %s (database configured: %t)\n", version, instance, dbConfigured)
	})

	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Printf("devops-map %s listening on %s", version, addr)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
