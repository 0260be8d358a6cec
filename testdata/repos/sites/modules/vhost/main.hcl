# The document root of the site, and its config file, rendered from this
# module's own template (paths in templatefile are relative to the module).

directory "root" {
  path = "${var.root}/www/${var.name}"
  mode = "0755"
}

file "conf" {
  path = "${var.root}/conf.d/${var.name}.conf"
  content = templatefile("templates/vhost.conf.tmpl", {
    name        = var.name
    port        = var.port
    server_name = var.server_name
    root        = directory.root.path
  })
  mode = "0644"
}

output "conf_path" {
  value = file.conf.path
}
