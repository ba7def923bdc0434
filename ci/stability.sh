#!/usr/bin/env bash
# Runs `sessionspec check` N times in a row and prints how many passed.
#
#   ci/stability.sh fake [N]   against the embedded reference on the fake clock (default N=50)
#   ci/stability.sh wall [N]   against `sessionspec serve --timeout 2s` on the wall clock (default N=20)
#
# Each run makes 500 sessions for the uniqueness check (not 2000): these
# runs are about verdicts that must not flip, not about id quality.
# Stops at the first run that does not exit 0, keeping its output in
# reports/stability-failure.txt, and fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mode=${1:-fake}
case $mode in
fake) n=${2:-50} ;;
wall) n=${2:-20} ;;
*) echo "usage: $0 fake|wall [N]" >&2; exit 2 ;;
esac
mkdir -p bin reports
go build -o bin/sessionspec ./cmd/sessionspec
url=
if [[ $mode == wall ]]; then
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	bin/sessionspec serve --timeout 2s --addr 127.0.0.1:$port >/dev/null &
	server=$!
	trap 'kill $server 2>/dev/null || true' EXIT
	url=http://127.0.0.1:$port
	for _ in $(seq 50); do curl -fs -o /dev/null $url/.well-known/sessionspec && break; sleep 0.1; done
fi
start=$(date +%s.%N)
for i in $(seq "$n"); do
	args=(--sessions 500); [[ $mode == wall ]] && args+=(--allow-na TIMEOUT-004)
	if ! bin/sessionspec check $url "${args[@]}" >reports/stability-run.txt 2>&1; then
		cp reports/stability-run.txt reports/stability-failure.txt
		echo "stability ($mode): run $i of $n FAILED; output in reports/stability-failure.txt"
		tail -5 reports/stability-failure.txt
		exit 1
	fi
done
end=$(date +%s.%N)
printf 'stability (%s): %d passed, 0 failed (%d consecutive runs in %.1fs, %.2fs each)\n' \
	"$mode" "$n" "$n" "$(echo "$end - $start" | bc)" "$(echo "($end - $start) / $n" | bc -l)"
