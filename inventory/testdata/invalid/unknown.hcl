# Unknown names: attributes, blocks, variables, functions.
defaults {
  usr = "deploy" # ERROR: Unsupported argument
}

host "a" {
  adress = "10.0.0.1" # ERROR: Unsupported argument
  ssh {               # ERROR: Unsupported block type
  }
}

group "g" {
  members = ["a"] # ERROR: Unsupported argument
}

hosts "b" { # ERROR: Unsupported block type
}

host "c" {
  user    = var.user       # ERROR: Variables not allowed
  address = lookup_ip("c") # ERROR: Call to unknown function
}
