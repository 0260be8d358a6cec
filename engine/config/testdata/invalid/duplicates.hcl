variable "port" {
  default = 80
}
variable "port" {                # ERROR: Duplicate variable
  default = 81
}

locals {
  a = 1
}
locals {
  a = 2                          # ERROR: Duplicate local value
}

role "web" {
  hosts = ["group:web"]
  file "/etc/motd" {
    content = "one"
  }
  file "/etc/motd" {             # ERROR: Duplicate resource
    content = "two"
  }
  # the same name as another kind is another resource (on another path:
  # the same path twice is a "Duplicate path", see TestDuplicatePath)
  directory "/etc/motd" {
    path = "/etc/motd.d"
  }
}

role "web" {                     # ERROR: Duplicate role
  hosts = ["*"]
}

# Both roles select web1: its second declaration is the duplicate.
role "base" {
  hosts = ["host:web1"]
  file "/etc/issue" {
    content = "base"
  }
}
role "frontend" {
  hosts = ["web*"]
  file "/etc/issue" {            # ERROR: Duplicate resource
    content = "frontend"
  }
}
# Selected by no host of this test: its duplicate is not one.
role "db" {
  hosts = ["group:db"]
  file "/etc/issue" {
    content = "db"
  }
}
