# Facts in expressions: a when condition and a template over host.facts.
variable "root" {
  type = string
}

role "all" {
  hosts = ["*"]

  file "about" {
    path    = "${var.root}/about"
    content = "os=${host.facts.os.id} ${host.facts.os.version_id} arch=${host.facts.arch} cpus=${host.facts.cpus} host=${host.facts.hostname}\n"
  }

  file "debian-only" {
    path = "${var.root}/debian"
    when = host.facts.os.id == "debian"
  }

  file "alpine-only" {
    path = "${var.root}/alpine"
    when = host.facts.os.id == "alpine"
  }

  file "big-only" {
    for_each = toset(["a", "b"])
    path     = "${var.root}/big-${each.key}"
    when     = host.facts.memory_mb > 1 && each.key == "a"
  }
}
