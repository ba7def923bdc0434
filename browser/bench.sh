#!/usr/bin/env bash
# The browser cases' speed benchmark (not a test): RUNS times
#
#   sessionspec check URL --browser --label-filter browser --parallel 1 --json ...
#
# against one `sessionspec serve --fake-clock` on loopback. Each run is a
# process of its own, so its wall time includes starting (and stopping)
# Chromium. --parallel 1: a Browser runs its cases one at a time anyway,
# and a case's seconds in the report then exclude its wait for the turn.
# Prints every run's wall and CPU time (CPU of sessionspec and Chromium
# together), the median wall time, and each case's median time from the
# JSON reports.
#
#   browser/bench.sh [RUNS]     (default 7)
#
# Keeps the reports and screenshots in $OUT (default a fresh temporary
# directory, printed at the end).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

runs=${1:-7}
out=${OUT:-$(mktemp -d -t sessionspec-bench-XXXXXX)}
mkdir -p "$out"
go build -o "$out/sessionspec" ./cmd/sessionspec

"$out/sessionspec" serve --fake-clock --addr 127.0.0.1:0 >"$out/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
url=
for _ in $(seq 50); do
	url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$out/serve.log" | head -n1 || true)
	[[ -n $url ]] && break
	sleep 0.1
done
[[ -n $url ]] || { echo "bench: the reference did not start: $(cat "$out/serve.log")" >&2; exit 2; }

echo "bench: $runs runs against $url (reference, fake clock); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$runs"); do
	/usr/bin/time -f '%e %U %S' -o "$out/time$i" \
		"$out/sessionspec" check "$url" --browser --label-filter browser --parallel 1 \
		--json "$out/run$i.json" --screenshots "$out/screenshots$i" >"$out/run$i.log" 2>&1 ||
		{ echo "bench: run $i failed:"; cat "$out/run$i.log"; exit 1; }
	read -r wall user sys <"$out/time$i"
	printf 'run %d: wall %.2fs, cpu %.2fs, load %s\n' "$i" "$wall" "$(echo "$user + $sys" | bc)" "$(cut -d' ' -f1 /proc/loadavg)"
done

median() { sort -n | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f", m }'; }
printf 'median wall: %ss\n' "$(for i in $(seq "$runs"); do cut -d' ' -f1 "$out/time$i"; done | median)"
# The JSON report lists each case's "id" before its "seconds".
for f in "$out"/run*.json; do
	awk -F': ' '/"id":/ { gsub(/[",]/, "", $2); id = $2 } /"seconds":/ && id != "" { gsub(/,/, "", $2); print id, $2; id = "" }' "$f"
done >"$out/cases.txt"
for id in $(cut -d' ' -f1 "$out/cases.txt" | sort -u); do
	printf '%s median %ss\n' "$id" "$(awk -v id="$id" '$1 == id { print $2 }' "$out/cases.txt" | median)"
done
echo "bench: reports and screenshots in $out"
