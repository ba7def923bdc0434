#!/usr/bin/env bash
# Checks express-session with memorystore (npm; targets/express/server.js,
# rolling cookies, a 2 s cookie.maxAge, memorystore's dispose as the expiry
# notification) with sessionspec against its known deviations, on the wall
# clock: neither library has an injectable clock.
#
#   targets/express/check.sh [sessionspec check flags, e.g. -v or --browser]
#
# Needs node and targets/express/node_modules (`npm ci` there, or `make
# deps-targets`). Picks a free port on 127.0.0.1, has `sessionspec check
# --run` start the server there, compares every outcome with
# targets/express/expect.txt and writes reports/express.{json,xml}; with
# --browser the screenshots go to reports/screenshots/express. Exits with the
# check's code: 0 no outcome differs from the expectations, 1 some differ,
# 2 harness or target error (also: no node, modules not installed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
name=express
dir=targets/express

die() {
	echo "express: FAILED: $*" >&2
	exit 2
}
command -v node >/dev/null || die "node not on PATH (Debian nodejs; make deps)"
for m in express express-session memorystore ws; do
	[[ -r $dir/node_modules/$m/package.json ]] ||
		die "$dir/node_modules/$m missing: run 'npm ci' in $dir (make deps-targets)"
done

mkdir -p bin reports
go build -o bin/sessionspec ./cmd/sessionspec
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
echo "express: node $(node --version), target at $url"
start=$(date +%s%N)
code=0
bin/sessionspec check "$url" --run "exec node $dir/server.js --port $port --timeout $timeout --check-period 1000" \
	--expect "$dir/expect.txt" --json "reports/$name.json" --junit "reports/$name.xml" "${extra[@]}" "$@" || code=$?
ms=$((($(date +%s%N) - start) / 1000000))
printf 'express: exit %d in %d.%ds wall time; reports/%s.{json,xml}\n' "$code" $((ms / 1000)) $((ms % 1000 / 100)) "$name"
exit "$code"
