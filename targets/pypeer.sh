#!/usr/bin/env bash
# The runner of the Python peers (targets/flask, targets/django): each one's
# check.sh is this with its name and the Python expression that prints its
# versions. It starts targets/NAME/app.py on a port the adapter binds itself
# (--port 0; the URL is read from its "listening on" line, so no other
# process can take the port in between), runs `sessionspec check` against
# targets/NAME/expect.txt, then stops the adapter with SIGTERM and requires
# it to exit 0.
#
#   targets/pypeer.sh NAME VERSION_EXPR [sessionspec check flags]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
name=$1
version_expr=$2
shift 2
dir=targets/$name
py=/usr/bin/python3

die() {
	echo "$name: FAILED: $*" >&2
	exit 2
}
[[ -x $py ]] || die "$py missing (Debian python3)"
versions=$("$py" -c "$version_expr" 2>/dev/null) ||
	die "python3-$name missing for $py: run targets/install.sh (make deps-targets)"

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

# The session timeout in whole seconds (both libraries read it so): 2 unless
# TARGET_TIMEOUT says otherwise.
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
