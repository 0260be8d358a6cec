# Duplicate declarations; the details name the first one.
defaults {}

host "web1" {
  address = "10.0.0.1"
}

group "web" {}

host "web1" { # ERROR: Duplicate host
  address = "10.0.0.2"
}

group "web" { # ERROR: Duplicate group
}

defaults { # ERROR: Duplicate defaults block
}
