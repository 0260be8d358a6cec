locals {
  greeting = "hello ${local.nobody}" # ERROR: Reference to undeclared local value
  port     = host.vars.nope          # ERROR: Unsupported attribute
  x        = nosuchfunc(1)           # ERROR: Call to unknown function
  y        = what.ever               # ERROR: Unknown variable
}

role "web" {
  hosts = ["group:web"]

  file "/etc/a" {
    content = var.nope            # ERROR: Reference to undeclared variable
  }
  file "/etc/b" {
    # errors upstream make values unknown: no second report here
    content = local.greeting
  }
  file "/etc/c" {
    content = "${var.missing}-${local.missing}" # ERROR: Reference to undeclared variable # ERROR: Reference to undeclared local value
  }
}
