#!/usr/bin/env bash
# Runs every test of the module with the race detector: the README's test
# command and the last step of CI (.ci/run). Extra arguments go to go test,
# e.g. scripts/test.sh -run TestHosts -v.
#
# The integration tests boot Debian test hosts with systemd-nspawn: they need
# root and the base root file system of scripts/testhost-base.sh (.ci/run
# installs and builds everything on a fresh Debian 12 machine).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
  export PATH="$PATH:/usr/local/go/bin"
fi
# exec keeps go test's output (the final ok / FAIL lines) and its exit code.
exec go test -race -count=1 -timeout 30m ./... "$@"
