# The database tier: PostgreSQL from Debian's packages, configured by a
# conf.d drop-in and pg_hba.conf, with the app's role and database.
#
# Inventory variables (host.vars): pg_port (5432 in production) and
# pg_listen (listen_addresses: "*" where the web hosts connect over the
# network, "127.0.0.1" where they are on the same machine).

locals {
  pg_etc = "/etc/postgresql/${var.postgresql_version}/main"
}

role "db" {
  hosts = ["group:db"]

  package "postgresql" {}

  # Debian's postgresql.conf ends with include_dir = 'conf.d': this file
  # wins over the package's defaults and survives package upgrades.
  file "postgresql-conf" {
    path = "${local.pg_etc}/conf.d/50-devops-map.conf"
    content = templatefile("templates/postgresql.conf.tmpl", {
      port   = host.vars.pg_port
      listen = host.vars.pg_listen
    })
    mode       = "0644"
    owner      = "postgres"
    group      = "postgres"
    depends_on = [package["postgresql"]]
    notify     = [service["postgresql"]]
  }

  file "pg_hba" {
    path = "${local.pg_etc}/pg_hba.conf"
    content = templatefile("templates/pg_hba.conf.tmpl", {
      db       = var.db_name
      user     = var.db_user
      networks = var.db_allowed_networks
    })
    mode       = "0640"
    owner      = "postgres"
    group      = "postgres"
    depends_on = [package["postgresql"]]
    notify     = [service["postgresql"]]
  }

  # postgresql.service stands for every cluster of the host: restarting it
  # restarts postgresql@15-main (a new port needs a restart, not a reload).
  service "postgresql" {
    state      = "running"
    enabled    = true
    depends_on = [package["postgresql"]]
  }

  # The app's role and database. The guard logs in as the app would, with
  # the password from secrets/db_password.age: when that works there is
  # nothing to do; otherwise the role is created (or its password set to
  # the secret's, after a rotation) and the database created if missing.
  # The password travels in the environment, never on a command line.
  exec "app-database" {
    command = ["sh", "-c", <<-EOT
      set -eu
      psql --no-psqlrc -q -v ON_ERROR_STOP=1 -p "$1" -d postgres -v user="$2" -v db="$3" -v pw="$DB_PASSWORD" <<'SQL'
      SELECT format('CREATE ROLE %I LOGIN', :'user') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'user')
      \gexec
      ALTER ROLE :"user" WITH LOGIN PASSWORD :'pw';
      SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'user') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')
      \gexec
      SQL
      EOT
    , "sh", tostring(host.vars.pg_port), var.db_user, var.db_name]
    unless = ["sh", "-c", "PGPASSWORD=\"$DB_PASSWORD\" PGCONNECT_TIMEOUT=5 psql --no-psqlrc -h 127.0.0.1 -p \"$1\" -U \"$2\" -d \"$3\" -tAc 'select 1' 2>/dev/null | grep -qx 1",
    "sh", tostring(host.vars.pg_port), var.db_user, var.db_name]
    environment = { DB_PASSWORD = local.db_password }
    user        = "postgres"
    cwd         = "/var/lib/postgresql"
    timeout     = "1m"
    depends_on  = [service["postgresql"]]
  }
}
