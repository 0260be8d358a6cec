# Precedence cases; the tests read the comments' claims off the hosts.

defaults {
  port = 1001
  vars = { a = "defaults", b = "defaults", c = "defaults", d = "defaults" }
}

# defaults < parent < child < host
group "parent" {
  children = ["child"]
  port     = 1002
  vars     = { b = "parent", c = "parent", d = "parent" }
}

group "child" {
  port = 1003
  vars = { c = "child", d = "child" }
}

host "h1" {
  groups = ["child"]
  port   = 1004
  vars   = { d = "host" }
}

host "h2" {
  groups = ["child"]
}

# Two unrelated groups: the one declared later overrides.
group "first" {
  hosts = ["h3"]
  user  = "first"
  vars  = { x = "first", y = "first" }
}

group "second" {
  hosts = ["h3"]
  user  = "second"
  vars  = { y = "second" }
}

host "h3" {}

# app is declared before metrics, but its parent late is declared after
# metrics: a group comes after its ancestors, so metrics < late < app.
group "app" {
  hosts = ["h4"]
  vars  = { z = "app" }
}

group "metrics" {
  hosts = ["h4"]
  vars  = { z = "metrics" }
}

group "late" {
  children = ["app"]
  vars     = { z = "late" }
}

host "h4" {}

# A diamond: top < left < right < bottom (left and right in declaration
# order), and top counted once.
group "top" {
  children = ["left", "right"]
  vars     = { w = "top" }
}

group "left" {
  children = ["bottom"]
  vars     = { w = "left", v = "left" }
}

group "right" {
  children = ["bottom"]
  vars     = { w = "right" }
}

group "bottom" {
  hosts = ["h5"]
}

host "h5" {}
