role "web" {
  hosts = ["group:web"]

  module "ok" {
    source = "./modules/vhost"
    name   = "ok"
  }
  module "bad_type" {
    source = "./modules/vhost"
    name   = "t"
    port   = "eighty"            # ERROR: Invalid value for input variable
  }
  module "bad_port" {
    source = "./modules/vhost"
    name   = "p"
    port   = 70000               # ERROR: Invalid value for variable
  }
  module "unknown_input" {
    source = "./modules/vhost"
    name   = "u"
    colour = "red"               # ERROR: Unsupported argument
  }
  module "missing" {             # ERROR: Missing required input variable
    source = "./modules/vhost"
  }
  module "escape" {
    source = "../../outside"     # ERROR: Invalid module source
  }
  module "not_local" {
    source = "modules/vhost"     # ERROR: Invalid module source
  }
  module "nowhere" {
    source = "./modules/none"    # ERROR: Cannot read module directory
  }
  module "loop" {
    source = "./modules/loop/a"
  }
  module "no_source" {           # ERROR: Missing required argument
    name = "x"
  }
  module "resource_input" {
    source = "./modules/vhost"
    name   = file["/etc/x"].path # ERROR: Invalid reference
  }
  module "broken" {
    source = "./modules/broken"
    v      = 1
  }
  module "both" {
    source   = "./modules/vhost"
    for_each = { a = 1 }
    count    = 1                 # ERROR: Invalid combination of "count" and "for_each"
    name     = "both"
  }
  module "bad-name!" {           # ERROR: Invalid module name
    source = "./modules/vhost"
  }
  file "/etc/x" {
    content    = module.ok.nope  # ERROR: Reference to undeclared output
    depends_on = [module.nope]   # ERROR: Reference to undeclared module
  }
  module "dup" {
    source = "./modules/vhost"
    name   = "d1"
  }
}

role "web2" {
  hosts = ["web*"]
  module "dup" {                 # ERROR: Duplicate module call
    source = "./modules/vhost"
    name   = "d2"
  }
}
