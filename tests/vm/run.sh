#!/bin/bash
# tests/vm/run.sh: isolate's system test in a real Debian guest under qemu (TCG), where
# systemd is PID 1, the cgroup tree is pure v2, AppArmor is on and journald logs: the things
# the development host lacks. Logins go through the guest's real sshd -> pam_systemd ->
# pam_isolate, from an ssh client on the host (qemu user networking, a free local port).
#
#   BUILD=build tests/vm/run.sh            the full test (make vmtest)
#   tests/vm/run.sh --smoke                resume the guest, ssh in as root, run a command,
#                                          stop: the infrastructure alone, without isolate
#   tests/vm/run.sh --base                 build the base image if it is not cached, and stop
#                                          (no qemu: needs no port and no lock of the test)
# Environment: VMTEST_RELEASE=bookworm|trixie|bookworm-selinux (default bookworm; releases.sh)
# is the guest's Debian release; VMTEST_KEEP=1 keeps the run directory (console log, layer)
# for a look; VMTEST_MIRROR overrides the Debian mirror for the base image.
#
# The base image (Debian packages only) is cached in tests/vm/cache/base-RELEASE-KEY, KEY
# being a hash of the release's package lists and build-base.sh. Beside it the booted state
# (booted-KEY2): the guest saved once right after it booted, which every run resumes instead
# of booting (below: the guest). Each run then unpacks its layer (a tar archive: the test's
# configs, the guest side of the test) over ssh. isolate reaches the guest as its Debian
# package: build-debs.sh builds it (and a higher version of it, for the upgrade in place) on
# the host meanwhile, and the first step installs it with dpkg. Every wait has a hard
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
	local p c
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
		for c in console-boot console; do
			[ -s "$run/$c.log" ] || continue
			say "---- guest $c, last 60 lines ----"
			tail -n 60 "$run/$c.log" | sed -e 's/\x1b\[[0-9;]*m//g'
			say "---- end of guest $c ----"
		done
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

# ---- the per-run layer: the test's files (isolate comes as a package, after resume) --------
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
fi
tar --owner=0 --group=0 --numeric-owner -C "$layer" -cf "$run/layer.tar" . ||
	die "tar of the layer failed"
timings+=("layer $(elapsed "$t")s")

# ---- the guest: resumed from its booted state -----------------------------------------------
# A run does not boot the guest: it resumes it from the booted state, the guest saved once
# per base image right after a boot reached sshd and settled (systemd's jobs done, root's
# manager started, nobody logged in): the 35-50 s of a boot under TCG saved at every run.
# The state is qemu's migration stream of the paused guest (RAM and devices) beside a qcow2
# overlay holding the disk as it was then; each run adds its own overlay over that one and
# lets qemu take the stream in (-incoming) on the same machine. Its key: qemu's version, the
# machine below and the code that makes it; it lives in the base image's folder and goes
# with it.
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') ||
	die "no free port"
# the major LSM: Debian's kernel starts AppArmor unless told otherwise (security=selinux;
# this kernel has no selinux=1 parameter); VMTEST_SELINUX_PERMISSIVE=1 boots permissive
lsm_cmdline=""
if [ "$(vmtest_lsm "$release")" = selinux ]; then
	lsm_cmdline=" security=selinux"
	[ "${VMTEST_SELINUX_PERMISSIVE:-0}" = 1 ] && lsm_cmdline="$lsm_cmdline enforcing=0"
fi
# machine: the guest's hardware and kernel, the same when the state is saved and resumed.
# TCG, not KVM: this host's /dev/kvm hangs a stock Debian kernel.
# -nodefaults: no floppy, CD-ROM, parallel port or VGA for the guest to probe at boot.
# vmgenid: a generation id qemu makes anew at every start, on which the guest's kernel
# reseeds its random generator when it is resumed (each run would draw the same otherwise).
machine=(-accel tcg,thread=multi -smp 2 -m 2G -no-reboot -nodefaults -display none
	-monitor none -kernel "$base/vmlinuz" -initrd "$base/initrd.img"
	-append "root=/dev/vda rw console=ttyS0 loglevel=4 fsck.mode=skip net.ifnames=0 systemd.show_status=1 panic=-1$lsm_cmdline"
	-device virtio-rng-pci -device vmgenid,guid=auto)

# start_qemu DISK CONSOLE ARGS...: qemu over the qcow2 DISK, its serial console into the file
# CONSOLE, its QMP socket at $run/qmp.sock and the guest's sshd at 127.0.0.1:$port
start_qemu() {
	local disk=$1 console=$2
	shift 2
	rm -f "$run/qmp.sock"
	qemu-system-x86_64 "${machine[@]}" -serial "file:$console" \
		-qmp "unix:$run/qmp.sock,server=on,wait=off" \
		-drive "file=$disk,if=virtio,format=qcow2,cache=unsafe" \
		-netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-:22" \
		-device virtio-net-pci,netdev=n0,romfile= "$@" </dev/null >"$run/qemu.log" 2>&1 &
	qemu_pid=$!
}

# qmp COMMAND [ARGUMENTS-JSON]: one QMP command to the running qemu; its answer on stdout,
# non-zero when qemu answers with an error or not within 10 s
qmp() {
	/usr/bin/python3 - "$run/qmp.sock" "$@" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
f = s.makefile("rw")
def ask(name, args):
    f.write(json.dumps({"execute": name, "arguments": args}) + "\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            return r
json.loads(f.readline())  # the greeting
ask("qmp_capabilities", {})
r = ask(sys.argv[2], json.loads(sys.argv[3]) if len(sys.argv) > 3 else {})
print(json.dumps(r.get("return", r.get("error"))))
sys.exit(1 if "error" in r else 0)
EOF
}

ssh_opts=(-F /dev/null -i "$base/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes
	-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
	-o ConnectTimeout=10 -o ServerAliveInterval=5 -o ServerAliveCountMax=6 -p "$port")
# vssh USER CMD...: one command in the guest, with a hard timeout
vssh() {
	local user=$1
	shift
	timeout "$SSH_TIMEOUT" ssh "${ssh_opts[@]}" "$user@127.0.0.1" "$@"
}
# sshd is up when the port speaks SSH (qemu accepts the TCP connection itself long before)
banner() {
	timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && head -c 7 <&3" 2>/dev/null
}
# wait_sshd SECONDS: until the guest's sshd answers; 1 when qemu ends first (the guest's
# kernel panicked: panic=-1 with -no-reboot), 2 when SECONDS pass
wait_sshd() {
	local deadline=$(($(date +%s) + $1))
	while [ "$(date +%s)" -lt "$deadline" ]; do
		if ! kill -0 "$qemu_pid" 2>/dev/null; then
			wait "$qemu_pid" 2>/dev/null
			qemu_pid=""
			return 1
		fi
		[ "$(banner)" = "SSH-2.0" ] && return 0
		sleep 0.5
	done
	say "the guest's sshd did not answer within $1 s of starting qemu"
	return 2
}

# make_booted: boots the base image (no layer, nothing of isolate), waits until the boot has
# settled and root's manager runs, then saves the paused guest into
# $booted and ends qemu. Under the cache's lock: one run makes it, the others wait for it.
make_booted() {
	local tmp=$base/booted.tmp out
	rm -rf "$tmp" "$base"/booted-????????????????
	mkdir "$tmp"
	qemu-img create -q -f qcow2 -F raw -b ../disk.raw "$tmp/disk.qcow2" ||
		die "qemu-img create over $base/disk.raw failed"
	# a boot under TCG panics now and then (seen: trixie's 6.12 in sched_clock_cpu, an int3
	# of the kernel's own code patching): a second one from the same disk
	start_qemu "$tmp/disk.qcow2" "$run/console-boot.log"
	wait_sshd "$BOOT_TIMEOUT"
	case $? in
	1)
		tail -n 30 "$run/console-boot.log" | sed -e 's/\x1b\[[0-9;]*m//g'
		say "the guest's kernel panicked booting (console above): booting it again"
		mv "$run/console-boot.log" "$run/console-boot-1.log"
		qemu-img create -q -f qcow2 -F raw -b ../disk.raw "$tmp/disk.qcow2" ||
			die "qemu-img create over $base/disk.raw failed"
		start_qemu "$tmp/disk.qcow2" "$run/console-boot.log"
		wait_sshd "$BOOT_TIMEOUT" || die "the guest did not boot to sshd, twice"
		;;
	2) die "the guest did not boot to sshd" ;;
	esac
	# root's manager, which logind keeps (the base's UserStopDelaySec): root's first login of
	# each run need not start it, seconds under TCG. Not the test users': a manager started
	# before the user's first login owns the user's keyring, which sshd_t may not search on
	# the SELinux guest (each user's first login starts theirs, as on a real host). Nobody is
	# logged in when the state is saved.
	out=$(vssh root 'systemctl is-system-running --wait; systemctl start user@0.service && sync')
	if [ "$out" != running ]; then
		vssh root 'systemctl --failed --no-legend' >&2
		die "the booted guest is '$out', not running (failed units above)"
	fi
	# the login's end (sshd, logind) settles before the guest is paused
	sleep 2
	qmp stop >/dev/null || die "qmp stop failed"
	qmp migrate "{\"uri\": \"exec:cat >'$tmp/state'\"}" >/dev/null || die "qmp migrate failed"
	for _ in $(seq 1 600); do
		out=$(qmp query-migrate) || die "qmp query-migrate failed"
		case $out in
		*'"completed"'*) break ;;
		*'"failed"'* | *'"cancelled"'*) die "saving the booted state failed: $out" ;;
		esac
		sleep 0.2
	done
	case $out in *'"completed"'*) ;; *) die "saving the booted state took over 120 s" ;; esac
	qmp quit >/dev/null
	wait "$qemu_pid" 2>/dev/null
	qemu_pid=""
	mv "$tmp" "$booted"
}

# get_booted [again]: $booted made if it is not there (again: made anew), under the cache's
# lock
get_booted() {
	exec 9>"$cache/.lock"
	flock -w 1800 9 || die "another vmtest holds $cache/.lock"
	[ "${1:-}" != again ] || rm -rf "$booted"
	if [ -f "$booted/state" ]; then
		booted_how=cached
	else
		say "booting the base image once to save its booted state in $booted"
		make_booted
		booted_how=made
	fi
	flock -u 9
}

# resume: qemu resumes the booted state over an overlay of this run's, until sshd answers;
# non-zero when the state does not come up
resume() {
	local out=""
	rm -f "$run/overlay.qcow2"
	qemu-img create -q -f qcow2 -F qcow2 -b "$booted/disk.qcow2" "$run/overlay.qcow2" ||
		die "qemu-img create over $booted/disk.qcow2 failed"
	start_qemu "$run/overlay.qcow2" "$run/console.log" -incoming "exec:cat '$booted/state'"
	# the guest was paused when it was saved: it stays paused once qemu has taken the state
	# in (qemu answers on QMP meanwhile), until it is told to go on
	for _ in $(seq 1 300); do
		kill -0 "$qemu_pid" 2>/dev/null || break
		out=$(qmp query-migrate 2>/dev/null)
		case $out in *'"completed"'* | *'"failed"'*) break ;; esac
		sleep 0.2
	done
	case $out in
	*'"completed"'*) ;;
	*)
		cat "$run/qemu.log"
		say "qemu did not take in $booted/state (query-migrate: ${out:-no answer})"
		return 1
		;;
	esac
	qmp cont >/dev/null || return 1
	wait_sshd 120
}

t=$(now)
# (the machine's paths without the folder of the base image: the cache may move)
booted=$base/booted-$({
	qemu-system-x86_64 --version | head -n 1
	printf '%s\n' "${machine[@]}" | sed -e "s|^$base/||"
	declare -f start_qemu make_booted
} | sha256sum | cut -c1-16)
get_booted
timings+=("booted state ($booted_how) $(elapsed "$t")s")

t=$(now)
if ! resume; then
	# a state that does not resume is made again, once
	stop_qemu
	say "the booted state $booted did not resume: making it again"
	get_booted again
	resume || die "the booted state just made does not resume"
fi
# One master connection as root carries every root command of the test (ssh -O,
# ControlPath): a new root login per command would cost seconds of sshd and PAM under TCG.
ctl=$run/root.ctl
ssh "${ssh_opts[@]}" -M -N -o ControlPath="$ctl" root@127.0.0.1 \
	</dev/null >>"$run/master.log" 2>&1 &
master_pid=$!
bg_pids+=("$master_pid")
for _ in $(seq 1 120); do
	ssh -o ControlPath="$ctl" -O check root@127.0.0.1 >/dev/null 2>&1 && break
	kill -0 "$master_pid" 2>/dev/null ||
		{ cat "$run/master.log"; die "ssh as root (the master connection) failed"; }
	sleep 0.5
done
# vroot CMD...: a command as root in the guest over the master connection, hard timeout
vroot() {
	timeout "$SSH_TIMEOUT" ssh "${ssh_opts[@]}" -o ControlPath="$ctl" -o ControlMaster=no \
		root@127.0.0.1 "$@"
}
# the guest's clock stood still since the save; then the layer, and its setup
vroot "date -s @$(date +%s.%N) >/dev/null" || die "setting the guest's clock failed"
if [ "$smoke" = 0 ]; then
	vroot 'tar -C / -xpf - --keep-directory-symlink --no-overwrite-dir &&
		/opt/isolate-vmtest/layer-setup.sh' <"$run/layer.tar" ||
		die "unpacking the layer in the guest failed"
fi
timings+=("resume to ssh $(elapsed "$t")s")

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
		dmesg | grep -q "crng reseeded due to virtual machine fork" && echo reseeded;
		cat /sys/kernel/security/apparmor/profiles >/dev/null 2>&1 && echo apparmor;
		[ "$(cat /sys/fs/selinux/enforce 2>/dev/null)" = 1 ] && echo selinux-enforcing') || true
	say "guest: $(echo "$out" | paste -sd' ')"
	lsm=$(vmtest_lsm "$release")
	case $lsm:$out in
	apparmor:*cgroup2fs*reseeded*apparmor*)
		echo "ok smoke - smoke: resumed and reseeded, ssh as root, cgroup v2, AppArmor" | record ;;
	selinux:*cgroup2fs*reseeded*selinux-enforcing*)
		echo "ok smoke - smoke: resumed and reseeded, ssh as root, cgroup v2, SELinux enforcing" | record ;;
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

total=$(elapsed "$t_total")
say "timings: ${timings[*]}; total ${total}s"
# the run's time, beside its counts in make check's summary (tests/results.py)
[ -z "${TEST_RESULTS:-}" ] || echo "${total} s, booted state $booted_how" \
	>"$TEST_RESULTS/${TEST_STAGE:-vmtest-$release}.note"
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
