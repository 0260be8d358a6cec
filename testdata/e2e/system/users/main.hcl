# One user whose authorized_keys are exactly var.keys: an empty list
# removes every key.

variable "keys" {
  type = list(string)
}

role "users" {
  hosts = ["*"]

  user "e2e-alice" {
    shell                     = "/bin/sh"
    authorized_keys           = var.keys
    authorized_keys_exclusive = true
  }
}
