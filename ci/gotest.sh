#!/usr/bin/env bash
# spec.Test from other modules, as a user of the suite would call it:
#   - examples/gotest, a session server written with net/http, time and
#     crypto/rand only, must pass with the 900 s default on virtual time,
#     in seconds; with the refresh bug planted (SESSIONS_FORGETFUL=1) the
#     same test must fail, naming TIMEOUT-003;
#   - targets/scs, the real scs v2 library, checked in process.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'gotest: %s\n' "$*"; }
start=$(date +%s%N)
(cd examples/gotest && go test -count=1 ./...)
say "examples/gotest passes in $((($(date +%s%N) - start) / 1000000)) ms (900 s default timeout, virtual time)"

out=$(cd examples/gotest && SESSIONS_FORGETFUL=1 go test -count=1 ./... 2>&1) && {
	echo "$out"
	say "ERROR: with the refresh bug planted the test passed"
	exit 1
}
grep -q -- '--- FAIL: TestConformance/TIMEOUT-003' <<<"$out" || {
	echo "$out"
	say "ERROR: with the refresh bug planted the test failed, but not naming TIMEOUT-003"
	exit 1
}
say "examples/gotest with SESSIONS_FORGETFUL=1 fails, naming TIMEOUT-003 (as it must)"

(cd targets/scs && go test -count=1 ./...)
say "targets/scs: scs v2 in process on virtual time (900 s default) matches its expectations"
