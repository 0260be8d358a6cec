app_port  = 6000
api_token = "s3cret"
