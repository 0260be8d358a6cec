# nginx on every host of group "web", each on its own port (the test hosts
# share the machine's port space): the package, the default site rewritten
# from a template, and the service kept running and enabled, restarted when
# the site changes. Used by the end-to-end tests in cmd/tend/system_test.go.

variable "broken" {
  type        = bool
  default     = false
  description = "Adds an exec that fails before the service: a run that changes the site but never restarts nginx."
}

role "web" {
  hosts = ["group:web"]

  package "nginx" {}

  # Replaces the package's symlink to sites-available/default, so that no
  # host listens on port 80.
  file "/etc/nginx/sites-enabled/default" {
    content = templatefile("templates/site.conf.tmpl", {
      name   = host.name
      port   = host.vars.app_port
      banner = host.vars.banner
    })
    mode       = "0644"
    depends_on = [package["nginx"]]
    notify     = [service["nginx"]]
  }

  exec "gate" {
    count   = var.broken ? 1 : 0
    command = ["false"]
  }

  service "nginx" {
    state      = "running"
    enabled    = true
    depends_on = [package["nginx"], exec["gate"]]
  }
}
