#!/usr/bin/env bash
# Checks alexedwards/scs v2 with its memstore (targets/scs, a Go module of
# its own so that the main module never depends on scs) with sessionspec
# against its known deviations, on the wall clock: scs has no injectable
# clock. scs has no expiry hook either: the notifications the suite reads
# come from the adapter's own polling (see main.go), and the expectations
# file labels those cases as adapter code.
#
#   targets/scs/check.sh [sessionspec check flags, e.g. -v or --browser]
#
# Builds bin/scs-seedsite (Go modules from targets/scs/go.sum), picks a free
# port on 127.0.0.1, has `sessionspec check --run` start it there, compares
# every outcome with targets/scs/expect.txt and writes reports/scs.{json,xml};
# with --browser the screenshots go to reports/screenshots/scs. Exits with
# the check's code: 0 no outcome differs from the expectations, 1 some
# differ, 2 harness or target error (also: the adapter does not build).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
name=scs
dir=targets/scs

mkdir -p bin reports
go build -o bin/sessionspec ./cmd/sessionspec
if ! (cd "$dir" && go build -o ../../bin/scs-seedsite .); then
	echo "scs: FAILED: $dir does not build (Go modules: cd $dir && go mod download)" >&2
	exit 2
fi
extra=()
if [[ " $* " == *" --browser "* && " $* " != *" --screenshots "* ]]; then
	extra=(--screenshots "reports/screenshots/$name")
fi

# The session timeout in whole seconds (Tomcat takes no less): 2 unless
# TARGET_TIMEOUT says otherwise (make matrix gives 4, for the browser cases).
timeout=${TARGET_TIMEOUT:-2}
[[ $timeout =~ ^[1-9][0-9]*$ ]] || { echo "TARGET_TIMEOUT=$timeout: want whole seconds" >&2; exit 2; }

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port/
echo "scs: $(cd $dir && go list -m -f '{{.Path}} {{.Version}}' github.com/alexedwards/scs/v2), target at $url"
start=$(date +%s%N)
code=0
bin/sessionspec check "$url" --run "exec bin/scs-seedsite --port $port --timeout ${timeout}s --cleanup 1s --poll 100ms" \
	--expect "$dir/expect.txt" --json "reports/$name.json" --junit "reports/$name.xml" "${extra[@]}" "$@" || code=$?
ms=$((($(date +%s%N) - start) / 1000000))
printf 'scs: exit %d in %d.%ds wall time; reports/%s.{json,xml}\n' "$code" $((ms / 1000)) $((ms % 1000 / 100)) "$name"
exit "$code"
