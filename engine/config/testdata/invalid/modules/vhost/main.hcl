variable "name" {
  type = string
}
variable "port" {
  type    = number
  default = 80
  validation {
    condition     = var.port >= 1 && var.port <= 65535
    error_message = "The port must be between 1 and 65535."
  }
}
variable "positive" {
  type    = number
  default = 0                    # ERROR: Invalid value for variable
  validation {
    condition     = var.positive > 0
    error_message = "The number must be positive."
  }
}
variable "other" {
  default = 1
  validation {
    condition     = var.port > 0 # ERROR: Invalid reference in variable validation
    error_message = "Never checked."
  }
}

file "conf" {
  path    = "/etc/vhost/${var.name}.conf"
  content = "port ${var.port}\n"
}
file "dep" {
  path       = "/etc/vhost/${var.name}.dep"
  depends_on = [file["nope"]]    # ERROR: Reference to undeclared resource
}

role "inside" {                  # ERROR: Role in a module
  hosts = ["*"]
}
