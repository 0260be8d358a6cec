# Two execs: "once" is guarded by creates and runs a single time; "refresh"
# is refresh_only and runs when file[/etc/e2e-exec/trigger] changes. Each
# appends a line to its log, which the test counts.

variable "trigger" {
  type = string
}

role "exec" {
  hosts = ["*"]

  directory "/var/lib/e2e-exec" {
    mode = "0755"
  }

  exec "once" {
    command    = ["sh", "-c", "echo ran >> /var/lib/e2e-exec/once.log && touch /var/lib/e2e-exec/once.done"]
    creates    = "/var/lib/e2e-exec/once.done"
    depends_on = [directory["/var/lib/e2e-exec"]]
  }

  file "/etc/e2e-exec/trigger" {
    content = "${var.trigger}\n"
    notify  = [exec["refresh"]]
  }

  exec "refresh" {
    command      = ["sh", "-c", "echo ran >> /var/lib/e2e-exec/refresh.log"]
    refresh_only = true
    depends_on   = [directory["/var/lib/e2e-exec"]]
  }
}
