# Bad jump references.
host "bastion" {
  jump = "gw:2200" # bastion connects through a gateway itself
}

host "a" {
  jump = "bastoin" # ERROR: Unknown jump host
}

host "b" {
  jump = "@gw:22" # ERROR: Invalid jump host
}

host "c" {
  jump = "ops@gw:http" # ERROR: Invalid jump host
}

host "d" {
  jump = "ops@gw:99999" # ERROR: Invalid jump host
}

host "e" {
  jump = "ops@" # ERROR: Invalid jump host
}

host "f" {
  jump = "f" # ERROR: Invalid jump host
}

host "g" {
  jump = "bastion" # ERROR: Chained jump host
}
