# Common hardening of every host: the admins' accounts and keys, an sshd
# drop-in, and unattended security upgrades.

role "common" {
  hosts = ["*"]

  group "admins" {
    system = true
  }

  # One account per admin, with exactly the keys listed in the
  # environment's vars (a key removed there is removed from the host).
  user "admin" {
    for_each                  = var.admins
    name                      = each.key
    groups                    = ["admins"]
    shell                     = "/bin/bash"
    create_home               = true
    authorized_keys           = each.value
    authorized_keys_exclusive = true
  }

  file "/etc/sudoers.d/90-admins" {
    content = "# managed by tend: members of admins may use sudo without a password\n%admins ALL=(ALL:ALL) NOPASSWD: ALL\n"
    mode    = "0440"
    owner   = "root"
    group   = "root"
  }

  # sshd reads /etc/ssh/sshd_config.d/*.conf first, and the first value of
  # a setting wins: this drop-in overrides Debian's defaults. The unit's
  # reload runs `sshd -t` first, so a bad file never stops sshd.
  file "/etc/ssh/sshd_config.d/50-hardening.conf" {
    content = templatefile("templates/sshd-hardening.conf.tmpl", {
      permit_root_login = var.ssh_permit_root_login
    })
    mode   = "0644"
    notify = [service["ssh"]]
  }

  service "ssh" {
    state     = "running"
    enabled   = true
    on_notify = "reload"
  }

  # Security updates every day, from Debian's security archive only.
  package "unattended-upgrades" {}

  file "/etc/apt/apt.conf.d/20auto-upgrades" {
    source     = "files/20auto-upgrades"
    mode       = "0644"
    depends_on = [package["unattended-upgrades"]]
  }

  file "/etc/apt/apt.conf.d/52devops-map-unattended-upgrades" {
    source     = "files/52unattended-upgrades"
    mode       = "0644"
    depends_on = [package["unattended-upgrades"]]
  }

  file "/etc/motd" {
    content = "${host.name}: devops-map ${var.environment}. Managed by tend: changes made by hand are undone.\n"
    mode    = "0644"
  }
}
