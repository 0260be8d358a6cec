# A marker secret reaches files three ways: a sensitive variable used
# directly, the same variable through a template, and a file marked
# sensitive. None of it may appear in any output.
variable "root" {
  type = string
}

variable "db_password" {
  type      = string
  sensitive = true
}

variable "plain" {
  type    = string
  default = "not secret"
}

role "all" {
  hosts = ["*"]

  directory "root" {
    path = var.root
  }

  file "password" {
    path       = "${var.root}/password"
    content    = var.db_password
    depends_on = [directory["root"]]
  }

  file "app.conf" {
    path       = "${var.root}/app.conf"
    content    = templatefile("templates/app.conf.tmpl", { password = var.db_password, plain = var.plain })
    depends_on = [directory["root"]]
  }

  file "marked" {
    path       = "${var.root}/marked"
    content    = "api_key = SECRET-MARKER-2\n"
    sensitive  = true
    depends_on = [directory["root"]]
  }
}
