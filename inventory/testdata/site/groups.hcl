# The groups of an example site, and the defaults every host starts from.

defaults {
  user            = "deploy"
  identity_file   = "~/.ssh/deploy_ed25519"
  known_hosts     = "~/.ssh/known_hosts_site"
  jump            = "bastion" # bastion itself connects directly
  connect_timeout = "5s"
  vars = {
    env         = "prod"
    http_port   = 8080
    motd        = "managed by tend"
    ntp_servers = ["0.pool.ntp.org", "1.pool.ntp.org"]
  }
}

# Hosts reachable from the internet; web is its child.
group "edge" {
  children  = ["web"]
  ssh_agent = false
  vars      = { http_port = 80 }
}

group "web" {
  hosts    = ["web1", "web2"]
  children = ["canary"]
  become   = true
  vars = {
    http_port = 8081
    nginx     = { workers = 4, gzip = true }
  }
}

# canary's nginx replaces web's whole nginx object.
group "canary" {
  vars = {
    nginx           = { workers = 1 }
    release_channel = "beta"
  }
}

group "db" {
  port        = 2222
  become      = true
  become_user = "postgres"
  vars        = { pg_version = 15 }
}

group "monitored" {
  hosts = ["web1", "db1"]
  vars = {
    exporter_port   = 9100
    release_channel = "stable"
  }
}
