# Bad durations.
defaults {
  connect_timeout = "abc" # ERROR: Invalid duration
}

group "g" {
  connect_timeout = 10 # ERROR: Invalid duration
}

host "a" {
  connect_timeout = "-5s" # ERROR: Invalid duration
}

host "b" {
  connect_timeout = "0s" # ERROR: Invalid duration
}

host "ok" {
  connect_timeout = "1m30s"
}
