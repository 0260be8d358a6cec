# identity_file and identity_files in one block.
defaults {
  identity_file  = "~/.ssh/a"
  identity_files = ["~/.ssh/b"] # ERROR: Conflicting arguments
}

host "a" {
  identity_files = ["~/.ssh/b"]
  identity_file  = "~/.ssh/a" # ERROR: Conflicting arguments
}
