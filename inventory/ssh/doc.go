// Package ssh is the agentless transport: it reaches a host over one SSH
// connection (golang.org/x/crypto/ssh) and implements inventory.Transport
// and inventory.FileSystem on it.
//
// Start reading at Dial (ssh.go). The lifecycle of a Transport is:
//
//  1. Dial authenticates with the host's identity files and/or ssh-agent
//     keys (auth.go), checks the host key against known_hosts, recording it
//     only on trust-on-first-use and refusing a changed key always
//     (hostkeys.go), through a jump host when the inventory names one. Dial
//     opens exactly one network connection to the host; its TCP connect and
//     handshake are bounded by Host.ConnectTimeout.
//  2. Run executes one argv per SSH session, multiplexed on that
//     connection; argv and environment are quoted once, here (quote.go).
//     Sessions are bounded per connection (Options.MaxSessions) to stay
//     under sshd's MaxSessions.
//  3. FS opens SFTP on its first call only (sftp.go): the "sftp" subsystem,
//     or sftp-server run through sudo when the host becomes another user.
//  4. Close ends SFTP and the connection.
//
// Stats counts what this costs: Connections is the handshake with the target
// (a jump host's connection is not counted), Execs every exec request and
// every SFTP start, so the engine's "one connection, at most two executions
// for a no-op run" contract can be asserted, and tests compare it with the
// server's own log (internal/sshtest).
//
// DialContext (dial.go) opens a TCP connection from the host over the same
// connection, as a direct-tcpip channel: health checks reach the host's
// 127.0.0.1 without a new handshake or anything installed there.
package ssh
