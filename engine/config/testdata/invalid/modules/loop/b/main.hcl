module "a" {
  source = "../a"                # ERROR: Module cycle
}
module "self" {
  source = "./"                  # ERROR: Module cycle
}
