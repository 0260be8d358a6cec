# Staging: two application hosts. Every host reads vars/staging.hcl for the
# spec's variables; a new release is tried here first by changing
# app_version in that file.
#
#   tend plan -i environments/staging/inventory.hcl specs

defaults {
  user       = "deploy"
  become     = true
  vars_files = ["vars/staging.hcl"]
  vars = {
    environment = "staging"
    http_port   = 8080
  }
}

group "app" {
  hosts = ["stg-app1", "stg-app2"]
}

host "stg-app1" {
  address = "10.20.0.11"
  vars    = { root = "/tmp/tend-environments/staging/stg-app1" }
}

host "stg-app2" {
  address = "10.20.0.12"
  vars    = { root = "/tmp/tend-environments/staging/stg-app2" }
}
