#!/usr/bin/env bash
# The quickstart: build tend, then plan, apply and plan again on this machine
# through the local transport. It touches only /tmp/tend-quickstart.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
mkdir -p bin
# -buildvcs=auto: tend version names the commit (some machines default to false)
go build -buildvcs=auto -o bin/tend ./cmd/tend
spec=examples/quickstart
# tend's own state (the manifest of what it manages, pending notifications,
# the host lock) stays in the demo directory too, beside what it manages.
state=(--state-dir /tmp/tend-quickstart/state)
echo "== tend plan --local ${state[*]} $spec"
bin/tend plan --local "${state[@]}" "$spec"
echo
echo "== tend apply --local ${state[*]} $spec"
bin/tend apply --local "${state[@]}" "$spec"
echo
echo "== tend plan --local --detailed-exitcode ${state[*]} $spec   (expect: No changes, exit 0)"
bin/tend plan --local --detailed-exitcode "${state[@]}" "$spec"
echo
echo "Converged. Look at /tmp/tend-quickstart/demo; edit a file there and run:"
echo "  bin/tend plan --local ${state[*]} $spec"
