# Values of the spec's variables in production (the format of --var-file).
# Promoting a release tested in staging is a change of app_version here.
app_version = "1.4.2"
log_level   = "warn"
