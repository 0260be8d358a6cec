role "no_hosts" {                # ERROR: Missing required argument
  file "/etc/a" {
    content = "a"
  }
}
role "not_a_list" {
  hosts = "web1"                 # ERROR: Invalid hosts
}
role "bad_glob" {
  hosts = ["web[", "group:web"]  # ERROR: Invalid host pattern
}
role "from_var" {
  hosts = var.hosts              # ERROR: Variables not allowed
}
role "" {                        # ERROR: Invalid role name
  hosts = ["*"]
}
