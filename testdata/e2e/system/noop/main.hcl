# A host of ordinary size: 10 packages, 5 services, 20 files, 2 users. Once
# converged, a plan of it must cost one SSH connection and at most two remote
# executions.

locals {
  packages = ["sudo", "openssh-server", "procps", "iproute2", "dbus", "systemd", "ca-certificates", "tzdata", "adduser", "passwd"]
  services = ["ssh", "dbus", "systemd-journald", "systemd-logind", "systemd-user-sessions"]
  key      = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIuc1tDJh3L7ZnSYsBhzuRbPwmUoEOFbweeFU/eFLGNB e2e-noop@tend"
}

role "noop" {
  hosts = ["*"]

  package "pkg" {
    for_each = toset(local.packages)
    name     = each.key
  }

  service "svc" {
    for_each = toset(local.services)
    name     = each.key
    state    = "running"
  }

  file "conf" {
    count   = 20
    path    = "/etc/e2e-noop/f${count.index}.conf"
    content = "file ${count.index} on ${host.name}\n"
    mode    = "0640"
  }

  user "user" {
    for_each        = toset(["e2e-u1", "e2e-u2"])
    name            = each.key
    shell           = "/bin/sh"
    authorized_keys = [local.key]
  }
}
