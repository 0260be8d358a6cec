# Values of the spec's variables in staging (the format of --var-file).
# The release pipeline of the app commits its new version here.
environment = "staging"
app_version = "1.4.0"
app_url     = "https://artifacts.example.com/devops-map/devops-map-1.4.0.tar.gz"
app_sha256  = "9f2b7c0e4a1d3f5b7e9c1a3d5f7b9e1c3a5d7f9b1e3c5a7d9f1b3e5c7a9d1f3b"
log_level   = "debug"

admins = {
  alice = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF7p0G38FprkH01vgh+vqi5TL73F+MAz+5V35ksLTarv alice@example.com"]
  bob   = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEG8OQ/s/cpcbB4PQBRtey0iaBbAAXSYxO0OcvKc+cn+ bob@example.com"]
}

db_allowed_networks = ["10.30.0.0/24"]
