# One spec with all five classes of problem: every one must be reported.
role "web" {
  hosts = ["group:web"]

  file "/etc/app.conf" {
    contnt = "x"                 # ERROR: Unsupported argument
    content = "port = 80\n"
  }
  file "/etc/app.key" {
    mode = "0999"                # ERROR: Invalid file mode
  }
  file "/etc/motd" {
    content = var.nope           # ERROR: Reference to undeclared variable
  }
  directory "/srv/app" {}
  directory "/srv/app" {}        # ERROR: Duplicate resource

  file "/a" {                    # ERROR: Dependency cycle
    content    = "a"
    depends_on = [symlink["/b"]]
  }
  symlink "/b" {
    target = file["/a"].path
  }
}
