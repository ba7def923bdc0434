#!/usr/bin/env bash
# Runs every fuzz target for FUZZTIME (default 20000x: a number of inputs,
# not seconds, so a loaded machine takes longer instead of failing) and
# prints, per target,
# how many inputs it executed. A crasher fails the run; go test saves it
# under the package's testdata/fuzz/, where it becomes a regression test
# that every later `go test` runs: commit it with the fix.
#
#   ci/fuzz.sh            20,000 inputs per target (make test)
#   FUZZTIME=10m ci/fuzz.sh   a long run (make fuzz)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
fuzztime=${FUZZTIME:-20000x}
total=0
# every package with a fuzz target, so a new one is never skipped
for pkg in $(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz'); do
		log=$(mktemp)
		ok=0
		for attempt in 1 2; do
			if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >"$log" 2>&1; then
				ok=1
				break
			fi
			# Go's fuzzer can end a time-bounded run with a bare "context
			# deadline exceeded" and no failing input when the machine is
			# loaded; that is the engine, not a crasher: try once more.
			if grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"; then
				echo "fuzz: $pkg $target: the fuzzing engine timed out without a failing input; trying again"
				continue
			fi
			break
		done
		if ((ok == 0)); then
			cat "$log"
			echo "fuzz: $pkg $target FAILED (a failing input is saved under $pkg/testdata/fuzz/$target when there is one)"
			exit 1
		fi
		execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo 0)
		rm -f "$log"
		((execs > 0)) || { echo "fuzz: $pkg $target executed nothing"; exit 1; }
		printf 'fuzz: %-12s %-24s %9d execs (-fuzztime %s)\n' "$pkg" "$target" "$execs" "$fuzztime"
		total=$((total + execs))
	done
done
echo "fuzz: $total executions in all, 0 crashers"
