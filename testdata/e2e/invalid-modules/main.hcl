# Three problems of issue 10's acceptance: a failed variable validation, a
# wrong type, and one path managed by two roles.
role "web" {
  hosts = ["*"]

  module "bad_port" {
    source      = "./modules/vhost"
    name        = "bad"
    root        = "/srv/tend-invalid"
    port        = 70000
    server_name = "bad.example"
  }

  module "typed" {
    source      = "./modules/vhost"
    name        = "typed"
    root        = "/srv/tend-invalid"
    port        = "eighty"
    server_name = "typed.example"
  }

  file "motd" {
    path    = "/srv/tend-invalid/motd"
    content = "web\n"
  }
}

role "all" {
  hosts = ["*"]

  file "banner" {
    path    = "/srv/tend-invalid/motd"
    content = "all\n"
  }
}
