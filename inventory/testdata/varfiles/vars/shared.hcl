from = "shared"
