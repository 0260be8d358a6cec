// Package sshtest starts real OpenSSH sshd processes on 127.0.0.1 for tests
// of anything that talks SSH: the transport, the engine, the CLI.
//
// Start is the entry point: it returns n running servers, each with its own
// directory, ed25519 host key, sshd_config, log file and free port, and one
// client key shared by all of them (and authorized by all of them). Every
// server hands back a ready inventory.Host through Server.Host, so a test
// reads like:
//
//	srv := sshtest.Start(t, 1)[0]
//	tr, err := ssh.Dial(ctx, srv.Host("web1"), ssh.Options{})
//
// The servers share this machine's files and users: a file written over SFTP
// is on the local disk. The counting helpers (Server.Connections,
// Server.Sessions) read the server's own log, so a test can check what a
// transport claims to cost against what sshd saw.
//
// Everything Start launches is stopped in t.Cleanup by PID, also when the
// test fails. A missing /usr/sbin/sshd fails the test with the command that
// installs it; it never skips.
package sshtest
