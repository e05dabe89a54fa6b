#!/bin/sh
# Runs every cmocka unit test binary given (TAP output), one record per test for the summary
# of make check (tests/results.py): a failed or skipped test, a test that never reported and
# a binary that crashed or exited non-zero are all counted. Fails if any test failed.
exec /usr/bin/python3 "$(dirname "$0")/results.py" unit "$@"
