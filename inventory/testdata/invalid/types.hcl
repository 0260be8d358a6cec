# Values of the wrong type.
defaults {
  port           = "abc"        # ERROR: Incorrect attribute value type
  ssh_agent      = "maybe"      # ERROR: Incorrect attribute value type
  vars           = ["a", "b"]   # ERROR: Invalid vars
  identity_files = { a = "b" }  # ERROR: Incorrect attribute value type
}

host "a" {
  groups      = "web" # ERROR: Incorrect attribute value type
  user        = ""    # ERROR: Empty value
  become      = {}    # ERROR: Incorrect attribute value type
  become_user = ["root"] # ERROR: Incorrect attribute value type
  vars        = "x=1" # ERROR: Invalid vars
}

group "g" {
  hosts = ["a", ""] # ERROR: Empty value
  jump  = 12 # ERROR: Unknown jump host
}
