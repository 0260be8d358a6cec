#!/usr/bin/env bash
# Runs each fuzz test of the module for a bounded time, one after the other,
# and fails when one finds a crash: scripts/fuzz.sh [SECONDS] (default 20
# per fuzzer). CI calls it; docs/security.md says what each fuzzer checks.
#
# A crash leaves its input in the package's testdata/fuzz/<FuzzName>/ and
# prints the go test command that replays it. Commit that file with the fix:
# the corpus then replays it in every plain `go test` run as a regression.
# FUZZ_PARALLEL sets the number of fuzzing workers (default: GOMAXPROCS).
# FUZZ_MINIMIZE_TIME bounds the minimization of each new input (default 5s):
# go's default of 60s would spend a short run minimizing instead of fuzzing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
  export PATH="$PATH:/usr/local/go/bin"
fi

secs=${1:-20}
case $secs in '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2 ;; esac
parallel=()
if [ -n "${FUZZ_PARALLEL:-}" ]; then parallel=(-parallel "$FUZZ_PARALLEL"); fi

# package fuzz-test pairs; go test -fuzz takes one package and one target.
targets=(
  ./engine/config FuzzLoad
  ./inventory FuzzLoad
  ./resources FuzzParseProbe
  ./agent FuzzWebhook
)

failed=()
for ((i = 0; i < ${#targets[@]}; i += 2)); do
  pkg=${targets[i]} name=${targets[i + 1]}
  echo "=== fuzz $pkg $name for ${secs}s"
  # -run '^$' skips the package's other tests; the seed corpus runs first.
  if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "${secs}s" \
    -fuzzminimizetime "${FUZZ_MINIMIZE_TIME:-5s}" "${parallel[@]}" "$pkg"; then
    failed+=("$pkg $name")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  printf 'fuzzing found a failure in: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "all fuzzers ran ${secs}s without a failure"
