# The lab's values of examples/devops-map's variables, read after
# staging's (see inventory.hcl); written by `vagrant up` from the
# Vagrantfile. app_version, app_url and app_sha256 come from
# examples/devops-map/dist/artifact.hcl (app/build.sh).
environment         = "lab"
db_allowed_networks = ["192.168.56.0/24"]
