# The same role as ../json/main.hcl.json, in native syntax.
variable "root" {
  type = string
}

locals {
  sites = { shop = 8081, blog = 8082 }
}

role "web" {
  hosts = ["*"]

  directory "root" {
    path = var.root
    mode = "0750"
  }

  file "site" {
    for_each = local.sites
    path     = "${var.root}/${each.key}.conf"
    content  = templatefile("templates/site.tmpl", { name = each.key, port = each.value })
    mode     = "0640"
  }

  symlink "current" {
    path       = "${var.root}/current"
    target     = file.site["shop"].path
    depends_on = [directory["root"]]
  }
}
