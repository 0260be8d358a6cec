variable "port" {
  type    = number
  default = "eighty"             # ERROR: Invalid default value for variable
}
variable "required" {            # ERROR: No value for required variable
  type = string
}
variable "given_port" {          # ERROR: Invalid value for variable
  type    = number
  default = 1
}
variable "weird" {
  type    = lisst(string)        # ERROR: Invalid type specification
  default = []
}
variable "flag" {
  default   = 1
  sensitive = "maybe"            # ERROR: Invalid sensitive value
}
variable "1st" {                 # ERROR: Invalid variable name
}
variable "computed" {
  default = var.port             # ERROR: Variables not allowed
}

role "web" {
  hosts = ["group:web"]
  file "/etc/port" {
    # the invalid values above are unknown here, not reported again
    content = "${var.port} ${var.given_port} ${var.required}"
  }
}
