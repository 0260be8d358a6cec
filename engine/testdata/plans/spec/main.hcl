# The golden plan spec: every action of every kind against a prepared root.
role "golden" {
  hosts = ["*"]

  directory "root" {
    path = host.vars.root
    mode = "0755"
  }

  directory "new" {
    path = "${host.vars.root}/new"
    mode = "0700"
  }

  directory "old" {
    path  = "${host.vars.root}/old"
    state = "absent"
  }

  file "changed" {
    path    = "${host.vars.root}/changed.conf"
    content = templatefile("templates/changed.conf.tmpl", { name = host.name })
  }

  file "mode-only" {
    path    = "${host.vars.root}/mode-only"
    content = "same\n"
    mode    = "0600"
  }

  file "created" {
    path    = "${host.vars.root}/new/created"
    content = "line 1\nline 2\n"
  }

  file "secret" {
    path      = "${host.vars.root}/secret"
    content   = "s3cret\n"
    sensitive = true
  }

  file "removed" {
    path  = "${host.vars.root}/removed"
    state = "absent"
  }

  file "unchanged" {
    path    = "${host.vars.root}/unchanged"
    content = "steady\n"
  }

  symlink "moved" {
    path   = "${host.vars.root}/current"
    target = "${host.vars.root}/new"
  }
}
