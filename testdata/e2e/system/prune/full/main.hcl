# The full spec: two files and a package. prune/reduced drops one file and
# the package, which a plan then reports as orphaned.

role "prune" {
  hosts = ["*"]

  file "/etc/e2e-prune/keep" {
    content = "kept\n"
  }

  file "/etc/e2e-prune/gone" {
    content = "pruned later\n"
  }

  package "hello" {}
}
