# Values of the spec's variables in production (the format of --var-file).
# Promoting a release that passed staging is a commit of these three lines,
# copied from vars/staging.hcl.
environment = "production"
app_version = "1.3.2"
app_url     = "https://artifacts.example.com/devops-map/devops-map-1.3.2.tar.gz"
app_sha256  = "5d1c3b1f5e0a9f1f0c2e7b0b8a4d7e2c6b9f3a1d2e4c6b8a0f1e3d5c7b9a1c3e"
log_level   = "warn"

admins = {
  alice = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF7p0G38FprkH01vgh+vqi5TL73F+MAz+5V35ksLTarv alice@example.com"]
  bob   = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEG8OQ/s/cpcbB4PQBRtey0iaBbAAXSYxO0OcvKc+cn+ bob@example.com"]
}

db_allowed_networks = ["10.40.0.0/24"]
