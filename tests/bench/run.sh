#!/bin/sh
# `make bench`: builds the benchmark's tools into $BUILD/bench/ and runs tests/bench/bench.py
# under the test reaper (the session inits outlive their helper; this machine's PID 1 does
# not reap). Writes bench/RESULTS.md. BENCH_QUICK=1: a short run.
#
# A benchmark reports, it does not judge: the exit status is 0 whatever the figures say, and
# non-zero only when the bench itself could not run (not root, a tool does not build, the
# driver crashed) or left something behind.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
export BUILD
if [ "$(id -u)" != 0 ]; then
	echo "bench: needs root (sudo make bench)" >&2
	exit 1
fi
for f in isolate-helper isolate-init isolatectl pam_isolate.so tests/reaper; do
	if [ ! -e "$BUILD/$f" ]; then
		echo "bench: $BUILD/$f is missing: run make all first" >&2
		exit 1
	fi
done

B="$BUILD/bench"
mkdir -p "$B"
ABS_B=$(cd "$B" && pwd)
ABS_BUILD=$(cd "$BUILD" && pwd)
CC=${CC:-gcc}
CFLAGS="-std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -D_GNU_SOURCE"
PKGS="libseccomp libcap libsystemd libconfuse"

# The objects the helper is made of (the Makefile's HELPER_OBJS): every conf/, client/ and
# session-helper/ source but the two program mains. seccomp_cost calls the helper's own
# seccomp_program_build() on the default policy, egress_cost its egress_load() and
# egress_attach().
objs=""
for src in conf/*.c client/*.c session-helper/*.c; do
	case "$src" in
	session-helper/helper.c | session-helper/session-init.c)
		continue ;;
	esac
	obj="$BUILD/obj/${src%.c}.o"
	if [ ! -e "$obj" ]; then
		echo "bench: $obj is missing: run make all first" >&2
		exit 1
	fi
	objs="$objs $obj"
done

echo "bench: building the tools in $B"
$CC $CFLAGS tests/bench/pam_loop.c -lpam -o "$B/pam_loop"
$CC $CFLAGS tests/bench/alternate.c -o "$B/alternate"
$CC $CFLAGS tests/bench/connect_loop.c -o "$B/connect_loop"
$CC $CFLAGS tests/bench/seccomp_log_cost.c -o "$B/seccomp_log_cost"
# shellcheck disable=SC2086
$CC $CFLAGS $(pkg-config --cflags $PKGS) tests/bench/seccomp_cost.c $objs \
	$(pkg-config --libs $PKGS) -o "$B/seccomp_cost"
# shellcheck disable=SC2086
$CC $CFLAGS $(pkg-config --cflags $PKGS) tests/bench/egress_cost.c $objs \
	$(pkg-config --libs $PKGS) -o "$B/egress_cost"
$CC $CFLAGS -fPIC -shared tests/bench/helper_shim.c -ldl -o "$B/helper_shim.so"
$CC $CFLAGS -DREAL_HELPER="\"$ABS_BUILD/isolate-helper\"" \
	-DSHIM_SO="\"$ABS_B/helper_shim.so\"" -DSHIM_LOG="\"$ABS_B/shim.log\"" \
	tests/bench/helper_wrap.c -o "$B/helper_wrap"
if [ -x /usr/bin/valgrind ]; then
	$CC $CFLAGS -DREAL_HELPER="\"$ABS_BUILD/isolate-helper\"" \
		-DCALLGRIND_OUT="\"$ABS_B/callgrind.out.%p\"" tests/bench/helper_wrap.c -o "$B/helper_vg"
fi
$CC $CFLAGS -static tests/bench/hello_static.c -o "$B/hello_static"
$CC $CFLAGS tests/bench/hello_static.c -o "$B/hello_dynamic"

exec "$BUILD/tests/reaper" /usr/bin/python3 tests/bench/bench.py
