from = "h1"
