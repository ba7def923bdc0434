#!/usr/bin/env bash
# Installs and checks everything `make test` needs on a Debian machine:
#   - Debian packages chromium, python3-twisted, python3-autobahn (the Twisted
#     peer's WebSocket and the replay test), twisted-doc, wrk, redis-server
#     (only the missing ones; apt-get update runs once, and only then);
#   - Node.js (runs the GOOS=js test binaries);
#   - the Go modules of go.mod (go mod download).
# Then it checks that each thing works: Chromium renders a page headless,
# the Twisted interpreter imports twisted, wrk and node run, redis-server
# reports its version (the tests start their own, on free loopback ports).
#
# Idempotent: a second run installs nothing and takes a few seconds.
# Prints one line per thing it checks or installs; exits non-zero on
# anything missing or broken.
#
# Environment:
#   TWISTED_PYTHON   interpreter that must import twisted (default /usr/bin/python3,
#                    Debian's, which is where python3-twisted installs; `python3`
#                    on PATH may be another one, e.g. a pyenv shim)
#   CHROMIUM         Chromium binary to smoke-test (default /usr/bin/chromium)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

TWISTED_PYTHON="${TWISTED_PYTHON:-/usr/bin/python3}"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
DEB_PACKAGES=(chromium python3-twisted python3-autobahn twisted-doc wrk redis-server)

say() { printf 'deps: %s\n' "$*"; }
die() { printf 'deps: ERROR: %s\n' "$*" >&2; exit 1; }

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
	command -v sudo >/dev/null || die "not root and no sudo: cannot install Debian packages"
	SUDO=(sudo)
fi

installed() {
	[[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true) == installed ]]
}
version_of() { dpkg-query -W -f='${Version}' "$1"; }

# --- Debian packages -------------------------------------------------------
missing=()
for p in "${DEB_PACKAGES[@]}"; do
	if installed "$p"; then
		say "$p $(version_of "$p") already installed"
	else
		say "$p missing: will install"
		missing+=("$p")
	fi
done
if ! command -v node >/dev/null; then
	# The machine's apt sources decide which Node.js this is; Go's
	# wasm_exec_node.js wants a recent one, checked below.
	say "node not on PATH: will install Debian package nodejs"
	missing+=(nodejs)
fi

if ((${#missing[@]})); then
	export DEBIAN_FRONTEND=noninteractive
	apt_opts=(-o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0)
	say "apt-get update"
	"${SUDO[@]}" apt-get "${apt_opts[@]}" update -qq
	say "apt-get install --no-install-recommends ${missing[*]}"
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	for p in "${missing[@]}"; do
		installed "$p" || die "$p still not installed after apt-get install"
		say "$p $(version_of "$p") installed"
	done
fi

# --- checks that each one works ---------------------------------------------
[[ -x $CHROMIUM ]] || die "$CHROMIUM not found or not executable"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# A data: URL proves Chromium parsed and rendered something, not just started.
if ! dom=$(timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
	--disable-dev-shm-usage --no-first-run --disable-background-networking \
	--disable-component-update --disable-sync --user-data-dir="$profile" \
	--dump-dom 'data:text/html,<p id=x>sessionspec-ok</p>' 2>"$profile.err"); then
	cat "$profile.err" >&2
	rm -f "$profile.err"
	die "chromium did not run headless"
fi
rm -f "$profile.err"
[[ $dom == *sessionspec-ok* ]] || die "chromium ran headless but rendered no page: $dom"
say "chromium headless OK: $("$CHROMIUM" --version 2>/dev/null | head -n1)"

[[ -x $TWISTED_PYTHON ]] || die "TWISTED_PYTHON=$TWISTED_PYTHON not found or not executable"
tw=$("$TWISTED_PYTHON" -c 'import sys, twisted, autobahn; print(twisted.__version__, "python", sys.version.split()[0])') ||
	die "$TWISTED_PYTHON cannot import twisted and autobahn"
say "twisted $tw at TWISTED_PYTHON=$TWISTED_PYTHON"
path_py=$(command -v python3 || true)
if [[ -n $path_py ]] && ! "$path_py" -c 'import twisted' 2>/dev/null; then
	say "note: python3 on PATH ($path_py) has no twisted; use \$TWISTED_PYTHON"
fi
[[ -d /usr/share/doc/twisted-doc ]] || die "twisted-doc installed but /usr/share/doc/twisted-doc missing"
say "twisted-doc at /usr/share/doc/twisted-doc"

command -v wrk >/dev/null || die "wrk not on PATH"
# `wrk -v` prints its version and exits 1.
say "wrk OK: $(wrk -v 2>&1 | head -n1 || true)"

# The tests run /usr/bin/redis-server themselves (internal/redistest), on a
# free port with no persistence; the service Debian may have started is not
# used.
[[ -x /usr/bin/redis-server ]] || die "/usr/bin/redis-server not found or not executable"
say "redis-server OK: $(/usr/bin/redis-server --version | cut -d' ' -f1-3)"

command -v node >/dev/null || die "node not on PATH (needed for GOOS=js tests)"
node_v=$(node --version)
node_major=${node_v#v}
node_major=${node_major%%.*}
((node_major >= 18)) || die "node $node_v too old for Go's wasm_exec_node.js (want >= 18)"
say "node $node_v OK ($(command -v node))"

# --- Go modules --------------------------------------------------------------
command -v go >/dev/null || die "go not on PATH"
go mod download
say "go mod download OK ($(go version | cut -d' ' -f3))"
