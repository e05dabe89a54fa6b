#!/bin/sh
# tests/check.sh STAGE...: make check (and check-fast). Runs `make STAGE` for every stage, each
# whatever the ones before it did (a failing unit test does not hide the integration tests),
# then one summary (tests/results.py): every skip with its reason, every failure, and as the
# last line `N passed, N failed, N skipped` over all stages. A stage whose make fails before
# its tests ran to their end (a failed build) is a failure. Exit status 1 if anything failed.
#
# From the Makefile: MAKE (the make to run the stages with) and SANITIZE. Under SANITIZE=1
# the guest tests (vmtest-RELEASE) run the release build (its Debian package): an ASan-built
# pam_isolate.so cannot load into the guest's stock sshd (the ASan runtime must come first),
# and the sanitizers already watch the same code in the unit and integration tests.
set -u
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
TEST_RESULTS=$(mktemp -d /tmp/isolate-check.XXXXXX) || exit 1
export TEST_RESULTS
trap 'rm -rf "$TEST_RESULTS"' EXIT
trap 'exit 130' INT TERM

for stage in "$@"; do
	echo "==== $stage"
	if [ "${stage%%-*}" = vmtest ] && [ "${SANITIZE:-}" = 1 ]; then
		echo "$stage: the guest test installs the package (a release build), not build-san/"
		TEST_STAGE=$stage $MAKE --no-print-directory SANITIZE= "$stage"
	else
		TEST_STAGE=$stage $MAKE --no-print-directory "$stage"
	fi
	echo $? >"$TEST_RESULTS/$stage.rc"
done
/usr/bin/python3 tests/results.py summary "$TEST_RESULTS" "$@"
