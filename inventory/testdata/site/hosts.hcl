# The hosts of the example site.

host "bastion" {
  address = "203.0.113.10"
  user    = "jump"
  port    = 2200
}

host "web1" {
  address = "10.0.0.11"
}

host "web2" {
  address = "10.0.0.12"
  vars    = { http_port = 9000 }
}

host "canary1" {
  address = "10.0.0.21"
  groups  = ["canary"]
}

host "db1" {
  address = format("10.0.1.%d", 5)
  groups  = ["db", "monitored"]
  user    = lower("DBA")
  vars = {
    backup_bucket = env("TEND_TEST_BUCKET", "backups")
    dsn           = join(":", ["pg", "5432"])
  }
}

# A machine of a partner network, through their gateway.
host "ext1" {
  address         = "198.51.100.7"
  jump            = "ops@gw.example.net:2022"
  identity_files  = ["~/.ssh/ext_ed25519", "/etc/tend/ext_rsa"]
  known_hosts     = "/etc/tend/known_hosts"
  connect_timeout = "30s"
}
