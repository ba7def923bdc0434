#!/usr/bin/env bash
# Checks Flask 2.2's default session (Debian python3-flask: the signed
# "session" cookie of SecureCookieSessionInterface, made permanent with
# PERMANENT_SESSION_LIFETIME as the timeout; targets/flask/app.py) with
# sessionspec against its known deviations, on the wall clock: Flask and
# itsdangerous read time.time() and cannot be given a clock.
#
#   targets/flask/check.sh [sessionspec check flags, e.g. -v or --browser]
#   SESSIONSPEC=/path/to/sessionspec targets/flask/check.sh   (that build, not bin/sessionspec)
#
# Needs /usr/bin/python3 with Debian's python3-flask (targets/install.sh, or
# `make deps-targets`; there is no PyPI here, and the pyenv python3 on PATH
# does not see Debian's packages). Starts the adapter on port 0, so the
# kernel picks a free port and nothing can take it between choosing and
# binding; reads the port from the adapter's "listening on" line; runs
# `sessionspec check` against it, comparing every outcome with
# targets/flask/expect.txt and writing reports/flask.{json,xml} (with
# --browser, screenshots in reports/screenshots/flask); then stops the adapter
# with SIGTERM and requires it to exit 0. Exits with the check's code: 0 no
# outcome differs from the expectations, 1 some differ, 2 harness or target
# error (also: no python3-flask, the adapter did not start, or it did not
# exit cleanly).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
name=flask
dir=targets/flask
py=/usr/bin/python3

die() {
	echo "$name: FAILED: $*" >&2
	exit 2
}
[[ -x $py ]] || die "$py missing (Debian python3)"
versions=$("$py" -c 'from importlib.metadata import version as v; print("Flask", v("flask"), "itsdangerous", v("itsdangerous"), "Werkzeug", v("werkzeug"))' 2>/dev/null) ||
	die "python3-flask missing for $py: run targets/install.sh (make deps-targets)"

mkdir -p bin reports
# SESSIONSPEC=/path/to/sessionspec checks with that build instead of building bin/sessionspec.
sessionspec=${SESSIONSPEC:-bin/sessionspec}
if [[ -z ${SESSIONSPEC:-} ]]; then
	go build -o bin/sessionspec ./cmd/sessionspec
fi
extra=()
if [[ " $* " == *" --browser "* && " $* " != *" --screenshots "* ]]; then
	extra=(--screenshots "reports/screenshots/$name")
fi

# The session timeout in whole seconds (PERMANENT_SESSION_LIFETIME is read as
# whole seconds): 2 unless TARGET_TIMEOUT says otherwise.
timeout=${TARGET_TIMEOUT:-2}
[[ $timeout =~ ^[1-9][0-9]*$ ]] || { echo "TARGET_TIMEOUT=$timeout: want whole seconds" >&2; exit 2; }

log=$(mktemp "${TMPDIR:-/tmp}/sessionspec-$name.XXXXXX")
pid=
cleanup() {
	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -f "$log"
}
trap cleanup EXIT
"$py" "$dir/app.py" --port 0 --timeout "$timeout" >"$log" 2>&1 &
pid=$!
url=
for _ in $(seq 300); do # up to 30 s
	url=$(grep -o -m1 'listening on http://127\.0\.0\.1:[0-9]*/' "$log" | cut -d' ' -f3) || true
	[[ -n $url ]] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
[[ -n $url ]] || die "the adapter did not start: $(tail -5 "$log")"

echo "$name: $versions (python $("$py" -c 'import platform; print(platform.python_version())')), target at $url"
start=$(date +%s%N)
code=0
"$sessionspec" check "$url" --expect "$dir/expect.txt" --json "reports/$name.json" --junit "reports/$name.xml" \
	"${extra[@]}" "$@" || code=$?

# SIGTERM must stop the adapter cleanly (exit 0).
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
if ((rc != 0)); then
	echo "$name: the adapter exited $rc on SIGTERM, not 0: $(tail -5 "$log")" >&2
	((code != 0)) || code=2
fi
ms=$((($(date +%s%N) - start) / 1000000))
printf '%s: exit %d in %d.%ds wall time; reports/%s.{json,xml}\n' "$name" "$code" $((ms / 1000)) $((ms % 1000 / 100)) "$name"
exit "$code"
