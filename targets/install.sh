#!/usr/bin/env bash
# Installs what the targets under targets/ need, and only what is missing:
#   - Debian libtomcat10-java (Tomcat 10.1's jars under /usr/share/java) and a
#     Java 17 JDK (javac), for targets/tomcat;
#   - express, express-session and memorystore for targets/express, by
#     `npm ci` from its package-lock.json (again only when the lock changed);
#   - the Go modules of targets/scs (its own go.mod and go.sum).
# Twisted, Chromium and node come from ci/install-deps.sh (make deps).
#
# Idempotent: a second run installs nothing and takes a second or two.
# Prints one line per thing; exits non-zero on anything missing or broken,
# so that `make matrix` fails loudly rather than skipping a target.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'deps-targets: %s\n' "$*"; }
die() {
	printf 'deps-targets: ERROR: %s\n' "$*" >&2
	exit 1
}
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
	command -v sudo >/dev/null || die "not root and no sudo: cannot install Debian packages"
	SUDO=(sudo)
fi
installed() { [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true) == installed ]]; }

# --- Tomcat 10.1 and a JDK ----------------------------------------------------
missing=()
installed libtomcat10-java || missing+=(libtomcat10-java)
command -v javac >/dev/null || missing+=(openjdk-17-jdk-headless)
if ((${#missing[@]})); then
	apt_opts=(-o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0)
	say "apt-get update; apt-get install ${missing[*]}"
	"${SUDO[@]}" apt-get "${apt_opts[@]}" update -qq
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
installed libtomcat10-java || die "libtomcat10-java still not installed"
[[ -r /usr/share/java/tomcat10-catalina.jar ]] || die "/usr/share/java/tomcat10-catalina.jar missing"
command -v javac >/dev/null || die "javac not on PATH"
say "libtomcat10-java $(dpkg-query -W -f='${Version}' libtomcat10-java), $(javac -version 2>&1)"

# --- express-session + memorystore --------------------------------------------
command -v npm >/dev/null || die "npm not on PATH (Debian nodejs/npm; make deps)"
dir=targets/express
stamp=$dir/node_modules/.package-lock.json
if [[ ! -e $stamp || $dir/package-lock.json -nt $stamp ]]; then
	say "npm ci in $dir"
	(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
for m in express express-session memorystore; do
	[[ -r $dir/node_modules/$m/package.json ]] || die "$dir/node_modules/$m missing after npm ci"
done
say "express-session $(node -p "require('./$dir/node_modules/express-session/package.json').version"), memorystore $(node -p "require('./$dir/node_modules/memorystore/package.json').version")"

# --- scs ----------------------------------------------------------------------
(cd targets/scs && go mod download && go build -o /dev/null .) || die "targets/scs does not build"
say "scs $(cd targets/scs && go list -m -f '{{.Version}}' github.com/alexedwards/scs/v2) (module targets/scs)"

# --- Flask 2.2 and Django 3.2 (Debian python3-flask, python3-django) ----------
# targets/flask and targets/django run on /usr/bin/python3 with Debian's
# packages: there is no PyPI here, and a pyenv python3 on PATH does not see them.
missing=()
installed python3-flask || missing+=(python3-flask)
installed python3-django || missing+=(python3-django)
if ((${#missing[@]})); then
	apt_opts=(-o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0)
	say "apt-get update; apt-get install ${missing[*]}"
	"${SUDO[@]}" apt-get "${apt_opts[@]}" update -qq
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for p in python3-flask python3-django; do
	installed "$p" || die "$p still not installed"
done
/usr/bin/python3 -c 'import flask, itsdangerous, werkzeug' || die "/usr/bin/python3 cannot import flask"
/usr/bin/python3 -c 'import django, sqlite3' || die "/usr/bin/python3 cannot import django"
say "python3-flask $(dpkg-query -W -f='${Version}' python3-flask), python3-django $(dpkg-query -W -f='${Version}' python3-django)"
