#!/bin/sh
# Runs the integration tests (real kernel, as root) under the test reaper: this machine's
# PID 1 does not reap orphans, and the reaper also fails the run if anything is left behind.
# TESTS="test_sandbox test_caps" narrows the run.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
if [ "$(id -u)" != 0 ]; then
	echo "integration tests need root (sudo make check)" >&2
	exit 1
fi
if [ -n "${TESTS:-}" ]; then
	set -- $TESTS
else
	set -- $(cd tests/integration && ls test_*.py | sed 's/\.py$//')
fi
# sanitizer builds write their reports here (session-helper/sanitizer.h)
SANDIR=/run/isolate-sanitizer
rm -rf "$SANDIR" && mkdir -p "$SANDIR"
cd tests/integration
rc=0
"../../$BUILD/tests/reaper" /usr/bin/python3 -m unittest -v "$@" || rc=$?
if [ -n "$(ls -A "$SANDIR" 2>/dev/null)" ]; then
	echo "sanitizer reports from the helper, the init or isolatectl:" >&2
	for f in "$SANDIR"/*; do echo "== $f" >&2; head -40 "$f" >&2; done
	rc=1
fi
rm -rf "$SANDIR"
exit $rc
