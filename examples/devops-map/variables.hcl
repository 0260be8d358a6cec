# The variables of the devops-map repository. Their values differ per
# environment and come from environments/ENV/vars/*.hcl (the inventory's
# vars_files); per-host settings such as ports are inventory variables
# (host.vars), listed in environments/production/inventory.hcl.

variable "environment" {
  type        = string
  description = "The environment's name: staging or production. It shows in the app's greeting and in the motd."
}

variable "app_version" {
  type        = string
  description = "The release of devops-map to run, such as \"1.4.0\": the release directory's name."
}

variable "app_url" {
  type        = string
  description = "Where the control host fetches the release artifact (a tar.gz made by app/build.sh)."
}

variable "app_sha256" {
  type        = string
  description = "The artifact's sha256: a different artifact is refused before any host is contacted."
  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.app_sha256))
    error_message = "The app_sha256 must be 64 lowercase hexadecimal digits, as sha256sum prints it."
  }
}

variable "log_level" {
  type        = string
  default     = "info"
  description = "The app's log level: debug, info, warn or error."
}

variable "admins" {
  type        = map(list(string))
  default     = {}
  description = "The people who may log in to every host, each with their SSH public keys. They get passwordless sudo."
}

variable "ssh_permit_root_login" {
  type        = string
  default     = "no"
  description = "sshd's PermitRootLogin: \"no\", or \"prohibit-password\" where tend itself logs in as root."
  validation {
    condition     = contains(["no", "prohibit-password"], var.ssh_permit_root_login)
    error_message = "The ssh_permit_root_login must be \"no\" or \"prohibit-password\"."
  }
}

variable "db_name" {
  type        = string
  default     = "devops_map"
  description = "The PostgreSQL database of the app, owned by db_user."
}

variable "db_user" {
  type        = string
  default     = "devops_map"
  description = "The PostgreSQL role the app logs in as, with the password in secrets/db_password.age."
}

variable "db_allowed_networks" {
  type        = list(string)
  default     = []
  description = "Networks (CIDR) from which db_user may log in to db_name with its password, besides 127.0.0.1."
}

variable "postgresql_version" {
  type        = string
  default     = "15"
  description = "The PostgreSQL major version of the hosts' Debian release (15 on Debian 12)."
}

locals {
  # Decrypted on the control host with the age identity (--age-identity,
  # $TEND_AGE_IDENTITY or the agent's age_identity); sensitive, so never
  # shown in plans, logs or the agent's history.
  db_password = secret("secrets/db_password.age")
}
