#!/usr/bin/env bash
# Runs every fuzz target for FUZZTIME (default 5s) and prints, per target,
# how many inputs it executed. A crasher fails the run; go test saves it
# under the package's testdata/fuzz/, where it becomes a regression test
# that every later `go test` runs: commit it with the fix.
#
#   ci/fuzz.sh            5 s per target (make test)
#   FUZZTIME=10m ci/fuzz.sh   a long run (make fuzz)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
fuzztime=${FUZZTIME:-5s}
total=0
for pkg in ./reference ./spec; do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz'); do
		log=$(mktemp)
		if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >"$log" 2>&1; then
			cat "$log"
			echo "fuzz: $pkg $target FAILED (crasher saved under $pkg/testdata/fuzz/$target)"
			exit 1
		fi
		execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo 0)
		rm -f "$log"
		((execs > 0)) || { echo "fuzz: $pkg $target executed nothing"; exit 1; }
		printf 'fuzz: %-12s %-24s %9d execs in %s\n' "$pkg" "$target" "$execs" "$fuzztime"
		total=$((total + execs))
	done
done
echo "fuzz: $total executions in all, 0 crashers"
