# vars_files at every level. The paths are relative to this file, not to
# the directory tend runs in.

defaults {
  vars_files = ["vars/common.hcl", "vars/shared.hcl"]
}

group "parent" {
  children   = ["child"]
  vars_files = ["vars/parent.hcl", "vars/shared.hcl"]
}

group "child" {
  hosts      = ["h1"]
  vars_files = ["./vars/../vars/child.hcl"] # cleaned
}

group "other" {
  vars_files = []
}

# common.hcl is listed by defaults too: it appears once, here, its highest
# position.
host "h1" {
  vars_files = ["vars/h1.hcl", "vars/common.hcl"]
}

host "h2" {
  groups = ["other"]
}

host "h3" {
  groups     = ["parent"]
  vars_files = null
}
