locals {
  env_name = upper(host.vars.env)
}

role "base" {
  hosts = ["*"]

  directory "/etc/base" {}
  file "/etc/base/issue" {
    content    = "managed by tend\n"
    depends_on = [directory["/etc/base"]]
  }
}
