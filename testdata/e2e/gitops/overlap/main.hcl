# Two agents syncing one host at once (cmd/tend/gitops_test.go): the exec
# logs when it starts and ends, in nanoseconds, so that the test can check
# that the two runs never overlap.

role "overlap" {
  hosts = ["*"]

  exec "stamp" {
    command = ["sh", "-c", "echo start $(date +%s%N) >> /root/overlap.log; sleep 2; echo end $(date +%s%N) >> /root/overlap.log"]
  }
}
