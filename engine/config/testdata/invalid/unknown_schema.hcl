resource "file" "/x" {}          # ERROR: Unsupported block type

variable "v" {
  default = 1
  validation = true              # ERROR: Unsupported argument
}

role "web" {
  hosts = ["*"]
  hostz = ["*"]                  # ERROR: Unsupported argument
  packge "nginx" {}              # ERROR: Unsupported block type

  file "/etc/a" {
    content = "a"
    options {                    # ERROR: Unsupported block type
    }
  }
  directory "/etc/b" {
    path = "/etc/b"
    size = 3                     # ERROR: Unsupported argument
  }
  file {                         # ERROR: Missing name for file
  }
}

locals {
  x = 1
  nested {                       # ERROR: Unexpected "nested" block
  }
}
