# Resources chosen and rendered from the facts the probe gathers.

role "facts" {
  hosts = ["*"]

  file "/etc/e2e-facts/on-debian" {
    content = "debian\n"
    when    = host.facts.os.id == "debian"
  }

  file "/etc/e2e-facts/on-alpine" {
    content = "alpine\n"
    when    = host.facts.os.id == "alpine"
  }

  file "/etc/e2e-facts/facts.txt" {
    content = templatefile("templates/facts.txt.tmpl", { f = host.facts })
  }
}
