file "conf" {
  path    = "${var.root}/${var.name}.conf"
  content = "listen ${var.port}\n"
}
