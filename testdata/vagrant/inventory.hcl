# The inventory of the Vagrant lab (Vagrantfile at the root of tend's
# repository), written by `vagrant up`: edit the Vagrantfile, not this
# file. tend logs in as vagrant with your own key (~/.ssh/id_ed25519 or
# id_rsa, as ssh does) and uses sudo.
#
#   tend plan -i testdata/vagrant --trust-on-first-use \
#     --age-identity examples/devops-map/demo/age-demo.key \
#     --var-file examples/devops-map/dist/artifact.hcl examples/devops-map

defaults {
  user       = "vagrant"
  become     = true
  vars_files = ["../../examples/devops-map/environments/staging/vars/staging.hcl", "vars/lab.hcl"]
  vars = {
    http_port   = 80
    app_port    = 8080
    server_name = "devops-map.lab"
    db_host     = "192.168.56.21"
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
  address = "192.168.56.11"
}

host "web-2" {
  address = "192.168.56.12"
}

host "db-1" {
  address = "192.168.56.21"
}
