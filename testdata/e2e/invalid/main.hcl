# Five problems at once; every one must be reported, with its position,
# before any host is contacted.
role "web" {
  hosts = ["*"]

  file "/etc/tend-invalid/a" {
    content = "a"
    colour  = "red"
  }

  file "/etc/tend-invalid/b" {
    content = "b"
    mode    = "0999"
  }

  file "/etc/tend-invalid/c" {
    content = var.nope
  }

  file "/etc/tend-invalid/d" {
    content = "d"
  }

  file "/etc/tend-invalid/d" {
    content = "d again"
  }

  directory "/etc/tend-invalid/x" {
    depends_on = [directory["/etc/tend-invalid/y"]]
  }

  directory "/etc/tend-invalid/y" {
    depends_on = [directory["/etc/tend-invalid/x"]]
  }
}
