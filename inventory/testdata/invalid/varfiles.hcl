# vars_files that cannot be used.
defaults {
  vars_files = "vars.hcl" # ERROR: Incorrect attribute value type
}

group "g" {
  hosts      = ["a"]
  vars_files = ["nosuch.hcl", "", "port.hcl"] # ERROR: Missing vars file # ERROR: Empty value
}

host "a" {
  vars_files = [
    "port.hcl",
    "../invalid", # ERROR: Invalid vars file
    "../invalid/nosuch/x.hcl", # ERROR: Missing vars file
  ]
}
