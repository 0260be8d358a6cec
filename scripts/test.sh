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
# Every test with the race detector; then, on a full run, each fuzzer for
# a bounded time (scripts/fuzz.sh; TEND_FUZZ_SECONDS, default 15, 0 skips).
# Extra arguments (a -run selection) run the tests only.
go test -race -count=1 -timeout 45m ./... "$@"
if [ $# -eq 0 ] && [ "${TEND_FUZZ_SECONDS:-15}" != 0 ]; then
  scripts/fuzz.sh "${TEND_FUZZ_SECONDS:-15}"
fi
