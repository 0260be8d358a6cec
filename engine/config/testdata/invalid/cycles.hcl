locals {
  a = local.b                    # ERROR: Local value cycle
  b = "${local.a}x"
  c = local.a                    # unknown: no second report
}

role "web" {
  hosts = ["group:web"]

  # a two-member cycle through depends_on and a reference
  file "/a" {                    # ERROR: Dependency cycle
    content    = "a"
    depends_on = [symlink["/b"]]
  }
  symlink "/b" {
    target = file["/a"].path
  }

  # a resource that refers to itself
  directory "/self" {            # ERROR: Dependency cycle
    mode = directory["/self"].mode
  }

  # three members across kinds; depends on the first cycle too
  directory "/x" {               # ERROR: Dependency cycle
    depends_on = [file["/z"], file["/a"]]
  }
  symlink "/y" {
    target     = "/x"
    depends_on = [directory["/x"]]
  }
  file "/z" {
    content = symlink["/y"].target
  }
}
