# The tend agent of the devops-map fleet, on its control host:
#
#   install -m 0600 control/agent.hcl /etc/tend/agent.hcl   # then edit the secrets below
#   tend agent -c /etc/tend/agent.hcl
#
# Relative paths are relative to this file: /etc/tend/keys/ holds the
# deploy key, known_hosts, the trusted signing keys and the age identity.
#
# It follows the main branch of this repository, applies every new commit
# to the web and db roles on its own, corrects drift every 5 minutes, and
# serves the API, the web UI and /metrics on 127.0.0.1:7070 (scraped by
# the Prometheus configuration in deploy/prometheus/ of tend's repository).
# This file holds secrets (tokens, the webhook secret): keep it out of Git
# on the control host, readable by the agent's user only.

source {
  url            = "ssh://git@git.example.com/ops/devops-map.git"
  ref            = "main"
  path           = "."
  ssh_key        = "keys/deploy"      # a read-only deploy key of the repository
  known_hosts    = "keys/known_hosts" # ssh-keyscan git.example.com > keys/known_hosts
  require_signed = true               # commits signed by alice or bob only
  trusted_keys   = ["keys/alice.pub", "keys/bob.pub"]
}

# The inventory of the environment this agent runs, from the same commit as
# the specs: adding a host is a commit too.
inventory      = "environments/production"
poll_interval  = "1m"
drift_interval = "5m"
sync_policy    = "auto"
self_heal      = true

# The database is changed only when someone asks: `tend sync --role db`.
role "db" {
  sync_policy = "manual"
}

# No automatic changes during the Monday business peak (UTC).
window {
  schedule = "0 8 * * 1"
  duration = "4h"
  kind     = "deny"
}

listen    = "127.0.0.1:7070"
data_dir  = "/var/lib/tend-agent"
state_dir = "/var/lib/tend"

# Decrypts secrets/*.age (secret("...") in the specs). The demo key of this
# example is demo/age-demo.key; use your own (age-keygen) in production.
age_identity = "keys/age.key"

# Make each secret with: openssl rand -hex 32
token "ops" {
  secret = "REPLACE-with-openssl-rand-hex-32-ops"
}

token "grafana" {
  secret    = "REPLACE-with-openssl-rand-hex-32-viewer"
  read_only = true
}

webhook_secret = "REPLACE-with-openssl-rand-hex-32-webhook"

notification "ops-chat" {
  url    = "https://hooks.slack.com/services/REPLACE/ME"
  format = "slack"
  events = ["sync-failed", "drift", "rollback", "source-unreachable", "source-recovered"]
}
