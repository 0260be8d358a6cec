# A bad inherited jump is reported once, where it is written.
defaults {
  jump = "gateway" # ERROR: Unknown jump host
}

host "a" {}
host "b" {}
host "c" {}
