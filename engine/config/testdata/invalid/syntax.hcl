role "web" {
  hosts = ["group:web"]
  file "/etc/a" {
    content = "a" "b"            # ERROR: Missing newline after argument
  }
}
