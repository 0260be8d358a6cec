# Ports out of range or not whole.
host "a" {
  port = 0 # ERROR: Invalid port
}

host "b" {
  port = 70000 # ERROR: Invalid port
}

host "c" {
  port = 22.5 # ERROR: Invalid port
}

group "g" {
  port = -1 # ERROR: Invalid port
}

host "ok" {
  port = "2222" # a string of digits converts
}
