role "web" {
  hosts = ["group:web"]

  file "/etc/a" {
    content = templatefile("templates/bad_var.tmpl", { port = 80 })
  }
  file "/etc/b" {
    content = templatefile("templates/bad_syntax.tmpl", {})
  }
  file "/etc/c" {
    content = templatefile("templates/missing.tmpl", {}) # ERROR: Invalid function argument
  }
  file "/etc/d" {
    content = file("../../etc/passwd")     # ERROR: Invalid function argument
  }
  file "/etc/e" {
    content = file("/etc/passwd")          # ERROR: Invalid function argument
  }
  file "/etc/f" {
    content = templatefile("templates/plain.txt", "port") # ERROR: Invalid function argument
  }
  file "/etc/g" {
    source = "templates/none.txt"          # ERROR: Cannot read source
  }
}
