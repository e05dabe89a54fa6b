#!/bin/sh
# Runs the integration tests (real kernel, as root) under the test reaper: this machine's
# PID 1 does not reap orphans, and the reaper also fails the run if anything is left behind.
# TESTS="test_sandbox test_caps" narrows the run. Each test is recorded for the summary of
# make check (tests/integration/run.py, tests/results.py); alone, it ends with its own.
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
# sanitizer builds write their reports here (client/sanitizer.h)
SANDIR=/run/isolate-sanitizer
rm -rf "$SANDIR" && mkdir -p "$SANDIR"
own_results=""
if [ -z "${TEST_RESULTS:-}" ]; then
	TEST_RESULTS=$(mktemp -d /tmp/isolate-integration-results.XXXXXX)
	own_results=$TEST_RESULTS
	export TEST_RESULTS
fi
record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$TEST_RESULTS/integration"; }
cd tests/integration
rc=0
"../../$BUILD/tests/reaper" /usr/bin/python3 run.py "$@" || rc=$?
if [ -n "$(ls -A "$SANDIR" 2>/dev/null)" ]; then
	echo "sanitizer reports from the helper, the init or isolatectl:" >&2
	for f in "$SANDIR"/*; do echo "== $f" >&2; head -40 "$f" >&2; done
	record fail integration.sanitizer "reports in $SANDIR: $(cd "$SANDIR" && ls | paste -sd' ')"
	rc=1
fi
rm -rf "$SANDIR"
# the reaper's own failure (processes left behind) or a runner that died
if [ "$rc" != 0 ] && ! grep -q '^fail' "$TEST_RESULTS/integration" 2>/dev/null; then
	record fail integration.reaper "the run exited $rc with no failed test: processes left behind, or the runner died (see above)"
fi
if [ -n "$own_results" ]; then
	/usr/bin/python3 ../results.py summary "$own_results" integration || rc=1
	rm -rf "$own_results"
fi
exit $rc
