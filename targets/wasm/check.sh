#!/usr/bin/env bash
# Builds the wasip1 guests in targets/wasm and checks them under
# `sessionspec host`, on virtual time.
#
#   targets/wasm/check.sh                each guest once: the reference, then
#                                        plainserver
#   targets/wasm/check.sh stability [N] [GUEST]
#                                        N (default 50) consecutive checks of GUEST
#                                        (default reference) under one host; prints the count
#
# Every check must exit 0 and pass TIMEOUT-004, the default 900 s timeout,
# which needs the controlled clock. The host's output (with the guest's) is
# kept in reports/wasm-host-GUEST.log, each check's in reports/wasm-GUEST.txt
# and, for a stability failure, reports/wasm-stability-failure.txt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

mode=${1:-check}
case $mode in
check) ;;
stability) runs=${2:-50} guest=${3:-reference} ;;
*) echo "usage: $0 [stability [N] [reference|plainserver]]" >&2; exit 2 ;;
esac

mkdir -p bin reports
go build -o bin/sessionspec ./cmd/sessionspec
for g in reference plainserver; do
	GOOS=wasip1 GOARCH=wasm go build -o "bin/$g.wasm" "./targets/wasm/$g"
done

hostpid=
stop_host() {
	if [[ -n $hostpid ]]; then
		kill "$hostpid" 2>/dev/null || true
		wait "$hostpid" 2>/dev/null || true
		hostpid=
	fi
}
trap stop_host EXIT

# start_host GUEST: serves bin/GUEST.wasm under the host; sets url.
start_host() {
	local log=reports/wasm-host-$1.log
	bin/sessionspec host "bin/$1.wasm" --addr 127.0.0.1:0 >"$log" 2>&1 &
	hostpid=$!
	url=
	# Compiling a module takes seconds the first time (then it is cached).
	for _ in $(seq 1200); do
		url=$(grep -o -m1 'at http://[0-9.:]*' "$log" | cut -c4-) || true
		[[ -n $url ]] && return
		if ! kill -0 "$hostpid" 2>/dev/null; then
			echo "wasm host: sessionspec host bin/$1.wasm exited:"; cat "$log"; exit 1
		fi
		sleep 0.1
	done
	echo "wasm host: sessionspec host bin/$1.wasm did not start in 120s:"; cat "$log"; exit 1
}

# check_host OUT [check flags...]: one check of the host at $url, output to
# OUT; fails unless it exits 0 with TIMEOUT-004 passed.
check_host() {
	local out=$1
	shift
	if ! bin/sessionspec check "$url" "$@" >"$out" 2>&1; then
		return 1
	fi
	grep -qE '^PASS +MUST +TIMEOUT-004 ' "$out"
}

now() { date +%s.%N; }

if [[ $mode == check ]]; then
	for g in reference plainserver; do
		t0=$(now)
		start_host "$g"
		t1=$(now)
		if ! check_host "reports/wasm-$g.txt" --json "reports/wasm-$g.json"; then
			echo "wasm host: the check of $g FAILED (or TIMEOUT-004 did not pass):"
			cat "reports/wasm-$g.txt"
			exit 1
		fi
		t2=$(now)
		stop_host
		printf 'wasm host: %-11s %s\n' "$g" "$(tail -1 "reports/wasm-$g.txt")"
		printf '           %-11s host up in %.1fs, check %.2fs; TIMEOUT-004 (900 s) passed on the virtual clock\n' \
			"" "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)"
	done
	exit 0
fi

start_host "$guest"
t0=$(now)
for i in $(seq "$runs"); do
	if ! check_host reports/wasm-stability-run.txt; then
		cp reports/wasm-stability-run.txt reports/wasm-stability-failure.txt
		echo "wasm stability: run $i of $runs FAILED; output in reports/wasm-stability-failure.txt"
		tail -5 reports/wasm-stability-failure.txt
		exit 1
	fi
done
t1=$(now)
printf 'wasm stability: %d passed, 0 failed (%d consecutive checks of the wasip1 %s under one host in %.1fs, %.2fs each)\n' \
	"$runs" "$runs" "$guest" "$(echo "$t1 - $t0" | bc)" "$(echo "($t1 - $t0) / $runs" | bc -l)"
