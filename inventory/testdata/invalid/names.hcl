# Names and addresses with white space.
host "web 1" { # ERROR: Invalid host name
}

host "web\n2" { # ERROR: Invalid host name
}

host "" { # ERROR: Invalid host name
}

group "front end" { # ERROR: Invalid group name
}

host "web3" {
  address = "10.0.0.3 " # ERROR: Invalid address
}

host "web4" {
  address = "10.0.0.4\n" # ERROR: Invalid address
  groups  = ["front\tend"] # ERROR: Invalid group name
}

group "web" {
  hosts = ["web 5"] # ERROR: Invalid host name
}
