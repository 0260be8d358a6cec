# The quickstart: converge this machine through the local transport.
# It manages var.root (default /tmp/tend-quickstart/demo); tend keeps its
# state beside it (scripts/quickstart.sh passes --state-dir).

variable "root" {
  type    = string
  default = "/tmp/tend-quickstart/demo"
}

variable "http_port" {
  type    = number
  default = 5000
}

variable "api_token" {
  type      = string
  default   = "quickstart-token-0123456789"
  sensitive = true
}

locals {
  etc = "${var.root}/etc/devops-map"
}

role "demo" {
  hosts = ["*"]

  directory "root" {
    path = var.root
    mode = "0755"
  }

  directory "etc" {
    path       = local.etc
    mode       = "0750"
    depends_on = [directory["root"]]
  }

  file "config" {
    path = "${local.etc}/config.toml"
    content = templatefile("templates/config.toml.tmpl", {
      host = host.name
      port = var.http_port
    })
    mode       = "0640"
    depends_on = [directory["etc"]]
  }

  file "token" {
    path       = "${local.etc}/token"
    content    = var.api_token
    mode       = "0600"
    sensitive  = true
    depends_on = [directory["etc"]]
  }

  file "motd" {
    path       = "${var.root}/motd"
    content    = "Welcome to ${host.name}, converged by tend.\n"
    depends_on = [directory["root"]]
  }

  symlink "current" {
    path       = "${var.root}/current"
    target     = local.etc
    depends_on = [directory["etc"]]
  }
}
