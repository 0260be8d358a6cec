# Production: two web hosts behind a load balancer and one database host.
#
#   tend plan  -i environments/production .
#   tend apply -i environments/production .
#
# Host variables used by the specs (see web.hcl and db.hcl):
#   http_port, app_port, server_name   web: nginx's port, the app's port, the site's name
#   db_host, db_port                   web: where the app finds PostgreSQL
#   pg_port, pg_listen                 db: PostgreSQL's port and listen_addresses

defaults {
  user            = "deploy"
  identity_file   = "~/.ssh/id_ed25519"
  known_hosts     = "~/.ssh/known_hosts"
  become          = true
  connect_timeout = "10s"
  vars_files      = ["vars/production.hcl"]
  vars = {
    http_port   = 80
    app_port    = 8080
    server_name = "devops-map.example.com"
    db_host     = "10.40.0.21"
    db_port     = 5432
    pg_port     = 5432
    pg_listen   = "*"
  }
}

group "web" {
  hosts = ["web-1", "web-2"]
}

group "db" {
  hosts = ["db-1"]
}

host "web-1" {
  address = "10.40.0.11"
}

host "web-2" {
  address = "10.40.0.12"
}

host "db-1" {
  address = "10.40.0.21"
}
