# Values of the spec's variables in staging (the format of --var-file).
app_version = "1.5.0"
log_level   = "debug"
