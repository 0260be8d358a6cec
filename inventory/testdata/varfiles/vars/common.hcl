from = "common"
