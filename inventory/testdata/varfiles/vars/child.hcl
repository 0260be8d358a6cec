from = "child"
