# prune/full without file[/etc/e2e-prune/gone] and package[hello].

role "prune" {
  hosts = ["*"]

  file "/etc/e2e-prune/keep" {
    content = "kept\n"
  }
}
