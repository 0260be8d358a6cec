# The tend agent's configuration, for pull mode: this host follows a Git
# repository and converges itself to what the repository's inventory says
# for it (its entry is found by this machine's host name, or by --host in
# the unit's ExecStart). Everything is described in docs/agent.md.
#
# The agent does not start while the source block below is commented out.
# Fill it in, check the file, then start the agent:
#
#   tend agent --check -c /etc/tend/agent.hcl
#   systemctl enable --now tend-agent
#
# source {
#   url         = "https://git.example.com/infra/hosts.git"  # https, ssh or file
#   ref         = "main"
#   path        = ""                   # the spec root inside the repository
#   # ssh_key     = "/etc/tend/keys/deploy"
#   # known_hosts = "/etc/tend/keys/known_hosts"
# }

inventory      = "inventory" # in the repository, under the spec root
poll_interval  = "1m"
drift_interval = "5m"
sync_policy    = "auto" # converge every new revision
self_heal      = true   # correct drift

listen    = "127.0.0.1:7070"      # API, web UI and /metrics
data_dir  = "/var/lib/tend-agent" # history database, Git cache
state_dir = "/var/lib/tend"       # manifest, journal, lock

# token "ops" {
#   secret = "..."                     # for tend status/sync/history and the web UI
# }
