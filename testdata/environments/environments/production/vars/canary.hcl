# The canary runs the release that is next for production. It sets only
# app_version; log_level comes from production.hcl.
app_version = "1.5.0"
