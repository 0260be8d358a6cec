#!/usr/bin/env bash
# The quickstart: build tend, then plan, apply and plan again on this machine
# through the local transport. It touches only /tmp/tend-quickstart.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
mkdir -p bin
go build -o bin/tend ./cmd/tend
spec=examples/quickstart
echo "== tend plan --local $spec"
bin/tend plan --local "$spec"
echo
echo "== tend apply --local $spec"
bin/tend apply --local "$spec"
echo
echo "== tend plan --local --detailed-exitcode $spec   (expect: No changes, exit 0)"
bin/tend plan --local --detailed-exitcode "$spec"
echo
echo "Converged. Look at /tmp/tend-quickstart; edit a file there and run:"
echo "  bin/tend plan --local $spec"
