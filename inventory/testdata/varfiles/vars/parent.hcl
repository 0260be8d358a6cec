from = "parent"
