# The web tier: devops-map deployed as a release (one directory per
# version, migrations before the switch, a health check that switches back
# on failure), run by systemd, behind nginx. Hosts are updated one at a
# time.
#
# Inventory variables (host.vars): http_port (nginx, 80 in production),
# app_port (the app on 127.0.0.1, 8080), db_host and db_port (where the
# app finds PostgreSQL).

locals {
  app_dir = "/opt/devops-map"
  etc     = "/etc/devops-map"
}

role "web" {
  hosts = ["group:web"]

  # One host at a time; the first failure stops the rollout, and the hosts
  # not reached yet keep the running release.
  rollout {
    batch      = 1
    max_failed = 0
    pause      = "5s"
  }

  group "devops-map" {
    system = true
  }

  user "devops-map" {
    system = true
    group  = "devops-map"
    home   = "/nonexistent"
    shell  = "/usr/sbin/nologin"
  }

  directory "etc" {
    path  = local.etc
    mode  = "0750"
    owner = "root"
    group = "devops-map"
  }

  # The app's configuration, with the database password from
  # secrets/db_password.age: the whole file is sensitive, so plans show no
  # content and no diff for it, only that it changes.
  file "env" {
    path = "${local.etc}/env"
    content = templatefile("templates/devops-map.env.tmpl", {
      listen       = "127.0.0.1:${host.vars.app_port}"
      instance     = host.name
      environment  = var.environment
      log_level    = var.log_level
      database_url = "postgres://${var.db_user}:${local.db_password}@${host.vars.db_host}:${host.vars.db_port}/${var.db_name}?sslmode=prefer"
    })
    mode   = "0640"
    owner  = "root"
    group  = "devops-map"
    notify = [service["devops-map"]]
  }

  file "unit" {
    path = "/etc/systemd/system/devops-map.service"
    content = templatefile("templates/devops-map.service.tmpl", {
      app_dir = local.app_dir
      env     = "${local.etc}/env"
    })
    mode   = "0644"
    notify = [service["devops-map"]]
  }

  service "devops-map" {
    state   = "running"
    enabled = true
  }

  # releases/VERSION is unpacked, its shared entries linked and migrated
  # before current moves; then the service restarts and /healthz decides.
  release "devops-map" {
    version = var.app_version
    artifact {
      url              = var.app_url
      sha256           = var.app_sha256
      strip_components = 1
    }
    path          = local.app_dir
    shared        = ["data", "log"]
    keep          = 3
    owner         = "devops-map"
    before_switch = [["bin/devops-map", "migrate"]]
    service       = service.devops-map
    health {
      http     = "http://127.0.0.1:${host.vars.app_port}/healthz"
      expect   = 200
      timeout  = "30s"
      interval = "1s"
    }
    depends_on = [file["env"]]
  }

  # nginx from Debian, in front of the app. The managed nginx.conf reads
  # conf.d/ only, so the package's default site (port 80) is never loaded.
  package "nginx" {}

  file "/etc/nginx/nginx.conf" {
    source     = "files/nginx.conf"
    mode       = "0644"
    depends_on = [package["nginx"]]
    notify     = [service["nginx"]]
  }

  file "/etc/nginx/conf.d/devops-map.conf" {
    content = templatefile("templates/nginx-site.conf.tmpl", {
      server_name = host.vars.server_name
      http_port   = host.vars.http_port
      app_port    = host.vars.app_port
    })
    mode       = "0644"
    depends_on = [package["nginx"]]
    notify     = [service["nginx"]]
  }

  service "nginx" {
    state      = "running"
    enabled    = true
    depends_on = [package["nginx"]]
  }
}
