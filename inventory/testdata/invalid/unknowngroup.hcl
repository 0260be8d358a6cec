# Groups named but never declared.
group "web" {
  children = ["canary", "cnary"] # ERROR: Unknown group
}

group "canary" {}

host "a" {
  groups = [
    "web",
    "wbe", # ERROR: Unknown group
  ]
}
