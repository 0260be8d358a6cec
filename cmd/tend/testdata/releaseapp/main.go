// Command releaseapp is the application the release tests deploy: an HTTP
// server whose version and health come from files of its release
// directory, so that one binary makes every release of the tests.
//
//	releaseapp -port N      serve /version (the VERSION file) and /healthz
//	                        (200, or 500 when a BROKEN file exists)
//	releaseapp migrate      append "migrated VERSION" to data/migrations.log
//
// Files are looked up in the directory above the binary's bin/: the
// release directory.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	exe, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}
	// Not EvalSymlinks: the binary runs as current/bin/releaseapp and
	// must read the files of the release current points at, which the
	// kernel resolved already when it started the binary.
	dir := filepath.Dir(filepath.Dir(exe))
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	version := read("VERSION")
	if len(os.Args) > 1 && os.Args[1] == "migrate" {
		f, err := os.OpenFile(filepath.Join(dir, "data", "migrations.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Fprintf(f, "migrated %s in %s\n", version, dir)
		if err := f.Close(); err != nil {
			log.Fatal(err)
		}
		return
	}
	port := flag.Int("port", 8080, "port on 127.0.0.1")
	flag.Parse()
	_, broken := os.Stat(filepath.Join(dir, "BROKEN"))
	http.HandleFunc("/version", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, version) })
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if broken == nil {
			http.Error(w, "broken release "+version+": cannot reach its database", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	log.Fatal(http.ListenAndServe(fmt.Sprintf("127.0.0.1:%d", *port), nil))
}
