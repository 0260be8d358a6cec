# Staging: one web host and one database host, the same roles as
# production. A release is tried here first: app_version, app_url and
# app_sha256 in vars/staging.hcl.
#
#   tend plan  -i environments/staging .
#   tend apply -i environments/staging .

defaults {
  user            = "deploy"
  identity_file   = "~/.ssh/id_ed25519"
  known_hosts     = "~/.ssh/known_hosts"
  become          = true
  connect_timeout = "10s"
  vars_files      = ["vars/staging.hcl"]
  vars = {
    http_port   = 80
    app_port    = 8080
    server_name = "staging.devops-map.example.com"
    db_host     = "10.30.0.21"
    db_port     = 5432
    pg_port     = 5432
    pg_listen   = "*"
  }
}

group "web" {
  hosts = ["stg-web-1"]
}

group "db" {
  hosts = ["stg-db-1"]
}

host "stg-web-1" {
  address = "10.30.0.11"
}

host "stg-db-1" {
  address = "10.30.0.21"
}
