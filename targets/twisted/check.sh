#!/usr/bin/env bash
# Checks Twisted Web 22.4 with sessionspec against the known deviations.
#
#   targets/twisted/check.sh wall        seedsite.py --timeout 2 (ShortSession), Twisted's real reactor
#   targets/twisted/check.sh controlled  seedsite.py --controlled-clock (task.Clock, default 900 s)
#   targets/twisted/check.sh logger      the docs' ExpirationLogger example (5 s), expiry read from stdout
#
# Builds bin/sessionspec, picks a free port on 127.0.0.1, has `sessionspec
# check --run` start the target there, compares every outcome with
# targets/twisted/expect-MODE.txt and writes reports/twisted-MODE.{json,xml}.
# Exits with the check's code: 0 no outcome differs from the expectations,
# 1 some differ, 2 harness or target error (also: no Twisted, bad MODE).
#
# Environment: TWISTED_PYTHON, the interpreter with Twisted (default
# /usr/bin/python3: Debian's python3-twisted; `python3` on PATH may be
# a pyenv shim without it). Extra arguments go to `sessionspec check`
# (e.g. -v).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

mode=${1:-}
shift || true
case $mode in
wall | controlled | logger) ;;
*)
	echo "usage: $0 wall|controlled|logger [sessionspec check flags]" >&2
	exit 2
	;;
esac

py=${TWISTED_PYTHON:-/usr/bin/python3}
if ! tw=$("$py" -c 'import twisted; print(twisted.__version__)' 2>&1); then
	echo "twisted ($mode): FAILED: $py cannot import twisted: $tw" >&2
	echo "twisted ($mode): install Debian's python3-twisted (make deps) or set TWISTED_PYTHON" >&2
	exit 2
fi

mkdir -p bin reports
go build -o bin/sessionspec ./cmd/sessionspec

port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port/
dir=targets/twisted
case $mode in
wall)
	# The suite reads the 2 s timeout from the discovery document.
	args=(--run "$py $dir/seedsite.py --port $port --timeout 2")
	;;
controlled)
	args=(--run "$py $dir/seedsite.py --port $port --controlled-clock")
	;;
logger)
	# No discovery document: the example's timeout, paths and stdout feed
	# are told by flags. Its page shows no session id (an empty body), so
	# the session cookie stands for it (--id-from-cookie).
	args=(--run "$py -u $dir/expirationlogger.py $port" --expired stdout --timeout 5s
		--paths session=/logme,logme=/logme,expire=,expired=,counter=
		--id-from-cookie --name "Twisted Web 22.4 (the docs' ExpirationLogger example)")
	;;
esac

echo "twisted ($mode): Twisted $tw at $py, target at $url"
start=$(date +%s.%N)
code=0
bin/sessionspec check "$url" "${args[@]}" --expect "$dir/expect-$mode.txt" \
	--json "reports/twisted-$mode.json" --junit "reports/twisted-$mode.xml" "$@" || code=$?
end=$(date +%s.%N)
printf 'twisted (%s): exit %d in %.1fs wall time; reports/twisted-%s.{json,xml}\n' \
	"$mode" "$code" "$(echo "$end - $start" | bc)" "$mode"
exit "$code"
