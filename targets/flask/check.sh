#!/usr/bin/env bash
# Checks Flask 2.2's default session (Debian python3-flask: the signed
# "session" cookie of SecureCookieSessionInterface, made permanent with
# PERMANENT_SESSION_LIFETIME as the timeout; targets/flask/app.py) with
# sessionspec against its known deviations, on the wall clock: Flask and
# itsdangerous read time.time() and cannot be given a clock.
#
#   targets/flask/check.sh [sessionspec check flags, e.g. -v or --browser]
#   SESSIONSPEC=/path/to/sessionspec targets/flask/check.sh   (that build, not bin/sessionspec)
#
# Needs /usr/bin/python3 with Debian's python3-flask (targets/install.sh, or
# `make deps-targets`; there is no PyPI here, and the pyenv python3 on PATH
# does not see Debian's packages). Starts the adapter on port 0, so the
# kernel picks a free port and nothing can take it between choosing and
# binding; reads the port from the adapter's "listening on" line; runs
# `sessionspec check` against it, comparing every outcome with
# targets/flask/expect.txt and writing reports/flask.{json,xml} (with
# --browser, screenshots in reports/screenshots/flask); then stops the adapter
# with SIGTERM and requires it to exit 0. Exits with the check's code: 0 no
# outcome differs from the expectations, 1 some differ, 2 harness or target
# error (also: no python3-flask, the adapter did not start, or it did not
# exit cleanly).
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/../pypeer.sh" flask 'from importlib.metadata import version as v; print("Flask", v("flask"), "itsdangerous", v("itsdangerous"), "Werkzeug", v("werkzeug"))' "$@"
