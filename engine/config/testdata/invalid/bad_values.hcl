role "web" {
  hosts = ["group:web"]

  file "etc/relative" {          # ERROR: Invalid path
    content = "x"
  }
  file "/etc/mode" {
    mode = "0999"                # ERROR: Invalid file mode
  }
  file "/etc/state" {
    state = "gone"               # ERROR: Invalid state
  }
  file "/etc/owner" {
    owner = "bad name"           # ERROR: Invalid owner
  }
  file "/etc/both" {
    content = "a"
    source  = "templates/plain.txt" # ERROR: Conflicting attributes
  }
  symlink "/usr/bin/x" {         # ERROR: Missing target
  }
  directory "/etc/" {            # ERROR: Invalid path
  }
  file "/etc/type" {
    content = ["not", "a", "string"] # ERROR: Incorrect attribute value type
  }
  file "/etc/name\nnewline" {    # ERROR: Invalid resource name
  }
  file "" {                      # ERROR: Invalid resource name
  }
}
