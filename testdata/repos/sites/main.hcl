# An example spec repository: two roles that instantiate one module, the
# vhost module, with different inputs. Paths come from host variables of
# the inventory (host.vars.root, host.vars.domain), so every host gets its
# own.

variable "api_port" {
  type        = number
  default     = 9000
  description = "The port the API site listens on."
}

locals {
  # site01 = 8001, ..., site20 = 8020
  sites = { for i in range(1, 21) : format("site%02d", i) => 8000 + i }
}

role "web" {
  hosts = ["group:web"]

  directory "conf.d" {
    path = "${host.vars.root}/conf.d"
    mode = "0755"
  }

  # One module instance per site: module.sites["site07"].file[conf], ...
  module "sites" {
    source      = "./modules/vhost"
    for_each    = local.sites
    name        = each.key
    root        = host.vars.root
    port        = each.value
    server_name = "${each.key}.${host.vars.domain}"
    depends_on  = [directory["conf.d"]]
  }
}

role "api" {
  hosts = ["group:api", "api-*"]

  module "api" {
    source      = "./modules/vhost"
    name        = "api"
    root        = host.vars.root
    port        = var.api_port
    server_name = "api.${host.vars.domain}"
  }
}
