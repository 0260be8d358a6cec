# A slow sync (cmd/tend/gitops_test.go, the agent killed mid-sync): the exec
# has no guard, so it runs on every apply and takes 5 s; the marker file is
# written after it, so an interrupted sync leaves it missing.

role "slow" {
  hosts = ["*"]

  exec "slow" {
    command = ["sleep", "5"]
  }

  file "/srv/slow/done" {
    content    = "converged\n"
    depends_on = [exec["slow"]]
  }
}
