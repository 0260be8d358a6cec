variable "sites" {
  type    = map(string)
  default = { a = "/srv/a", b = "/srv/b" }
}
variable "secret_names" {
  type      = set(string)
  default   = ["x"]
  sensitive = true
}
locals {
  names = ["a", "b", "a"]
}

role "web" {
  hosts = ["group:web"]

  file "both" {
    for_each = var.sites
    count    = 2                  # ERROR: Invalid combination of "count" and "for_each"
    path     = "/both/${each.key}"
  }
  file "dup_keys" {
    for_each = local.names        # ERROR: Invalid for_each argument
    path     = "/dup/${each.key}"
  }
  file "numbers" {
    for_each = [1, 2]             # ERROR: Invalid for_each argument
    path     = "/n/${each.key}"
  }
  file "string" {
    for_each = "a"                # ERROR: Invalid for_each argument
    path     = "/s/${each.key}"
  }
  file "secret" {
    for_each = var.secret_names   # ERROR: Invalid for_each argument
    path     = "/secret/${each.key}"
  }
  file "null" {
    for_each = null               # ERROR: Invalid for_each argument
    path     = "/null/${each.key}"
  }
  file "negative" {
    count = -1                    # ERROR: Invalid count argument
    path  = "/neg/${count.index}"
  }
  file "fraction" {
    count = 1.5                   # ERROR: Invalid count argument
    path  = "/frac/${count.index}"
  }
  file "words" {
    count = "many"                # ERROR: Invalid count argument
    path  = "/words/${count.index}"
  }
  file "/no_each" {
    content = each.key            # ERROR: Reference to "each" in a block without for_each
  }
  file "/no_count" {
    content = "${count.index}"    # ERROR: Reference to "count" in a block without count
  }
  file "from_resource" {
    for_each = file["/no_each"]   # ERROR: Invalid reference
    path     = "/fr/${each.key}"
  }

  # the same problem in every instance: reported once
  file "same" {
    for_each = var.sites
    path     = "${each.value}/same"
    mode     = "0999"             # ERROR: Invalid file mode
  }
  # no path: every instance manages the label
  file "/etc/label" {            # ERROR: Duplicate path
    for_each = var.sites
    content  = each.key
  }
  file "/missing_key" {
    content = file.same["zzz"].path # ERROR: Invalid index
  }
  file "/attr_dep" {
    depends_on = [file["/no_count"]["content"]] # ERROR: Invalid depends_on reference
  }
}
