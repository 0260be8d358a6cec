# The inventory of the Vagrantfile's lab. Vagrant's insecure key pairs are
# per machine; adjust identity_file to what `vagrant ssh-config` prints.
defaults {
  user          = "vagrant"
  become        = true
  identity_file = ".vagrant/machines/web1/virtualbox/private_key"
  vars          = { http_port = 8080 }
}

group "web" {
  hosts = ["web1", "web2"]
}

group "db" {
  hosts = ["db1"]
  vars  = { http_port = 9090 }
}

host "web1" {
  address       = "192.168.56.11"
  identity_file = ".vagrant/machines/web1/virtualbox/private_key"
}

host "web2" {
  address       = "192.168.56.12"
  identity_file = ".vagrant/machines/web2/virtualbox/private_key"
}

host "db1" {
  address       = "192.168.56.21"
  identity_file = ".vagrant/machines/db1/virtualbox/private_key"
}
