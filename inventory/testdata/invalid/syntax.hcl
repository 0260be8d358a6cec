# A syntax error; the rest of the file is still checked.
host "a" {
  port = 22
}

host "b" {
  port = = 22 # ERROR: Invalid expression
}

group "g" {
  hosts = ["a", "zz"] # ERROR: Undeclared host
}
