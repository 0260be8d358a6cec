role "web" {
  hosts = ["group:web"]
  file "/etc/motd" {
    content = "café\n"          # ERROR: Invalid UTF-8
  }
}
