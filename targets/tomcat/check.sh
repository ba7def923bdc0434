#!/usr/bin/env bash
# Checks Apache Tomcat 10.1 (Debian libtomcat10-java, embedded) with
# sessionspec against its known deviations.
#
#   targets/tomcat/check.sh [sweep]    expiry sweep every second: Engine
#                                      backgroundProcessorDelay 1, Manager
#                                      processExpiresFrequency 1 (the finest Tomcat allows)
#   targets/tomcat/check.sh defaults   Tomcat's own defaults: 10 s x 6, a sweep every 60 s
#
# Both run SeedSite.java with a 2 s session timeout (setMaxInactiveInterval;
# TARGET_TIMEOUT=N seconds for another)
# on the wall clock: Tomcat has no injectable clock. Compiles SeedSite.java
# into bin/tomcat-classes, picks a free port on 127.0.0.1, has `sessionspec
# check --run` start Tomcat there, compares every outcome with
# targets/tomcat/expect[-defaults].txt and writes reports/tomcat[-defaults].{json,xml}.
# Exits with the check's code: 0 no outcome differs from the expectations,
# 1 some differ, 2 harness or target error (also: no Java or no Tomcat jars,
# which `make deps-targets` installs). Extra arguments go to `sessionspec
# check` (e.g. -v, --browser).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

mode=sweep
if [[ ${1:-} == sweep || ${1:-} == defaults ]]; then
	mode=$1
	shift
fi
case $mode in
sweep) name=tomcat delay=1 frequency=1 ;;
defaults) name=tomcat-defaults delay=10 frequency=6 ;;
esac

die() {
	echo "tomcat ($mode): FAILED: $*" >&2
	exit 2
}
for tool in java javac; do
	command -v "$tool" >/dev/null || die "$tool not on PATH (Java 17: Debian openjdk-17-jdk-headless)"
done
jars=()
for j in servlet-api catalina coyote util util-scan juli api jni jaspic-api annotations-api websocket websocket-api websocket-client-api; do
	f=/usr/share/java/tomcat10-$j.jar
	[[ -r $f ]] || die "$f missing: install Debian libtomcat10-java (make deps-targets)"
	jars+=("$f")
done
cp=$(
	IFS=:
	echo "${jars[*]}"
)
version=$(dpkg-query -W -f='${Version}' libtomcat10-java 2>/dev/null || echo unknown)

mkdir -p bin reports
go build -o bin/sessionspec ./cmd/sessionspec
classes=bin/tomcat-classes
if [[ ! -e $classes/SeedSite.class || targets/tomcat/SeedSite.java -nt $classes/SeedSite.class ]]; then
	rm -rf "$classes"
	javac -Xlint:all,-serial -Werror -d "$classes" -cp "$cp" targets/tomcat/SeedSite.java
fi

extra=()
if [[ " $* " == *" --browser "* && " $* " != *" --screenshots "* ]]; then
	extra=(--screenshots "reports/screenshots/$name")
fi

# The session timeout in whole seconds (Tomcat takes no less): 2 unless
# TARGET_TIMEOUT says otherwise (make matrix gives 4, for the browser cases).
timeout=${TARGET_TIMEOUT:-2}
[[ $timeout =~ ^[1-9][0-9]*$ ]] || { echo "TARGET_TIMEOUT=$timeout: want whole seconds" >&2; exit 2; }

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port/
expect=targets/tomcat/expect.txt
[[ $mode == defaults ]] && expect=targets/tomcat/expect-defaults.txt

echo "tomcat ($mode): libtomcat10-java $version, $(java -version 2>&1 | head -n1), target at $url"
start=$(date +%s%N)
code=0
bin/sessionspec check "$url" \
	--run "exec java -cp $classes:$cp SeedSite --port $port --timeout $timeout --background-delay $delay --expires-frequency $frequency" \
	--expect "$expect" --json "reports/$name.json" --junit "reports/$name.xml" "${extra[@]}" "$@" || code=$?
ms=$((($(date +%s%N) - start) / 1000000))
printf 'tomcat (%s): exit %d in %d.%ds wall time; reports/%s.{json,xml}\n' "$mode" "$code" $((ms / 1000)) $((ms % 1000 / 100)) "$name"
exit "$code"
