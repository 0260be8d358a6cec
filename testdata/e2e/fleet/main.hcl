# 30 resources per host, rooted at host.vars.root so that hosts sharing one
# file system (sshd test hosts) stay apart. Used by the end-to-end tests.

role "fleet" {
  hosts = ["*"]

  directory "root" {
    path = host.vars.root
    mode = "0755"
  }

  directory "d0" {
    path       = "${host.vars.root}/d0"
    mode       = "0755"
    owner      = "root"
    group      = "root"
    depends_on = [directory["root"]]
  }

  directory "d1" {
    path       = "${host.vars.root}/d1"
    mode       = "0750"
    owner      = "root"
    group      = "root"
    depends_on = [directory["root"]]
  }

  directory "d2" {
    path       = "${host.vars.root}/d2"
    mode       = "0755"
    owner      = "root"
    group      = "root"
    depends_on = [directory["root"]]
  }

  directory "d3" {
    path       = "${host.vars.root}/d3"
    mode       = "0750"
    owner      = "root"
    group      = "root"
    depends_on = [directory["root"]]
  }

  directory "d4" {
    path       = "${host.vars.root}/d4"
    mode       = "0755"
    owner      = "root"
    group      = "root"
    depends_on = [directory["root"]]
  }

  directory "d5" {
    path       = "${host.vars.root}/d5"
    mode       = "0750"
    owner      = "root"
    group      = "root"
    depends_on = [directory["root"]]
  }

  directory "d6" {
    path       = "${host.vars.root}/d6"
    mode       = "0755"
    owner      = "root"
    group      = "root"
    depends_on = [directory["root"]]
  }

  directory "d7" {
    path       = "${host.vars.root}/d7"
    mode       = "0750"
    owner      = "root"
    group      = "root"
    depends_on = [directory["root"]]
  }

  directory "d8" {
    path       = "${host.vars.root}/d8"
    mode       = "0755"
    owner      = "root"
    group      = "root"
    depends_on = [directory["root"]]
  }

  file "f0" {
    path       = "${host.vars.root}/d0/f0.conf"
    content    = templatefile("templates/app.conf.tmpl", { name = host.name, port = host.vars.app_port, index = 0 })
    mode       = "0644"
    depends_on = [directory["d0"]]
  }

  file "f1" {
    path       = "${host.vars.root}/d1/f1.conf"
    content    = "file 1 on ${host.name}\n"
    mode       = "0640"
    depends_on = [directory["d1"]]
  }

  file "f2" {
    path       = "${host.vars.root}/d2/f2.conf"
    content    = jsonencode({ host = host.name, index = 2, groups = host.groups })
    mode       = "0600"
    depends_on = [directory["d2"]]
  }

  file "f3" {
    path       = "${host.vars.root}/d3/f3.conf"
    content    = templatefile("templates/app.conf.tmpl", { name = host.name, port = host.vars.app_port, index = 3 })
    mode       = "0644"
    depends_on = [directory["d3"]]
  }

  file "f4" {
    path       = "${host.vars.root}/d4/f4.conf"
    content    = "file 4 on ${host.name}\n"
    mode       = "0640"
    depends_on = [directory["d4"]]
  }

  file "f5" {
    path       = "${host.vars.root}/d5/f5.conf"
    content    = jsonencode({ host = host.name, index = 5, groups = host.groups })
    mode       = "0600"
    depends_on = [directory["d5"]]
  }

  file "f6" {
    path       = "${host.vars.root}/d6/f6.conf"
    content    = templatefile("templates/app.conf.tmpl", { name = host.name, port = host.vars.app_port, index = 6 })
    mode       = "0644"
    depends_on = [directory["d6"]]
  }

  file "f7" {
    path       = "${host.vars.root}/d7/f7.conf"
    content    = "file 7 on ${host.name}\n"
    mode       = "0640"
    depends_on = [directory["d7"]]
  }

  file "f8" {
    path       = "${host.vars.root}/d8/f8.conf"
    content    = jsonencode({ host = host.name, index = 8, groups = host.groups })
    mode       = "0600"
    depends_on = [directory["d8"]]
  }

  file "f9" {
    path       = "${host.vars.root}/d0/f9.conf"
    content    = templatefile("templates/app.conf.tmpl", { name = host.name, port = host.vars.app_port, index = 9 })
    mode       = "0644"
    depends_on = [directory["d0"]]
  }

  file "f10" {
    path       = "${host.vars.root}/d1/f10.conf"
    content    = "file 10 on ${host.name}\n"
    mode       = "0640"
    depends_on = [directory["d1"]]
  }

  file "f11" {
    path       = "${host.vars.root}/d2/f11.conf"
    content    = jsonencode({ host = host.name, index = 11, groups = host.groups })
    mode       = "0600"
    depends_on = [directory["d2"]]
  }

  file "f12" {
    path       = "${host.vars.root}/d3/f12.conf"
    content    = templatefile("templates/app.conf.tmpl", { name = host.name, port = host.vars.app_port, index = 12 })
    mode       = "0644"
    depends_on = [directory["d3"]]
  }

  file "f13" {
    path       = "${host.vars.root}/d4/f13.conf"
    content    = "file 13 on ${host.name}\n"
    mode       = "0640"
    depends_on = [directory["d4"]]
  }

  file "f14" {
    path       = "${host.vars.root}/d5/f14.conf"
    content    = jsonencode({ host = host.name, index = 14, groups = host.groups })
    mode       = "0600"
    depends_on = [directory["d5"]]
  }

  symlink "l0" {
    path       = "${host.vars.root}/l0"
    target     = "${host.vars.root}/d0/f0.conf"
    depends_on = [file["f0"]]
  }

  symlink "l1" {
    path       = "${host.vars.root}/l1"
    target     = "${host.vars.root}/d1/f1.conf"
    depends_on = [file["f1"]]
  }

  symlink "l2" {
    path       = "${host.vars.root}/l2"
    target     = "${host.vars.root}/d2/f2.conf"
    depends_on = [file["f2"]]
  }

  symlink "l3" {
    path       = "${host.vars.root}/l3"
    target     = "${host.vars.root}/d3/f3.conf"
    depends_on = [file["f3"]]
  }

  symlink "l4" {
    path       = "${host.vars.root}/l4"
    target     = "${host.vars.root}/d4/f4.conf"
    depends_on = [file["f4"]]
  }
}
