locals {
  paths = ["/etc/a"]
  bad   = file["/etc/a"].content  # ERROR: Invalid reference
}

role "web" {
  hosts = ["group:web"]

  file "/etc/a" {
    content    = "a"
    depends_on = [packge["nginx"]]  # ERROR: Invalid depends_on reference
  }
  file "/etc/b" {
    content    = "b"
    depends_on = [file["/etc/nope"]] # ERROR: Reference to undeclared resource
  }
  file "/etc/c" {
    content = file[local.paths[0]].content # ERROR: Invalid resource reference
  }
  file "/etc/d" {
    content    = "d"
    depends_on = [file["/etc/a"].content] # ERROR: Invalid depends_on reference
  }
  file "/etc/e" {
    content    = "e"
    depends_on = "file[\"/etc/a\"]"  # ERROR: Invalid depends_on
  }
  file "/etc/f" {
    content    = "f"
    depends_on = [file["/etc/a"], "/etc/b"] # ERROR: Invalid depends_on reference
  }
  file "/etc/g" {
    content = file["/etc/db"].content # ERROR: Reference to resource not on this host
  }
  file "/etc/h" {
    content = file["/etc/a"].nope     # ERROR: Unsupported attribute
  }
  file "/etc/i" {
    content = packge["nginx"].version # ERROR: Unknown variable
  }
}

role "db" {
  hosts = ["group:db"]
  file "/etc/db" {
    content = "db"
  }
}
