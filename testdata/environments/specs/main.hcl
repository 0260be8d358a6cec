# The application "shop", the same in every environment. What differs
# between environments is data: the version deployed and how much it logs
# come from each environment's vars files (vars_files in its inventory),
# where it lives and which port it listens on are host variables.
#
#   tend plan -i environments/staging/inventory.hcl specs
#   tend plan -i environments/production/inventory.hcl specs

variable "app_version" {
  type        = string
  description = "The release of shop to run, such as \"1.4.2\"."
}

variable "log_level" {
  type        = string
  default     = "info"
  description = "debug, info, warn or error."
}

locals {
  # Every path is under host.vars.root, so that hosts sharing one file
  # system (test hosts) stay apart.
  etc      = "${host.vars.root}/etc/shop"
  releases = "${host.vars.root}/opt/shop/releases"
}

role "shop" {
  hosts = ["group:app"]

  directory "etc" {
    path = local.etc
    mode = "0755"
  }

  directory "release" {
    path = "${local.releases}/${var.app_version}"
    mode = "0755"
  }

  file "config" {
    path    = "${local.etc}/shop.conf"
    content = <<-EOT
      # managed by tend: environment ${host.vars.environment}
      version   = "${var.app_version}"
      log_level = "${var.log_level}"
      listen    = "0.0.0.0:${host.vars.http_port}"
      instance  = "${host.name}"
    EOT
    mode    = "0640"
  }

  # current points at the release being run; changing app_version moves it.
  symlink "current" {
    path   = "${host.vars.root}/opt/shop/current"
    target = directory["release"].path
  }
}
