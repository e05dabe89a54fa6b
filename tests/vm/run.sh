#!/bin/bash
# tests/vm/run.sh: isolate's system test in a real Debian guest under qemu (TCG), where
# systemd is PID 1, the cgroup tree is pure v2, AppArmor is on and journald logs: the things
# the development host lacks. Logins go through the guest's real sshd -> pam_systemd ->
# pam_isolate, from an ssh client on the host (qemu user networking, a free local port).
#
#   BUILD=build tests/vm/run.sh            the full test (make vmtest)
#   tests/vm/run.sh --smoke                boot, ssh in as root, run a command, stop: the
#                                          infrastructure alone, without isolate
#   tests/vm/run.sh --base                 build the base image if it is not cached, and stop
#                                          (no qemu: needs no port and no lock of the test)
# Environment: VMTEST_RELEASE=bookworm|trixie (default bookworm; releases.sh) is the guest's
# Debian release; VMTEST_KEEP=1 keeps the run directory (console log, layer) for a look;
# VMTEST_MIRROR overrides the Debian mirror for the base image.
#
# The base image (Debian packages only) is cached in tests/vm/cache/base-RELEASE-KEY, KEY
# being a hash of the release's package lists and build-base.sh; each run adds a qcow2 overlay
# over it and a second disk (a tar archive: the test's configs, the guest side of the test)
# that the guest unpacks at boot. isolate reaches the guest as its Debian package:
# build-debs.sh builds it (and a higher version of it, for the upgrade in place) on the host
# while the guest boots, and the first step installs it with dpkg. Every wait has a hard
# timeout; qemu, the ssh clients and the package build are stopped by their pids; the run
# directory is removed.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) build_dir=$BUILD ;; *) build_dir=$repo/$BUILD ;; esac
cache=$here/cache
smoke=0 base_only=0
[ "${1:-}" = --smoke ] && smoke=1
[ "${1:-}" = --base ] && base_only=1
. "$here/releases.sh"
release=$(vmtest_release) || exit 1

# qemu start -> sshd answers: about 40 s on an idle host; minutes when the host is busy
BOOT_TIMEOUT=${VMTEST_BOOT_TIMEOUT:-300}
SSH_TIMEOUT=120                            # one ssh command in the guest
SESSION_TIMEOUT=120                        # a test user's session reaching its checkpoint

t_total=$(date +%s.%N)
timings=()
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
say() { printf 'vmtest %s: %s\n' "$release" "$*"; }
die() { say "ERROR: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot, make deb's root-owned files)"

# ---- tools ---------------------------------------------------------------------------------
ensure_tools() {
	local missing="" t pkg
	for t in debootstrap:debootstrap qemu-system-x86_64:qemu-system-x86 qemu-img:qemu-utils \
		mkfs.ext4:e2fsprogs ssh:openssh-client ssh-keygen:openssh-client flock:util-linux \
		dpkg-buildpackage:dpkg-dev dh:debhelper; do
		command -v "${t%%:*}" >/dev/null 2>&1 || missing="$missing ${t##*:}"
	done
	[ -z "$missing" ] && return 0
	say "installing$missing"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			$missing >/dev/null || die "apt-get install$missing failed"
}
ensure_tools

# ---- run directory and cleanup -------------------------------------------------------------
run=$(mktemp -d /tmp/isolate-vmtest.XXXXXX) || die "mktemp"
chmod 0755 "$run"
qemu_pid=""
bg_pids=()
deb_pid=""
failed=0

# deb_building: the package build (build-debs.sh) is a running job of this shell (a pid that
# ended is never signalled: it may be someone else's by now)
deb_building() { [ -n "$deb_pid" ] && jobs -rp | grep -qx "$deb_pid"; }

stop_qemu() {
	[ -n "$qemu_pid" ] || return 0
	kill -TERM "$qemu_pid" 2>/dev/null
	for _ in $(seq 1 50); do
		kill -0 "$qemu_pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$qemu_pid" 2>/dev/null
	wait "$qemu_pid" 2>/dev/null
	qemu_pid=""
}

cleanup() {
	local rc=$?
	local p
	# the package build, if it still runs: timeout(1) passes TERM on to its process group
	# (build-debs.sh, make, dpkg-buildpackage, cc)
	if deb_building; then
		kill -TERM "$deb_pid" 2>/dev/null
		wait "$deb_pid" 2>/dev/null
	fi
	# ssh clients, some behind timeout(1), which passes TERM on to its child
	for p in "${bg_pids[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${bg_pids[@]}"; do
		wait "$p" 2>/dev/null
	done
	if [ "$rc" != 0 ] || [ "$failed" != 0 ]; then
		if [ -s "$run/console.log" ]; then
			say "---- guest console, last 60 lines ----"
			tail -n 60 "$run/console.log" | sed -e 's/\x1b\[[0-9;]*m//g'
			say "---- end of guest console ----"
		fi
	fi
	stop_qemu
	if [ "${VMTEST_KEEP:-0}" = 1 ]; then
		say "run directory kept: $run"
	else
		rm -rf "$run"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the packages: built on the host meanwhile (host-steps.sh waits for them) --------------
if [ "$smoke" = 0 ] && [ "$base_only" = 0 ]; then
	mkdir -m 0755 "$run/debs"
	timeout 900 "$here/build-debs.sh" "$run/debs" </dev/null >"$run/debs.log" 2>&1 &
	deb_pid=$!
fi

# ---- the base image (cached) ---------------------------------------------------------------
t=$(now)
mkdir -p "$cache"
base=$cache/base-$release-$(vmtest_base_key "$release")
exec 9>"$cache/.lock"
flock -w 1800 9 || die "another vmtest holds $cache/.lock"
if [ -f "$base/disk.raw" ]; then
	base_how=cached
else
	# older images of this release, and those of before the release was in the name
	for old in "$cache/base-$release"-???????????????? "$cache"/base-????????????????; do
		[ -e "$old" ] && [ "$old" != "$base" ] && rm -rf "$old"
	done
	say "building the base image $base (its package lists or build-base.sh changed)"
	VMTEST_RELEASE=$release "$here/build-base.sh" "$base" || die "base image build failed"
	base_how=built
fi
flock -u 9
timings+=("base image ($base_how) $(elapsed "$t")s")
if [ "$base_only" = 1 ]; then
	say "base image ($base_how): $base"
	exit 0
fi

# ---- the per-run layer: the test's files (isolate comes as a package, after boot) ----------
t=$(now)
layer=$run/layer
mkdir -m 0755 "$layer"
if [ "$smoke" = 0 ]; then
	install -d -m 0755 "$layer/opt/isolate-vmtest" "$layer/etc/apparmor.d"
	install -m 0755 "$here/guest-test.sh" "$here/guest-selinux.sh" "$here/layer-setup.sh" \
		"$here/cg-delegate.sh" "$layer/opt/isolate-vmtest/"
	install -m 0644 "$here"/conf/*.conf "$layer/opt/isolate-vmtest/"
	# the test tool the session runs (guest-test.sh: tcp-fill); libc only, like the guest's
	[ -x "$build_dir/tests/probe" ] || die "$build_dir/tests/probe missing: make $BUILD/tests/probe"
	install -m 0755 "$build_dir/tests/probe" "$layer/opt/isolate-vmtest/probe"
	install -m 0644 "$here/apparmor/isolate-vmtest" "$layer/etc/apparmor.d/isolate-vmtest"
	# logind keeps a user's manager (user@UID.service) after their last logout rather than
	# stopping it 10 s later: a login waits for the manager it starts, seconds under TCG, and
	# the steps log the same users in again and again. Each user's first login starts it.
	install -d -m 0755 "$layer/etc/systemd/logind.conf.d"
	printf '[Login]\nUserStopDelaySec=infinity\n' >"$layer/etc/systemd/logind.conf.d/vmtest.conf"
fi
tar --owner=0 --group=0 --numeric-owner -C "$layer" -cf "$run/layer.tar" . ||
	die "tar of the layer failed"
timings+=("layer $(elapsed "$t")s")

# ---- boot ------------------------------------------------------------------------------------
t=$(now)
qemu-img create -q -f qcow2 -F raw -b "$base/disk.raw" "$run/overlay.qcow2" ||
	die "qemu-img create failed"
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') ||
	die "no free port"
# the major LSM: Debian's kernel starts AppArmor unless told otherwise (security=selinux;
# this kernel has no selinux=1 parameter); VMTEST_SELINUX_PERMISSIVE=1 boots permissive
lsm_cmdline=""
if [ "$(vmtest_lsm "$release")" = selinux ]; then
	lsm_cmdline=" security=selinux"
	[ "${VMTEST_SELINUX_PERMISSIVE:-0}" = 1 ] && lsm_cmdline="$lsm_cmdline enforcing=0"
fi
# TCG, not KVM: this host's /dev/kvm hangs a stock Debian kernel.
# -nodefaults: no floppy, CD-ROM, parallel port or VGA for the guest to probe at boot.
qemu-system-x86_64 -accel tcg,thread=multi -smp 2 -m 2G -no-reboot -nodefaults \
	-display none -monitor none -serial "file:$run/console.log" \
	-kernel "$base/vmlinuz" -initrd "$base/initrd.img" \
	-append "root=/dev/vda rw console=ttyS0 loglevel=4 fsck.mode=skip net.ifnames=0 systemd.show_status=1$lsm_cmdline" \
	-drive "file=$run/overlay.qcow2,if=virtio,format=qcow2,cache=unsafe" \
	-drive "file=$run/layer.tar,if=virtio,format=raw,readonly=on" \
	-netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-:22" -device virtio-net-pci,netdev=n0,romfile= \
	-device virtio-rng-pci </dev/null >"$run/qemu.log" 2>&1 &
qemu_pid=$!

ssh_opts=(-F /dev/null -i "$base/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes
	-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
	-o ConnectTimeout=10 -o ServerAliveInterval=5 -o ServerAliveCountMax=6 -p "$port")
# vssh USER CMD...: one command in the guest, with a hard timeout
vssh() {
	local user=$1
	shift
	timeout "$SSH_TIMEOUT" ssh "${ssh_opts[@]}" "$user@127.0.0.1" "$@"
}

# sshd is up when the port speaks SSH (qemu accepts the TCP connection itself long before).
# Then one master connection as root carries every root command of the test (ssh -O,
# ControlPath): a new root login per command would cost seconds of sshd and PAM under TCG.
banner() {
	timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && head -c 7 <&3" 2>/dev/null
}
ctl=$run/root.ctl
master_pid=""
deadline=$(($(date +%s) + BOOT_TIMEOUT))
while [ "$(date +%s)" -lt "$deadline" ]; do
	kill -0 "$qemu_pid" 2>/dev/null || { cat "$run/qemu.log"; die "qemu exited during boot"; }
	if [ "$(banner)" = "SSH-2.0" ]; then
		ssh "${ssh_opts[@]}" -M -N -o ControlPath="$ctl" root@127.0.0.1 \
			</dev/null >>"$run/master.log" 2>&1 &
		master_pid=$!
		bg_pids+=("$master_pid")
		for _ in $(seq 1 60); do
			ssh -o ControlPath="$ctl" -O check root@127.0.0.1 >/dev/null 2>&1 && break 2
			kill -0 "$master_pid" 2>/dev/null || break
			sleep 0.5
		done
		kill -KILL "$master_pid" 2>/dev/null
		wait "$master_pid" 2>/dev/null
		master_pid=""
	fi
	sleep 1
done
[ -n "$master_pid" ] || die "no ssh login as root within ${BOOT_TIMEOUT}s of starting qemu"
# vroot CMD...: a command as root in the guest over the master connection, hard timeout
vroot() {
	timeout "$SSH_TIMEOUT" ssh "${ssh_opts[@]}" -o ControlPath="$ctl" -o ControlMaster=no \
		root@127.0.0.1 "$@"
}
vroot true || die "ssh as root over the master connection failed"
timings+=("boot to ssh $(elapsed "$t")s")

# ---- the tests -------------------------------------------------------------------------------
t=$(now)
results=$run/results
: >"$results"
# record: the guest's "ok ID"/"not ok ID" lines go to the results, the rest is shown
record() {
	tee -a "$results" | sed -e 's/^/  /'
}
if [ "$smoke" = 1 ]; then
	out=$(vroot 'uname -r; systemctl is-system-running; stat -fc %T /sys/fs/cgroup; systemd-analyze | head -n 1;
		cat /sys/kernel/security/apparmor/profiles >/dev/null 2>&1 && echo apparmor;
		[ "$(cat /sys/fs/selinux/enforce 2>/dev/null)" = 1 ] && echo selinux-enforcing') || true
	say "guest: $(echo "$out" | paste -sd' ')"
	lsm=$(vmtest_lsm "$release")
	case $lsm:$out in
	apparmor:*cgroup2fs*apparmor*) echo "ok smoke - smoke: ssh as root, cgroup v2, AppArmor" | record ;;
	selinux:*cgroup2fs*selinux-enforcing*)
		echo "ok smoke - smoke: ssh as root, cgroup v2, SELinux enforcing" | record ;;
	*) echo "not ok smoke - smoke: unexpected guest: $out" | record ;;
	esac
	checks=$run/checks-smoke.txt
	echo smoke >"$checks"
else
	checks=$here/checks.txt
	. "$here/host-steps.sh"
	# the SELinux guest: its own steps and checks, with host-steps.sh's helpers
	if [ "$(vmtest_lsm "$release")" = selinux ]; then
		checks=$here/checks-selinux.txt
		. "$here/host-steps-selinux.sh"
	fi
	run_vm_tests
fi
timings+=("tests $(elapsed "$t")s")

if grep -q '^not ok ' "$results"; then
	vroot 'journalctl -b -q --no-pager' >"$run/journal.txt" 2>&1
	say "---- guest journal: isolate and sshd, last 40 lines ----"
	grep -E ' (isolate|sshd|sshd-session)\[' "$run/journal.txt" | tail -n 40
	say "---- end of guest journal ----"
fi

t=$(now)
stop_qemu
timings+=("stop $(elapsed "$t")s")

say "timings: ${timings[*]}; total $(elapsed "$t_total")s"
if grep -q '^not ok ' "$results"; then
	say "failed:"
	grep '^not ok ' "$results" | sed -e 's/^/  /'
fi
# every check of checks.txt must have reported once: a missing one is a failure; the counts
# go to make check's summary (tests/results.py)
TEST_STAGE=${TEST_STAGE:-vmtest-$release} /usr/bin/python3 "$repo/tests/results.py" vmtest \
	"$results" "$checks" || {
	failed=1
	exit 1
}
exit 0
