#!/usr/bin/env bash
# Runs `go test` for the given packages compiled to WebAssembly.
#
#   ci/wasm-test.sh wasip1 ./fakeclock ./reference ...
#   ci/wasm-test.sh js     ./fakeclock ...
#
# wasip1: GOOS=wasip1 GOARCH=wasm, run by wazero, the version pinned by the
#         `tool` line of go.mod, built into bin/wazero, through Go's own
#         $GOROOT/lib/wasm/go_wasip1_wasm_exec with GOWASIRUNTIME=wazero.
# js:     GOOS=js GOARCH=wasm, run by Node.js through $GOROOT/lib/wasm/go_js_wasm_exec.
#
# Prints go test's own `ok  <package>  <time>` line per package, then how many
# tests and subtests passed, failed and were skipped in it, then a total line.
# Only a failing package's test output is shown in full. Fails if go test
# fails, if a listed package directory does not exist, or if a package runs
# no test at all.
#
# Environment: WASM_TIMEOUT (go test -timeout, default 15m), GOTESTFLAGS
# (extra go test flags, e.g. "-run TestFoo").
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

usage() { echo "usage: $0 wasip1|js PACKAGE..." >&2; exit 2; }
(($# >= 2)) || usage
target=$1
shift

for pkg in "$@"; do
	# A listed directory that does not exist is an error, never a skip: add a
	# package to the list when it exists.
	if [[ $pkg == ./* && $pkg != *...* && ! -d $pkg ]]; then
		echo "wasm-test: ERROR: package directory $pkg does not exist (listed for $target)" >&2
		exit 1
	fi
done

goroot=$(go env GOROOT)
case $target in
wasip1)
	go build -o "$root/bin/wazero" github.com/tetratelabs/wazero/cmd/wazero
	runtime="wazero $("$root/bin/wazero" version)"
	export GOOS=wasip1 GOARCH=wasm GOWASIRUNTIME=wazero PATH="$root/bin:$PATH"
	exec_wrapper=$goroot/lib/wasm/go_wasip1_wasm_exec
	;;
js)
	command -v node >/dev/null || { echo "wasm-test: ERROR: node not on PATH" >&2; exit 1; }
	runtime="node $(node --version)"
	export GOOS=js GOARCH=wasm
	exec_wrapper=$goroot/lib/wasm/go_js_wasm_exec
	;;
*) usage ;;
esac
[[ -x $exec_wrapper ]] || { echo "wasm-test: ERROR: $exec_wrapper missing" >&2; exit 1; }

printf '\n==> GOOS=%s GOARCH=wasm go test (%s): %s\n' "$GOOS" "$runtime" "$*"

# Test output (stdout) goes through the summariser; build errors (stderr)
# go straight to the terminal.
# shellcheck disable=SC2086 # GOTESTFLAGS is a list of flags
go test -v -count=1 -timeout "${WASM_TIMEOUT:-15m}" -exec "$exec_wrapper" ${GOTESTFLAGS:-} "$@" |
	awk -v label="$target" '
	function reset() { n = 0; pass = fail = skip = 0; spass = sfail = sskip = 0; ginkgo = ""; split("", started) }
	function dump(   i, t) {
		for (i = 1; i <= n; i++) if (buf[i] !~ /^=== (RUN|PAUSE|CONT|NAME)/) print buf[i]
		# A hang shows as tests that started and never ended (wasm has no
		# preemption: a spin-wait there blocks every goroutine and even the
		# -timeout alarm, until go test kills the runtime).
		for (t in started) print "    started but never finished: " t
	}
	function report(line, failed) {
		if (failed) dump()
		print line
		printf "    tests: %d passed, %d failed, %d skipped; subtests: %d passed, %d failed, %d skipped\n", pass, fail, skip, spass, sfail, sskip
		if (ginkgo != "") print "    ginkgo: " ginkgo
		if (!failed && pass + fail == 0) {
			print "    ERROR: no test ran in this package under " label
			bad = 1
		}
		tpass += pass; tfail += fail; tskip += skip
		reset()
	}
	BEGIN { reset(); bad = 0 }
	{ buf[++n] = $0 }
	/Ran [0-9]+ of [0-9]+ Specs/ { line = $0; gsub(/\033\[[0-9;]*m/, "", line); sub(/^ */, "", line); ginkgo = line }
	/^ *=== RUN / { started[$3] = 1 }
	/^ *--- (PASS|FAIL|SKIP): / { delete started[$3] }
	/^--- PASS/ { pass++ }   /^--- FAIL/ { fail++ }   /^--- SKIP/ { skip++ }
	/^ +--- PASS/ { spass++ } /^ +--- FAIL/ { sfail++ } /^ +--- SKIP/ { sskip++ }
	/^ok  \t/   { n--; report($0, 0); next }
	/^FAIL\t/   { n--; report($0, 1); bad = 1; next }
	/^\?   \t/  { print; print "    ERROR: no test files in this package"; bad = 1; reset(); next }
	END {
		if (n > 0) dump()   # anything after the last package line
		printf "%s: %d passed, %d failed, %d skipped\n", label, tpass, tfail, tskip
		exit bad
	}'
