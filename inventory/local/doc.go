// Package local is the transport for the machine tend itself runs on: pull
// mode (`tend agent` converging its own host), the quickstart, and tests.
//
// Start reading at New (local.go). Run executes the argv directly with
// os/exec (no shell, so nothing needs quoting), in its own process group so
// that cancelling kills the whole tree; under become it goes through
// `sudo -n -u USER --`. FS is the os package with modes set exactly
// (fs.go). Stats.Connections is always 0, Stats.Execs counts commands;
// DialContext (dial.go), which health checks use, is a plain TCP dial.
package local
