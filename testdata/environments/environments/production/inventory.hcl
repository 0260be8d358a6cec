# Production: three application hosts, one of them a canary that runs the
# next release before the others. The app group reads vars/production.hcl;
# the canary group's vars/canary.hcl comes after it and so overrides it.
#
#   tend plan -i environments/production/inventory.hcl specs

defaults {
  user   = "deploy"
  become = true
  vars = {
    environment = "production"
    http_port   = 80
  }
}

group "app" {
  hosts      = ["prod-app1", "prod-app2"]
  children   = ["canary"]
  vars_files = ["vars/production.hcl"]
}

# A child group: its hosts are in app too, and its settings come after app's.
group "canary" {
  hosts      = ["prod-canary1"]
  vars_files = ["vars/canary.hcl"]
}

host "prod-app1" {
  address = "10.30.0.11"
  vars    = { root = "/tmp/tend-environments/production/prod-app1" }
}

host "prod-app2" {
  address = "10.30.0.12"
  vars    = { root = "/tmp/tend-environments/production/prod-app2" }
}

host "prod-canary1" {
  address = "10.30.0.21"
  vars    = { root = "/tmp/tend-environments/production/prod-canary1" }
}
