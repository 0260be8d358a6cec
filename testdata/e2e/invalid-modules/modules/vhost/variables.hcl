variable "name" {
  type        = string
  description = "The site's name: its directory and config file are named after it."
}

variable "root" {
  type        = string
  description = "The directory under which the sites live."
  validation {
    condition     = startswith(var.root, "/")
    error_message = "The root must be an absolute path."
  }
}

variable "port" {
  type        = number
  description = "The port the site listens on."
  validation {
    condition     = var.port >= 1 && var.port <= 65535
    error_message = "The port must be between 1 and 65535."
  }
}

variable "server_name" {
  type        = string
  description = "The host name the site answers to."
}
