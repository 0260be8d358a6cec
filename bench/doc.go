// Command tendbench is the benchmark harness of issue 7: tend against
// Ansible on the same hosts and the same work, side by side in one run.
//
// Start reading at run (main.go), then bench.cell (bench.go), which runs one
// size. The lifecycle of a harness run:
//
//  1. Create the benchmark user (tendbench: /bin/sh, an empty home, no rc
//     file) so that both tools log in to a plain shell, and a client key.
//  2. For every size N x M: start N OpenSSH sshd hosts on 127.0.0.1 (hosts.go;
//     kept for the following sizes), each with its own port, host key,
//     authorized_keys, LogLevel VERBOSE log and target directory; generate
//     the same work as a tend spec and as an Ansible playbook (workload.go).
//  3. Measure the SSH floor: one connection per host running true, all at
//     once, with Go's client (the floor subcommand, floor.go) and with one
//     OpenSSH client per host.
//  4. For every tool (tend, Ansible tuned, Ansible defaults; tools.go), run
//     the scenarios in order, from empty hosts, as many times as -runs
//     says: first converge, no-op re-run, a hand edit on every host then a
//     dry run with diff, the repair. Each invocation is checked (the tool's
//     own report counts the expected changes; after a converge or repair
//     every host's tree is compared with the expected one) and measured
//     (measure.go): wall time, CPU time of the whole process tree (wait4
//     rusage, plus the daemonized ControlPersist masters, which the
//     harness reaps as a child subreaper), peak memory, SSH connections and
//     sessions per host from sshd's logs, and the CPU the hosts spent.
//  5. Print a table of medians with the ratio Ansible/tend and the targets
//     of issue 7, and write results.json, results.csv and results.txt
//     (report.go), after every size.
//
// Run it with make bench (bench/README.md); it needs root.
package main
