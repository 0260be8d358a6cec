# The example of the spec language, as a user would write it.
variable "app_port" {
  type        = number
  default     = 5000
  description = "The port the app listens on."
}

variable "api_token" {
  type      = string
  sensitive = true
}

locals {
  motd = "hello ${host.name}, ${local.env_name} on port ${var.app_port}"
}

role "web" {
  hosts = ["group:web", "host:db1", "web-*"]

  directory "/etc/devops-map" {
    mode = "0755"
  }
  file "/etc/devops-map/config.toml" {
    content = templatefile("templates/config.toml.tmpl", {
      port  = host.vars.http_port
      app   = var.app_port
      token = var.api_token
    })
    mode = "0640"
  }
  symlink "/usr/local/bin/x" {
    target     = "/opt/x"
    depends_on = [directory["/etc/devops-map"]]
  }
  file "/etc/motd" {
    content = "${local.motd}\n"
  }
}
