output "o" {
  value = file["x"].path         # ERROR: Reference to undeclared resource
}
variable "v" {
  type = number
}
locals {
  l = var.v + "x"                # ERROR: Invalid operand
}
