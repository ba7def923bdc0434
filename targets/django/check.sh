#!/usr/bin/env bash
# Checks Django 3.2's database sessions (Debian python3-django:
# django.contrib.sessions with the db backend on a throw-away SQLite file,
# SESSION_COOKIE_AGE as the timeout and SESSION_SAVE_EVERY_REQUEST;
# targets/django/app.py, served by wsgiref with a thread per request) with
# sessionspec against its known deviations, on the wall clock: Django reads
# timezone.now() and cannot be given a clock.
#
#   targets/django/check.sh [sessionspec check flags, e.g. -v or --browser]
#   SESSIONSPEC=/path/to/sessionspec targets/django/check.sh   (that build, not bin/sessionspec)
#
# Needs /usr/bin/python3 with Debian's python3-django (targets/install.sh, or
# `make deps-targets`; there is no PyPI here, and the pyenv python3 on PATH
# does not see Debian's packages). Starts the adapter on port 0, so the
# kernel picks a free port and nothing can take it between choosing and
# binding; reads the port from the adapter's "listening on" line; runs
# `sessionspec check` against it, comparing every outcome with
# targets/django/expect.txt and writing reports/django.{json,xml} (with
# --browser, screenshots in reports/screenshots/django); then stops the
# adapter with SIGTERM and requires it to exit 0. Exits with the check's
# code: 0 no outcome differs from the expectations, 1 some differ, 2 harness
# or target error (also: no python3-django, the adapter did not start, or it
# did not exit cleanly).
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/../pypeer.sh" django 'import django, sqlite3; print("Django", django.get_version(), "SQLite", sqlite3.sqlite_version)' "$@"
