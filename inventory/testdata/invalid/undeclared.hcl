# Hosts listed in groups but never declared.
group "web" {
  hosts = [
    "web1",
    "web2", # ERROR: Undeclared host
    "web3", # ERROR: Undeclared host
  ]
}

group "db" {
  hosts = ["db1"] # ERROR: Undeclared host
}

host "web1" {}
