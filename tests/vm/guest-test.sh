#!/bin/sh
# guest-test.sh: the guest side of tests/vm (installed as /opt/isolate-vmtest/guest-test.sh).
# run.sh calls one subcommand per step over ssh: as root (over one master connection) to
# set up a phase and to look at the system from outside the session, and as the test user
# (a real login through sshd -> pam_systemd -> pam_isolate) to look from inside.
# Every check prints "ok ID - WHAT" or "not ok ID - WHAT: why"; other lines are information.
# ID names the check in tests/vm/checks.txt, the fixed list of every check the run must
# report: one that does not report is a failure, and so is one whose value is empty (with).
# Every wait has a hard timeout. TCG is slow: few processes per check.
set -u

DIR=/opt/isolate-vmtest
STATE=/run/vmtest
TEST_USER=vmuser
TEST_UID=1001
CG=/sys/fs/cgroup
SLICE=$CG/user.slice/user-$TEST_UID.slice
V2_UNIT=isolate-vmtest-cg.service
V2_ROOT=$CG/system.slice/$V2_UNIT/isolate
# the caps of the vmtest policies (conf/*.conf)
MEMORY_MAX=67108864
PIDS_MAX=100
READ_BPS=1048576
WRITE_BPS=2097152
PROFILE=isolate-vmtest
# sshd's journal: the PAM session runs in sshd (OpenSSH 9.2, Debian 12) or in sshd-session,
# which logs under its own name (OpenSSH >= 9.8, Debian 13)
SSHD_LOG="-t sshd -t sshd-session"

# ok ID WHAT, notok ID WHAT
ok() { echo "ok $1 - $2"; }
notok() { echo "not ok $1 - $2"; }
# eq ID WHAT EXPECTED ACTUAL
eq() {
	if [ "$3" = "$4" ]; then ok "$1" "$2"; else notok "$1" "$2: expected '$3', got '$4'"; fi
}
# check ID WHAT CMD...: ok when CMD succeeds
check() {
	id=$1 what=$2
	shift 2
	if "$@"; then ok "$id" "$what"; else notok "$id" "$what"; fi
}
# with VALUE CHECK ID WHAT ...: runs the check (check, eq, with ...) when VALUE is set; when
# it is empty that check fails: a check never vanishes for want of a value
with() {
	with_v=$1
	shift
	if [ -n "$with_v" ]; then
		"$@"
		return
	fi
	while [ "$1" = with ]; do shift 2; done
	notok "$2" "$3: a value it needs is empty"
}
# wait_for SECONDS CMD...: polls CMD every half second until it succeeds or time is up
wait_for() {
	n=$(($1 * 2))
	shift
	while ! "$@"; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.5
	done
}
gone() { [ ! -e "$1" ]; }
dead() { ! kill -0 "$1" 2>/dev/null; }
# own_pidns PID: PID is in a pid namespace other than PID 1's
own_pidns() {
	own_ns=$(readlink "/proc/$1/ns/pid")
	[ -n "$own_ns" ] && [ "$own_ns" != "$(readlink /proc/1/ns/pid)" ]
}
first_line() { head -n 1 "$1" 2>/dev/null; }
vda_dev() { cat /sys/block/vda/dev; }
label_of() { tr -d '\0' <"/proc/$1/attr/current" 2>/dev/null; }
# the pid of the session's left-behind "sleep N" (run as the test user)
sleep_pid() { pgrep -u "$TEST_UID" -x -f "sleep $1" | head -n 1; }
save() { mkdir -p -m 0700 "$STATE" && echo "$2" >"$STATE/$1"; }
# buffered_write FILE: the seconds a buffered write of BUFFERED_MIB to FILE and a sync take
# (the sync waits for the kernel's writeback, which issues the writes); FILE is removed.
# 16 MiB: 8 s at write_bps = 2M; uncapped (root's, the baseline) about a second, more on a
# busy host
BUFFERED_MIB=16
buffered_write() {
	t0=$(date +%s.%N)
	dd if=/dev/zero of="$1" bs=1M count=$BUFFERED_MIB 2>/dev/null && sync
	t1=$(date +%s.%N)
	rm -f "$1"
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }'
}
# at least three quarters of what write_bps allows for BUFFERED_MIB: the cap bites (every
# byte of it goes through the throttle after dd starts, but for a first slice's worth)
BUFFERED_MIN_S=$((BUFFERED_MIB * 1048576 * 3 / (WRITE_BPS * 4)))
slower_than() { awk -v t="$1" -v m="$2" 'BEGIN { exit !(t >= m) }'; }
# tcp-fill (tests/tools/probe.c) in the v2 session: unread loopback TCP connections, filled
# until send says EAGAIN, held until logout; it stops at TCP_FILL_MIB queued (three times
# memory_max: far above what the cap allows, and under the guest's tcp_mem[2], about 180 MiB
# with 2G), after 60 s or at 1500 connections. Its output goes where root can read it.
TCP_FILL_MIB=$((3 * MEMORY_MAX / 1048576))
TCP_OUT=/home/$TEST_USER/isolate-tcp-fill.out
# what the kernel grants each connection over any limit: its first buffer on both ends (a
# loopback skb, 64 KiB of payload; about 75 KiB measured on v1, test_exhaustion.py)
TCP_PER_CONNECTION=131072
# the host's TCP memory in pages (/proc/net/sockstat "TCP: ... mem N")
tcp_pages() {
	awk '$1 == "TCP:" { for (i = 2; i < NF; i++) if ($i == "mem") print $(i + 1) }' \
		/proc/net/sockstat
}
# memory_stat CG KEY: KEY's value in CG/memory.stat
memory_stat() { awk -v k="$2" '$1 == k { print $2 }' "$1/memory.stat" 2>/dev/null; }
le() { [ "$1" -le "$2" ]; }
# tcp_freed CG PAGES: CG's sock under 1 MiB (or CG gone), the host's TCP memory <= PAGES
tcp_freed() {
	{ [ ! -d "$1" ] || [ "$(memory_stat "$1" sock)" -lt 1048576 ]; } &&
		[ "$(tcp_pages)" -le "$2" ]
}
load() { cat "$STATE/$1" 2>/dev/null; }

# user_sessions USER: USER's login sessions in logind, one id a line. Not the session that
# systemd >= 256 (Debian 13) opens for the user's own manager, user@UID.service (class
# manager, listed beside the logins while the manager runs, which the base image's
# logind.conf.d keeps after the last logout): it is no login.
user_sessions() {
	for us in $(loginctl list-sessions --no-legend | awk -v u="$1" '$3 == u { print $1 }'); do
		[ "$(loginctl show-session "$us" -p Class --value 2>/dev/null)" != user ] || echo "$us"
	done
}
no_user_session() { [ -z "$(user_sessions "$TEST_USER")" ]; }

# processes of the test user outside its systemd user manager (which lives on for
# UserStopDelaySec after the last session and is not part of any session)
strays() {
	for p in $(pgrep -u "$TEST_UID"); do
		grep -q "/user@$TEST_UID.service" "/proc/$p/cgroup" 2>/dev/null || echo "$p"
	done
}
no_strays() { [ -z "$(strays)" ]; }
show_strays() {
	for p in $(strays); do
		echo "  stray: pid $p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" \
			"cgroup $(cut -d: -f3 "/proc/$p/cgroup" 2>/dev/null)"
	done
}

# check_cgroup_caps DIR ID WHAT: the cgroup files of a user's cgroup hold the policy's caps;
# io.max the caps on the guest's disk (the whole disk, vda). Checks ID.memory.max,
# ID.memory.swap.max, ID.pids.max, ID.io.max.
check_cgroup_caps() {
	eq "$2.memory.max" "$3: memory.max" "$MEMORY_MAX" "$(first_line "$1/memory.max")"
	eq "$2.memory.swap.max" "$3: memory.swap.max" 0 "$(first_line "$1/memory.swap.max")"
	eq "$2.pids.max" "$3: pids.max" "$PIDS_MAX" "$(first_line "$1/pids.max")"
	want="$(vda_dev) rbps=$READ_BPS wbps=$WRITE_BPS riops=max wiops=max"
	got=$(grep "^$(vda_dev) " "$1/io.max" 2>/dev/null)
	eq "$2.io.max" "$3: io.max" "$want" "$got"
}

# reseeded ID: the guest was resumed from the booted state (run.sh), and its kernel reseeded
# its random generator then (qemu's vmgenid is new at every resume: "crng reseeded due to
# virtual machine fork"), so that no two runs draw the same keys and session ids
reseeded() {
	check "$1" "guest: resumed from the booted state, the kernel's random generator reseeded (vmgenid)" \
		sh -c "dmesg | grep -q 'crng reseeded due to virtual machine fork'"
}

# ---- phases run as root --------------------------------------------------------------------

# pre: what the boot (base image, booted state, layer) must have given
cmd_pre() {
	eq pre.pid1 "guest: systemd is PID 1" systemd "$(cat /proc/1/comm)"
	eq pre.cgroup2 "guest: cgroup v2 only" cgroup2fs "$(stat -fc %T $CG)"
	check pre.apparmor "guest: AppArmor profile $PROFILE loaded in enforce mode" \
		grep -qx "$PROFILE (enforce)" /sys/kernel/security/apparmor/profiles
	check pre.layer "layer: the test's files unpacked in the resumed guest, layer-setup.sh done" \
		test -f "$STATE/layer-done"
	reseeded pre.reseeded
	echo "# isolatectl: $(isolatectl --version 2>&1)"
	# for the test user's logins to compare their pid namespace with
	readlink /proc/1/ns/pid >"$DIR/host-pidns"
	chmod 0644 "$DIR/host-pidns"
	# the scope phase's user, made now and its manager (user@UID.service) started in the
	# background: its first login, a minute from now, need not wait for the manager
	# (seconds under TCG; the other users' first logins still start theirs)
	add_user "$SCOPE_USER" "$SCOPE_UID"
	systemctl start --no-block "user@$SCOPE_UID.service"
	# the README's Debian way: pam-auth-update --enable isolate. It stays in force for one
	# login (user-sandboxed), then pam-last sets the stack the rest of the test runs with.
	export DEBIAN_FRONTEND=noninteractive
	cp /etc/pam.d/common-session "$STATE/common-session.orig"
	pam-auth-update --enable isolate
	order=$(grep -v '^#' /etc/pam.d/common-session | grep -o 'pam_systemd.so\|pam_isolate.so' |
		paste -sd' ')
	eq pre.pam-auth-update-order \
		"PAM: pam-auth-update --enable isolate puts pam_isolate.so after pam_systemd.so" \
		"pam_systemd.so pam_isolate.so" "$order"
	out=$(isolatectl check 2>&1)
	rc=$?
	echo "$out" | sed -e 's/^/# isolatectl check after pam-auth-update: /'
	if [ "$rc" = 0 ] && ! echo "$out" | grep -qi 'warning\|error'; then
		ok pre.pam-auth-update-check \
			"PAM: isolatectl check accepts the stack pam-auth-update --enable isolate made"
	else
		notok pre.pam-auth-update-check \
			"PAM: isolatectl check (exit $rc) warns about the stack pam-auth-update --enable isolate made"
	fi
}

# pam-last: pam-auth-update's profile off again, pam_isolate.so last in sshd's session stack
# (as the README says): the stack of the test until the package phase (deb-enable)
cmd_pam_last() {
	DEBIAN_FRONTEND=noninteractive pam-auth-update --disable isolate
	check pam-last.restored "PAM: pam-auth-update --disable isolate restores common-session" \
		cmp -s /etc/pam.d/common-session "$STATE/common-session.orig"
	echo "session required pam_isolate.so" >>/etc/pam.d/sshd
	last=$(grep -v '^#' /etc/pam.d/sshd | awk '$1 == "session" {
		for (i = 2; i <= NF; i++) if ($i ~ /\.so$/) { m = $i; break } } END { print m }')
	eq pam-last.last "PAM: pam_isolate.so is the last session module of /etc/pam.d/sshd" \
		pam_isolate.so "$last"
}

# add_user NAME UID: a user the host logs in as with the test user's key
add_user() {
	id "$1" >/dev/null 2>&1 && return 0
	useradd -m -u "$2" -U -s /bin/bash "$1"
	install -d -m 0700 -o "$1" -g "$1" "/home/$1/.ssh"
	install -m 0600 -o "$1" -g "$1" "/home/$TEST_USER/.ssh/authorized_keys" "/home/$1/.ssh/"
}

# use NAME: /etc/isolate.conf := conf/NAME.conf; isolatectl check must accept config + stack
cmd_use() {
	install -m 0644 -o root -g root "$DIR/$1.conf" /etc/isolate.conf
	if [ "$1" = v2 ]; then
		# a cgroup tree of isolate's own: a unit that delegates its subtree (cg-delegate.sh)
		systemctl is-active --quiet "$V2_UNIT" ||
			systemd-run --quiet --unit="$V2_UNIT" -p Delegate=yes "$DIR/cg-delegate.sh"
		check use.v2.delegated "v2: delegated cgroup $(dirname $V2_ROOT) offers memory, io, pids" \
			wait_for 20 sh -c "grep -qw memory $(dirname $V2_ROOT)/cgroup.subtree_control &&
				grep -qw io $(dirname $V2_ROOT)/cgroup.subtree_control &&
				grep -qw pids $(dirname $V2_ROOT)/cgroup.subtree_control"
	fi
	if [ "$1" = logins ]; then
		# su's stack (su-l includes it): pam_isolate.so last, after common-session's
		# pam_systemd; logins-after takes it out again
		grep -qx 'session required pam_isolate.so' /etc/pam.d/su ||
			echo "session required pam_isolate.so" >>/etc/pam.d/su
		# another user, for the login that must not land in the test user's sandbox
		add_user "$OTHER_USER" "$OTHER_UID"
	fi
	out=$(isolatectl check 2>&1)
	rc=$?
	echo "$out" | sed -e 's/^/# isolatectl check: /'
	if [ "$rc" = 0 ] && ! echo "$out" | grep -qi 'warning\|error'; then
		ok "use.$1.check" "$1: isolatectl check accepts the config and the PAM stack"
	else
		notok "use.$1.check" "$1: isolatectl check (exit $rc) complains"
	fi
	# the host's TCP memory before the v2 session's tcp-fill (v2-logout.tcp-freed)
	[ "$1" != v2 ] || save v2.tcp-before "$(tcp_pages)"
	journalctl --show-cursor -n 0 -q 2>/dev/null | sed -n 's/^-- cursor: //p' >"$STATE/cursor-$1" ||
		true
}

# live-systemd: the test user's session (user-session systemd) is at its checkpoint
cmd_live_systemd() {
	s=$(user_sessions "$TEST_USER")
	if [ -n "$s" ] && [ "$(echo "$s" | wc -l)" = 1 ]; then
		ok systemd.logind "systemd: logind lists session $s of $TEST_USER"
	else
		notok systemd.logind "systemd: logind lists one session of $TEST_USER (got '$s')"
		s=""
	fi
	leader="" scope=""
	if [ -n "$s" ]; then
		leader=$(loginctl show-session "$s" -p Leader --value)
		scope=$(loginctl show-session "$s" -p Scope --value)
	fi
	save systemd.session "$s"
	save systemd.scope "$scope"
	save systemd.leader "$leader"
	with "$s" eq systemd.active "systemd: session $s is active" active \
		"$(loginctl show-session "$s" -p State --value)"

	# caps on user-UID.slice, as systemd reports them and as the cgroup files hold them
	eq systemd.MemoryMax "systemd: MemoryMax of user-$TEST_UID.slice" "$MEMORY_MAX" \
		"$(systemctl show "user-$TEST_UID.slice" -p MemoryMax --value)"
	eq systemd.MemorySwapMax "systemd: MemorySwapMax of user-$TEST_UID.slice" 0 \
		"$(systemctl show "user-$TEST_UID.slice" -p MemorySwapMax --value)"
	eq systemd.TasksMax "systemd: TasksMax of user-$TEST_UID.slice" "$PIDS_MAX" \
		"$(systemctl show "user-$TEST_UID.slice" -p TasksMax --value)"
	for prop in IOReadBandwidthMax:$READ_BPS IOWriteBandwidthMax:$WRITE_BPS; do
		name=${prop%%:*} want=${prop##*:}
		v=$(systemctl show "user-$TEST_UID.slice" -p "$name" --value)
		echo "# $name=$v"
		# "DEVICE BYTES": DEVICE any node of the whole disk vda
		dev=${v% *} bytes=${v##* }
		majmin=$(stat -Lc '%t %T' "$dev" 2>/dev/null | { read -r a b && printf '%d:%d' "0x$a" "0x$b"; })
		eq "systemd.$name" "systemd: $name of user-$TEST_UID.slice (disk vda)" \
			"$(vda_dev) $want" "$majmin $bytes"
	done
	check_cgroup_caps "$SLICE" systemd.slice "systemd: $SLICE"

	# the session stays in its scope: the sshd monitor, and the shell's leftover
	with "$leader" with "$scope" eq systemd.monitor-in-scope \
		"systemd: the sshd monitor (pid $leader) stays in $scope" \
		"0::/user.slice/user-$TEST_UID.slice/$scope" "$(cat "/proc/$leader/cgroup" 2>/dev/null)"
	p=$(sleep_pid 1001)
	save systemd.sleep "$p"
	[ -n "$p" ] || echo "# the session's background 'sleep 1001' does not run"
	with "$p" with "$scope" eq systemd.sleep-in-scope \
		"systemd: the session's processes (sleep 1001, pid $p) are in $scope" \
		"0::/user.slice/user-$TEST_UID.slice/$scope" "$(cat "/proc/$p/cgroup" 2>/dev/null)"
	with "$p" with "$s" check systemd.session-status \
		"systemd: loginctl session-status $s lists the session's processes" \
		sh -c "loginctl session-status $s --no-pager -l 2>/dev/null | grep -q '[^0-9]$p '"
	with "$p" check systemd.sleep-pidns \
		"systemd: the session's processes are in a pid namespace of their own" \
		own_pidns "$p"
	with "$p" eq systemd.sleep-label "AppArmor: the session's processes run under $PROFILE" \
		"$PROFILE (enforce)" "$(label_of "$p")"
	with "$leader" eq systemd.monitor-label \
		"AppArmor: the sshd monitor (pid $leader) is not confined by it" unconfined \
		"$(label_of "$leader")"
	check systemd.apparmor-logged \
		"AppArmor: the kernel logged the denied read of /etc/hostname by $PROFILE" \
		sh -c "dmesg | grep 'apparmor=\"DENIED\"' | grep 'profile=\"$PROFILE\"' |
			grep -q 'name=\"/etc/hostname\"'"
	# the memory hog the session ran was killed by the OOM killer of the user's slice
	kills=$(awk '$1 == "oom_kill" { print $2 }' "$SLICE/memory.events" 2>/dev/null)
	if [ "${kills:-0}" -ge 1 ]; then
		ok systemd.oom-counted "systemd: memory.events of user-$TEST_UID.slice counts the OOM kill ($kills)"
	else
		notok systemd.oom-counted "systemd: no OOM kill in $SLICE/memory.events (oom_kill '${kills:-}')"
	fi
}

# after-systemd: the test user logged out
cmd_after_systemd() {
	s=$(load systemd.session) scope=$(load systemd.scope) leader=$(load systemd.leader)
	p=$(load systemd.sleep)
	[ -n "$s" ] || echo "# no session recorded by live-systemd"
	with "$s" check systemd-logout.session "systemd logout: logind shows session $s closed (gone)" \
		wait_for 30 sh -c "! loginctl show-session $s >/dev/null 2>&1"
	with "$scope" check systemd-logout.scope "systemd logout: $scope is gone" \
		wait_for 30 sh -c "[ ! -d $SLICE/$scope ] &&
			[ \"\$(systemctl show $scope -p ActiveState --value)\" != active ]"
	with "$p" check systemd-logout.sleep \
		"systemd logout: the session's 'nohup sleep 1001 &' was killed" wait_for 20 dead "$p"
	with "$leader" check systemd-logout.monitor "systemd logout: the sshd monitor exited" \
		wait_for 20 dead "$leader"
	# pam_systemd closed the login over the system bus from inside the sandbox
	# (system_bus = deny hides the bus from the user only)
	released=$(journalctl -q --no-pager $SSHD_LOG 2>/dev/null | grep -c 'pam_systemd.*Failed to release session')
	eq systemd-logout.release "systemd logout: pam_systemd released the session over the bus (no 'Failed to release session')" \
		0 "$released"
	if wait_for 20 no_strays; then
		ok systemd-logout.strays "systemd logout: no process of $TEST_USER is left (but its user manager)"
	else
		notok systemd-logout.strays "systemd logout: processes of $TEST_USER left"
		show_strays
	fi
	why_checks_systemd
}

# live-v2: the session (user-session v2) is at its checkpoint, on isolate's own cgroup tree
cmd_live_v2() {
	u=$V2_ROOT/user-$TEST_UID
	check_cgroup_caps "$u" v2.user "v2: $u"
	leaves=$(ls -d "$u"/session-* 2>/dev/null)
	if [ -n "$leaves" ] && [ "$(echo "$leaves" | wc -l)" = 1 ]; then
		ok v2.leaf "v2: the session's leaf $leaves exists"
	else
		notok v2.leaf "v2: one session leaf under $u (got '$leaves')"
		leaves=""
	fi
	save v2.leaf "$leaves"
	p=$(sleep_pid 1002)
	save v2.sleep "$p"
	[ -n "$p" ] || echo "# the session's background 'sleep 1002' does not run"
	with "$leaves" with "$p" eq v2.sleep-in-leaf \
		"v2: the session's processes (sleep 1002, pid $p) are in the leaf" \
		"0::${leaves#$CG}" "$(cat "/proc/$p/cgroup" 2>/dev/null)"
	s=$(user_sessions "$TEST_USER")
	leader=""
	[ -z "$s" ] || leader=$(loginctl show-session "$s" -p Leader --value 2>/dev/null)
	save v2.leader "$leader"
	with "$leaves" with "$leader" check v2.monitor-in-leaf \
		"v2: the sshd monitor (pid $leader) is in the leaf" \
		grep -qx "$leader" "$leaves/cgroup.procs"
	# the session's tcp-fills. small: 16 MiB queued and held, which the user's memory.stat
	# sock must count (socket memory is charged). big: three times memory_max; it fills the
	# cgroup to memory_max, where a socket's charge in the sender's context calls the
	# cgroup's OOM killer: the probe is OOM-killed, or stops by itself with its bytes
	# queued within memory_max but for the first buffer the kernel grants each connection
	# on both ends over any limit (TCP_PER_CONNECTION)
	for g in $(pgrep -u "$TEST_UID" -f tcp-fill-gate); do echo 1000 >"/proc/$g/oom_score_adj"; done
	sock0=$(memory_stat "$u" sock)
	touch "$TCP_OUT.small.go"
	wait_for 30 grep -q '^probe tcp-fill:' "$TCP_OUT.small"
	small=$(grep -m 1 '^probe tcp-fill:' "$TCP_OUT.small" 2>/dev/null)
	squeued=$(echo "$small" | sed -n 's/.* connections, \([0-9]*\) bytes queued .*/\1/p')
	# memory.stat is flushed every 2 s: its sock up to 5 s later
	sock_rose() { le $((${sock0:-0} + ${squeued:-0} / 2)) "$(memory_stat "$u" sock)"; }
	[ -z "$squeued" ] || wait_for 5 sock_rose
	sock=$(memory_stat "$u" sock)
	echo "# small: $small; sock $sock0 -> $sock"
	with "$squeued" with "$sock" check v2.tcp-sock \
		"v2: the user's memory.stat sock rose from $sock0 to $sock with $squeued bytes queued in unread connections held: socket memory is charged" \
		le $((${sock0:-0} + ${squeued:-0} / 2)) "${sock:-0}"
	kills0=$(awk '$1 == "oom_kill" { print $2 }' "$u/memory.events" 2>/dev/null)
	touch "$TCP_OUT.big.go"
	tcp_big_ended() {
		grep -q '^probe tcp-fill:' "$TCP_OUT.big" ||
			[ "$(awk '$1 == "oom_kill" { print $2 }' "$u/memory.events")" -gt "${kills0:-0}" ]
	}
	wait_for 90 tcp_big_ended
	sleep 1
	kills=$(awk '$1 == "oom_kill" { print $2 }' "$u/memory.events" 2>/dev/null)
	big=$(grep -m 1 '^probe tcp-fill:' "$TCP_OUT.big" 2>/dev/null)
	echo "# big: ${big:-no line}; oom_kill $kills0 -> $kills; memory.peak $(first_line "$u/memory.peak");" \
		"host TCP memory $(load v2.tcp-before) -> $(tcp_pages) pages, tcp_mem $(cat /proc/sys/net/ipv4/tcp_mem)"
	n=$(echo "$big" | sed -n 's/^probe tcp-fill: \([0-9]*\) connections, .*/\1/p')
	queued=$(echo "$big" | sed -n 's/.* connections, \([0-9]*\) bytes queued .*/\1/p')
	allowed=$((MEMORY_MAX + ${n:-0} * TCP_PER_CONNECTION))
	if [ -n "$queued" ] && [ "$queued" -le "$allowed" ]; then
		ok v2.tcp-fill "v2: $queued bytes queued in $n unread loopback connections stay within memory_max = 64M + $n x 128 KiB"
	elif [ -z "$big" ] && [ "${kills:-0}" -gt "${kills0:-0}" ]; then
		ok v2.tcp-fill "v2: unread loopback connections filling toward $TCP_FILL_MIB MiB are OOM-killed at memory_max = 64M (oom_kill $kills0 -> $kills)"
	else
		notok v2.tcp-fill "v2: unread loopback connections under memory_max = 64M: '${big:-no line}', oom_kill $kills0 -> $kills"
	fi
	# the session's throttled write (v2.buffered-write) means something only if the same
	# write outside any cap is faster than the bound it was held to
	t=$(buffered_write /root/isolate-buffered)
	if ! slower_than "$t" "$BUFFERED_MIN_S"; then
		ok v2.buffered-write-baseline "v2: root's buffered $BUFFERED_MIB MiB write + sync, uncapped, takes ${t}s (< ${BUFFERED_MIN_S}s)"
	else
		notok v2.buffered-write-baseline "v2: root's uncapped buffered $BUFFERED_MIB MiB write + sync takes ${t}s, not under ${BUFFERED_MIN_S}s: the capped one proves nothing"
	fi
}

# after-v2: the test user logged out of the v2 session
cmd_after_v2() {
	leaf=$(load v2.leaf) p=$(load v2.sleep) leader=$(load v2.leader)
	[ -n "$leaf" ] || echo "# no leaf recorded by live-v2"
	with "$leaf" check v2-logout.leaf "v2 logout: the session's leaf is removed" \
		wait_for 30 gone "$leaf"
	with "$p" check v2-logout.sleep "v2 logout: the session's 'nohup sleep 1002 &' was killed" \
		wait_for 20 dead "$p"
	with "$leader" check v2-logout.monitor "v2 logout: the sshd monitor exited" \
		wait_for 20 dead "$leader"
	if wait_for 20 no_strays; then
		ok v2-logout.strays "v2 logout: no process of $TEST_USER is left (but its user manager)"
	else
		notok v2-logout.strays "v2 logout: processes of $TEST_USER left"
		show_strays
	fi
	eq v2-logout.inits "v2 logout: no session init left in $V2_ROOT/supervisor" "" \
		"$(cat "$V2_ROOT/supervisor/cgroup.procs" 2>/dev/null)"
	# the tcp-fill's socket memory went with the session: the user's cgroup's sock under
	# 1 MiB (or the cgroup gone), the host's TCP memory within 16 MiB of before the login
	u=$V2_ROOT/user-$TEST_UID before=$(load v2.tcp-before)
	with "$before" check v2-logout.tcp-freed \
		"v2 logout: the session's socket memory is freed (sock of user-$TEST_UID, host TCP memory back to $before pages + 4096)" \
		wait_for 30 tcp_freed "$u" $((${before:-0} + 4096))
	echo "# after logout: sock of user-$TEST_UID $(memory_stat "$u" sock), host TCP memory $(tcp_pages) pages"
	rm -f "$TCP_OUT"*
}

# after-refused: the login refused for lsm_required left nothing behind
cmd_after_refused() {
	if wait_for 20 no_strays; then
		ok refused.strays "refused login: no process of $TEST_USER is left"
	else
		notok refused.strays "refused login: processes of $TEST_USER left"
		show_strays
	fi
	check refused.logind "refused login: logind has no login session of $TEST_USER" \
		wait_for 20 no_user_session
}

# journal: the accepted and the refused logins, with their ISOLATE_* fields
cmd_journal() {
	entries=$(journalctl --no-pager -q -o export "ISOLATE_USER=$TEST_USER" 2>/dev/null |
		awk '/^ISOLATE_/ { line = line " " $0 } /^$/ { if (line != "") print substr(line, 2); line = "" }
			END { if (line != "") print substr(line, 2) }')
	echo "$entries" | sed -e 's/^/# journal: /'
	confined=$(echo "$entries" | grep -c 'ISOLATE_OUTCOME=confined')
	accepted=$(echo "$entries" | grep 'ISOLATE_OUTCOME=confined' | grep 'ISOLATE_SERVICE=sshd' |
		grep 'ISOLATE_RHOST=10.0.2.2' | grep 'ISOLATE_POLICY=vmtest ' |
		grep 'ISOLATE_SESSION=[^- ]' | grep -c 'ISOLATE_DURATION_[MU]S=[0-9]')
	if [ "$accepted" -ge 2 ]; then
		ok journal.accepted "journal: both accepted logins logged with USER, SERVICE, RHOST, POLICY, SESSION, OUTCOME=confined, DURATION"
	else
		notok journal.accepted "journal: $accepted of 2 accepted logins logged with all ISOLATE_* fields ($confined with OUTCOME=confined)"
	fi
	exempt=$(journalctl --no-pager -q -o export ISOLATE_USER=vmexempt 2>/dev/null |
		grep -c '^ISOLATE_OUTCOME=exempt$')
	if [ "$exempt" -ge 1 ]; then
		ok journal.exempt "journal: the exempt user's login logged with ISOLATE_OUTCOME=exempt"
	else
		notok journal.exempt "journal: no ISOLATE_OUTCOME=exempt entry for the exempt user's login"
	fi
	# refused because of the profile, not for any other reason
	refused=$(echo "$entries" | grep 'ISOLATE_OUTCOME=denied' | grep 'ISOLATE_SERVICE=sshd' |
		grep 'ISOLATE_RHOST=10.0.2.2' | grep 'ISOLATE_POLICY=vmtest-missing' |
		grep -c 'ISOLATE_REASON=.*isolate-vmtest-not-loaded')
	if [ "$refused" -ge 1 ]; then
		ok journal.refused "journal: the refused login logged with OUTCOME=denied, its policy, the missing profile as reason"
	else
		notok journal.refused "journal: no ISOLATE_OUTCOME=denied entry naming the missing profile for the refused login"
		echo "# sshd's log of it:"
		journalctl --no-pager -q $SSHD_LOG -n 15 2>/dev/null | sed -e 's/^/#   /'
	fi
	# the events' MESSAGE_IDs (client/events.h, fixed for good): the module's entry finds
	# each login once, under the event's id (policy vmtest is login-scope: one session id
	# per login; the scope phase's user-scope logins share theirs)
	by_id=$(journalctl --no-pager -q -o export MESSAGE_ID=dcab18628f9f4e2d97f1604fd0902a2e \
		"ISOLATE_USER=$TEST_USER" 2>/dev/null |
		awk '/^ISOLATE_/ { line = line " " $0 } /^$/ { if (line != "") print substr(line, 2); line = "" }
			END { if (line != "") print substr(line, 2) }')
	echo "$by_id" | sed -e 's/^/# MESSAGE_ID=confined: /'
	confined=$(echo "$by_id" | grep 'ISOLATE_OUTCOME=confined' | grep 'ISOLATE_SERVICE=sshd' |
		grep 'ISOLATE_POLICY=vmtest ' | grep -c 'ISOLATE_SESSION=[0-9a-f]')
	twice=$(echo "$by_id" | grep 'ISOLATE_POLICY=vmtest ' | grep -o 'ISOLATE_SESSION=[0-9a-f]*' |
		sort | uniq -d | wc -l)
	if [ "$confined" -ge 2 ] && [ "$twice" -eq 0 ]; then
		ok journal.message-id.confined "journal: journalctl MESSAGE_ID=<confined> finds both accepted logins, each once"
	else
		notok journal.message-id.confined "journal: MESSAGE_ID=<confined> found $confined of 2 accepted logins ($twice session ids twice)"
	fi
	denied=$(journalctl --no-pager -q -o export MESSAGE_ID=7716ee1286b54c649d77a6c78c7fb3ec \
		"ISOLATE_USER=$TEST_USER" ISOLATE_POLICY=vmtest-missing 2>/dev/null |
		grep -c '^ISOLATE_REASON=.*isolate-vmtest-not-loaded')
	if [ "$denied" -eq 1 ]; then
		ok journal.message-id.denied "journal: journalctl MESSAGE_ID=<denied> finds the refused login, once"
	else
		notok journal.message-id.denied "journal: MESSAGE_ID=<denied> found $denied entries for the refused login (want 1)"
	fi
}

# ---- phase scope: a user-scope sandbox under systemd (conf/systemd.conf, user vmscope) ------

SCOPE_TMUX_SLEEP=1004
SCOPE_SLEEP=1005
# the scope phase's user, not the test user: the scope phase runs beside the systemd phase
# (host-steps.sh), and its sandbox lingers on (vmshell's linger, SCOPE_LINGER_S) while the
# logins phase runs as the test user, whose checks want no other sandbox of theirs;
# scope-expired looks after that. The scope-* steps run as for the test user with these in
# its place (scope_user).
SCOPE_USER=vmscope
SCOPE_UID=1004
SCOPE_LINGER_S=30
scope_user() {
	TEST_USER=$SCOPE_USER TEST_UID=$SCOPE_UID
	SLICE=$CG/user.slice/user-$SCOPE_UID.slice
}
# json_field KEY: KEY's value in the test user's line of `isolatectl list --json`
json_field() {
	isolatectl list --json 2>/dev/null | grep "\"user\": \"$TEST_USER\"" | head -n 1 |
		sed -n "s/.*\"$1\": \"*\([^\",}]*\)\"*[,}].*/\1/p"
}
# tmux_server: the pid of the test user's tmux server (it names itself "tmux: server")
tmux_server() { pgrep -u "$TEST_UID" -x 'tmux: server' | head -n 1; }
# (check sets id: the sandbox's id and init are sb_id and sb_init)
# unit_of PID: the last component of PID's cgroup
unit_of() { sed -n 's|^0::.*/||p' "/proc/$1/cgroup" 2>/dev/null; }

# scope-lingers: the first login of the test user built the sandbox, started tmux and logged
# out: the sandbox lingers, its init in a unit of ours under the user's slice and caps
cmd_scope_lingers() {
	scope_user
	sb_id=$(json_field id) sb_init=$(json_field init_pid)
	save scope.id "$sb_id"
	save scope.init "$sb_init"
	echo "# sandbox $sb_id, init $sb_init: $(isolatectl list 2>&1 | grep "$TEST_USER")"
	with "$sb_id" eq scope-lingers.logins "scope: isolatectl list shows the sandbox with 0 logins" \
		0 "$(json_field logins)"
	with "$sb_id" eq scope-lingers.lingering "scope: isolatectl list shows the sandbox lingering" \
		true "$(json_field lingering)"
	with "$sb_init" with "$sb_id" eq scope-lingers.init-unit \
		"scope: the init (pid $sb_init) lives in isolate-$sb_id.scope under user-$TEST_UID.slice" \
		"0::/user.slice/user-$TEST_UID.slice/isolate-$sb_id.scope" \
		"$(cat "/proc/$sb_init/cgroup" 2>/dev/null)"
	with "$sb_id" eq scope-lingers.unit-active "scope: systemd has isolate-$sb_id.scope active" \
		active "$(systemctl show "isolate-$sb_id.scope" -p ActiveState --value)"
	with "$sb_id" eq scope-lingers.unit-slice "scope: isolate-$sb_id.scope is in user-$TEST_UID.slice" \
		"user-$TEST_UID.slice" "$(systemctl show "isolate-$sb_id.scope" -p Slice --value)"
	eq scope-lingers.MemoryMax "scope: MemoryMax of user-$TEST_UID.slice" "$MEMORY_MAX" \
		"$(systemctl show "user-$TEST_UID.slice" -p MemoryMax --value)"
	t=$(tmux_server)
	save scope.tmux "$t"
	save scope.builder "$(unit_of "$t")"
	echo "# tmux server $t in $(unit_of "$t")"
	with "$t" with "$sb_init" eq scope-lingers.tmux \
		"scope: the tmux server (pid $t) the first login started outlives it, in the sandbox" \
		"$(readlink "/proc/$sb_init/ns/pid")" "$(readlink "/proc/$t/ns/pid" 2>/dev/null)"
}

# scope-terminate: the second login (rejoined, left a sleep behind) logged out too. logind
# stopping the first login's session-N.scope (what it does at logout with
# KillUserProcesses=yes; the tmux server is in it) ends what that login started, not the
# sandbox or the other login's processes. (loginctl terminate-session does nothing to a
# session that is already closing, as this one is since its logout.)
cmd_scope_terminate() {
	scope_user
	builder=$(load scope.builder) sb_init=$(load scope.init) sb_id=$(load scope.id)
	t=$(load scope.tmux) p=$(sleep_pid $SCOPE_SLEEP)
	echo "# stopping $builder as logind would; init $sb_init, the second login's sleep $p"
	with "$builder" check scope-terminate.stop "scope: systemctl stop $builder succeeds" \
		systemctl stop "$builder"
	with "$t" check scope-terminate.tmux-gone \
		"scope: the first login's processes (tmux, in $builder) end with its scope" \
		wait_for 20 dead "$t"
	[ -z "$t" ] || ! kill -0 "$t" 2>/dev/null ||
		echo "# tmux $t: $(ps -o stat=,ppid=,comm= -p "$t") in $(unit_of "$t")"
	with "$sb_init" check scope-terminate.init-alive \
		"scope: the sandbox's init (pid $sb_init) outlives the scope of the login that built it" \
		kill -0 "$sb_init"
	with "$p" check scope-terminate.sleep-alive \
		"scope: the second login's sleep (pid $p) still runs" kill -0 "$p"
	with "$sb_id" eq scope-terminate.unit-active "scope: isolate-$sb_id.scope is still active" \
		active "$(systemctl show "isolate-$sb_id.scope" -p ActiveState --value)"
	save scope.sleep "$p"
}

# scope-expired: the linger (conf/systemd.conf's vmshell) ran out: nothing of the sandbox is
# left. The logins phase ran meanwhile (host-steps.sh), so the init's end is not watched here
# as it happens: the init's own journal lines date the linger (the timer it set at the last
# logout, and its firing), and what is left is looked at afterwards.
cmd_scope_expired() {
	scope_user
	sb_init=$(load scope.init) sb_id=$(load scope.id) p=$(load scope.sleep)
	with "$sb_init" check scope-expired.init "scope: the init ends when the linger expires" \
		wait_for 90 dead "$sb_init"
	# the last "last login ended" (the second login's logout) and the expiry, in seconds
	# since the epoch, as journald received them from the init's syslog
	cursor=$(load cursor-systemd)
	lines=$(journalctl -q --no-pager -o short-unix -t isolate-init \
		${cursor:+--after-cursor="$cursor"} 2>/dev/null | grep "session $sb_id: ")
	echo "$lines" | sed -e '/^$/d' -e 's/^/# journal: /'
	ended=$(echo "$lines" | awk '/: last login ended; lingering/ { t = $1 } END { print t }')
	expired=$(echo "$lines" | awk '/: linger expired/ { print $1; exit }')
	lingered=$(awk -v a="$ended" -v b="$expired" 'BEGIN { if (a != "" && b != "") printf "%.1f", b - a }')
	with "$sb_id" with "$lingered" check scope-expired.linger \
		"scope: the sandbox outlived its last login for its linger (${SCOPE_LINGER_S}s) and no longer: expired ${lingered}s after it" \
		awk -v t="$lingered" -v l="$SCOPE_LINGER_S" 'BEGIN { exit !(t >= l - 1 && t <= l + 30) }'
	with "$p" check scope-expired.sleep "scope: the sandbox's last process was killed" \
		wait_for 20 dead "$p"
	with "$sb_id" check scope-expired.unit "scope: systemd removed isolate-$sb_id.scope" \
		wait_for 20 sh -c "[ \"\$(systemctl show isolate-$sb_id.scope -p ActiveState --value)\" != active ] &&
			[ ! -d $SLICE/isolate-$sb_id.scope ]"
	check scope-expired.registry "scope: isolatectl list shows nothing of $TEST_USER" \
		wait_for 20 sh -c "! isolatectl list 2>/dev/null | grep -q '^$TEST_USER '"
	if wait_for 20 no_strays; then
		ok scope-expired.strays "scope: no process of $TEST_USER is left (but its user manager)"
	else
		notok scope-expired.strays "scope: processes of $TEST_USER left"
		show_strays
	fi
}

# ---- phase logins: who may join a user-scope sandbox (conf/logins.conf) ---------------------

OTHER_USER=vmother
OTHER_UID=1003
LOGINS_SLEEP=1031
LOOSE_SLEEP=1033
LOOSE_MEMORY_MAX=134217728
LOOSE_PIDS_MAX=200
SESSIONS=/run/isolate/sessions

# su_probe N SU-ARGS...: runs SU-ARGS -c "echo SU-RAN; exec sleep N" from where this step
# (su_n: wait_for's n is global)
# runs (root's ssh session, user-0.slice), and looks from outside at the command if it ran:
# SU_RAN (1 or 0), SU_CG (its cgroup as the host sees it), SU_NS (its pid namespace),
# SU_RC (su's exit status), SU_LOG (what isolate logged meanwhile). su's output is shown.
su_probe() {
	su_n=$1
	shift
	cursor=$(journalctl --show-cursor -n 0 -q 2>/dev/null | sed -n 's/^-- cursor: //p')
	out=$STATE/su-$su_n.out
	rm -f "$out" "$out.rc"
	# (su's status into a file: an exited child stays a zombie, which kill -0 still finds)
	# (bounded: a su that hangs is killed after 25 s, and reported so)
	{ timeout -k 3 25 "$@" -c "echo SU-RAN; exec sleep $su_n" </dev/null; echo $? >"$out.rc"; } \
		>"$out" 2>&1 &
	spid=$!
	wait_for 20 sh -c "pgrep -u $TEST_UID -x -f 'sleep $su_n' >/dev/null || [ -s $out.rc ]"
	p=$(pgrep -u "$TEST_UID" -x -f "sleep $su_n" | head -n 1)
	SU_CG="" SU_NS="" SU_RAN=0
	if [ -n "$p" ]; then
		SU_CG=$(sed -n 's/^0:://p' "/proc/$p/cgroup" 2>/dev/null)
		SU_NS=$(readlink "/proc/$p/ns/pid" 2>/dev/null)
		kill "$p"
	fi
	wait_for 10 test -s "$out.rc"
	[ -s "$out.rc" ] || ps -e -o pid,ppid,user,stat,wchan:20,args | grep -E 'su|sleep' |
		grep -v grep | sed -e 's/^/# still running: /'
	wait "$spid"
	SU_RC=$(cat "$out.rc" 2>/dev/null)
	grep -q '^SU-RAN' "$out" && SU_RAN=1
	sed -e 's/^/# su: /' "$out"
	[ -z "$p" ] || echo "# su's command (pid $p) ran in $SU_CG, pid namespace $SU_NS"
	# the journal: a refusal's line (su_reason's) once journald has it, 5 s at most; the
	# command that ran has none to wait for
	[ "$SU_RAN" = 1 ] || wait_for 5 su_logged "$cursor"
	SU_LOG=$(journalctl -q --no-pager ${cursor:+--after-cursor="$cursor"} 2>/dev/null |
		grep -E 'isolate' | grep -v 'vmtest-loose')
	echo "$SU_LOG" | sed -e '/^$/d' -e 's/^/# journal: /'
}

# su_logged CURSOR: the journal after CURSOR has a line of isolate naming root's session scope
su_logged() {
	journalctl -q --no-pager ${1:+--after-cursor="$1"} 2>/dev/null | grep 'isolate' |
		grep -q 'user-0\.slice/session-[0-9]*\.scope'
}

# su_confined ID WHAT: after su_probe, what a user observes: su refused (exit != 0, the
# command never ran), or the command under the test user's slice, where the caps hold; never
# in root's scope (or elsewhere outside user-UID.slice)
su_confined() {
	if [ "$SU_RAN" = 1 ]; then
		case $SU_CG in
		/user.slice/user-$TEST_UID.slice/*)
			ok "$1" "$2: the command ran in $SU_CG, under the user's caps"
			;;
		*)
			notok "$1" "$2: the command ran in '$SU_CG', outside user-$TEST_UID.slice: the user's caps do not apply to it"
			;;
		esac
	elif [ "$SU_RC" = 124 ] || [ "$SU_RC" = 137 ]; then
		notok "$1" "$2: su hung (killed after 25 s, exit $SU_RC), its command did not run"
	elif [ "$SU_RC" != 0 ]; then
		ok "$1" "$2: refused (su exits $SU_RC, the command did not run)"
	else
		notok "$1" "$2: su exits 0 and its command did not run"
	fi
}

# su_reason ID WHAT: a refusal's log line names where the caller is (root's session scope)
# and the user's slice the caps are on; nothing to say when the command ran capped
su_reason() {
	if [ "$SU_RAN" = 1 ]; then
		case $SU_CG in
		/user.slice/user-$TEST_UID.slice/*) ok "$1" "$2: nothing refused (ran capped)" ;;
		*) notok "$1" "$2: nothing refused, nothing logged about it" ;;
		esac
	elif echo "$SU_LOG" | grep 'user-0\.slice/session-[0-9]*\.scope' |
		grep -q "not under user-$TEST_UID\.slice"; then
		ok "$1" "$2: isolate logs that the caller is in root's session scope, not under user-$TEST_UID.slice"
	else
		notok "$1" "$2: no log line names root's session scope and user-$TEST_UID.slice"
	fi
}

# no_user_sandbox: isolatectl list shows nothing of the test user
no_user_sandbox() { ! isolatectl list 2>/dev/null | grep -q "^$TEST_USER "; }
# isolate_units: the isolate-*.scope units but the scope phase's sandbox, which may still
# linger (a sandbox of another user, SCOPE_USER)
isolate_units() {
	systemctl list-units --plain --no-legend 'isolate-*.scope' 2>/dev/null |
		grep -v "^isolate-$(load scope.id)\.scope "
}

# logins-fresh: root's su from root's own session before the test user has any sandbox: a
# fresh user-scope sandbox (su -l: vmshell) and a login-scope one (su: vmloose)
cmd_logins_fresh() {
	su_probe 1021 su -l "$TEST_USER"
	su_confined logins-fresh.su-user "root's su -l $TEST_USER (fresh user-scope sandbox) from root's session"
	su_reason logins-fresh.su-user-reason "root's su -l $TEST_USER (fresh user-scope sandbox)"
	su_probe 1022 su "$TEST_USER"
	su_confined logins-fresh.su-login "root's su $TEST_USER (login-scope policy vmloose) from root's session"
	su_reason logins-fresh.su-login-reason "root's su $TEST_USER (login-scope policy vmloose)"
	if wait_for 10 no_user_sandbox && [ -z "$(isolate_units)" ]; then
		ok logins-fresh.nothing-left "refused su: no sandbox of $TEST_USER, no isolate-*.scope unit"
	else
		notok logins-fresh.nothing-left "refused su: something is left: $(isolatectl list 2>&1 | grep "^$TEST_USER ") $(isolate_units)"
	fi
}

# logins-live: the test user's ssh login (vmshell, scope user) holds its sandbox open
cmd_logins_live() {
	u=$(sleep_pid $LOGINS_SLEEP)
	sb_id=$(json_field id) sb_init=$(json_field init_pid)
	save logins.sleep "$u"
	save logins.id "$sb_id"
	save logins.init "$sb_init"
	sb_ns=$(readlink "/proc/$sb_init/ns/pid" 2>/dev/null)
	# (whole or not at all: user-other, logging in meanwhile, reads it as soon as it is there)
	echo "$sb_ns" >"$DIR/logins-pidns.new"
	chmod 0644 "$DIR/logins-pidns.new"
	mv "$DIR/logins-pidns.new" "$DIR/logins-pidns"
	echo "# the test user's sandbox $sb_id, init $sb_init ($sb_ns), its sleep $u in $(sed -n 's/^0:://p' "/proc/$u/cgroup" 2>/dev/null)"
	echo "# root's session: $(sed -n 's/^0:://p' /proc/self/cgroup)"

	# 1. root's su -l joins the live sandbox through the helper (no ticket for su-l yet)
	su_probe 1023 su -l "$TEST_USER"
	su_confined logins-live.su-join "root's su -l $TEST_USER joining the live user-scope sandbox from root's session"
	su_reason logins-live.su-join-reason "root's su -l $TEST_USER joining the live sandbox"

	# the same su from a scope in the user's slice joins it with the caps holding; the
	# helper then gives the sandbox a ticket for su-l, which the next su -l would use
	su_probe 1024 systemd-run --quiet --scope --slice="user-$TEST_UID.slice" su -l "$TEST_USER"
	if [ "$SU_RAN" = 1 ] && [ -n "$sb_ns" ] && [ "$SU_NS" = "$sb_ns" ]; then
		su_confined logins-live.su-slice "su -l $TEST_USER from a scope in user-$TEST_UID.slice joins the sandbox"
	else
		notok logins-live.su-slice "su -l $TEST_USER from a scope in user-$TEST_UID.slice: ran $SU_RAN (exit $SU_RC), pid namespace '$SU_NS', the sandbox's '$sb_ns'"
	fi
	ls -l "$SESSIONS" 2>/dev/null | grep '\.join' | sed -e 's/^/# ticket: /'
	check logins-live.ticket "a ticket for su-l leads to the sandbox ($SESSIONS/$TEST_UID-su-l.join)" \
		test -L "$SESSIONS/$TEST_UID-su-l.join"

	# 2. root's su -l again: now with a ticket
	su_probe 1025 su -l "$TEST_USER"
	su_confined logins-live.su-again "root's su -l $TEST_USER again (a ticket for su-l there) from root's session"

	# 4. the strictest cap: a login of the test user through the looser vmloose (plain su,
	# from the user's slice) while the vmshell sandbox is live raises no cap
	systemd-run --quiet --unit=vmtest-loose --slice="user-$TEST_UID.slice" \
		su "$TEST_USER" -c "exec sleep $LOOSE_SLEEP"
	check logins-live.loose-up "a login of $TEST_USER through vmloose (memory_max 128M, pids_max 200) is live" \
		wait_for 30 sh -c "isolatectl list 2>/dev/null | grep '^$TEST_USER ' | grep -qw vmloose &&
			pgrep -u $TEST_UID -x -f 'sleep $LOOSE_SLEEP' >/dev/null"
	isolatectl list 2>&1 | sed -e 's/^/# isolatectl list: /'
	eq logins-live.MemoryMax "the vmloose login leaves MemoryMax of user-$TEST_UID.slice at vmshell's" \
		"$MEMORY_MAX" "$(systemctl show "user-$TEST_UID.slice" -p MemoryMax --value)"
	eq logins-live.TasksMax "the vmloose login leaves TasksMax of user-$TEST_UID.slice at vmshell's" \
		"$PIDS_MAX" "$(systemctl show "user-$TEST_UID.slice" -p TasksMax --value)"
}

# logins-after: the test user's ssh login ended, the last of its vmshell sandbox (linger = no)
cmd_logins_after() {
	u=$(load logins.sleep) sb_id=$(load logins.id) sb_init=$(load logins.init)
	with "$sb_init" check logins-after.init "linger = no: the sandbox's init ends with its last login" \
		wait_for 30 dead "$sb_init"
	with "$sb_id" check logins-after.unit "linger = no: isolate-$sb_id.scope is gone" \
		wait_for 20 sh -c "[ \"\$(systemctl show isolate-$sb_id.scope -p ActiveState --value)\" != active ] &&
			[ ! -d $SLICE/isolate-$sb_id.scope ]"
	with "$u" check logins-after.sleep "linger = no: the login's 'nohup sleep $LOGINS_SLEEP &' was killed" \
		wait_for 20 dead "$u"
	check logins-after.MemoryMax "vmshell's sandbox ended: MemoryMax of user-$TEST_UID.slice is vmloose's" \
		wait_for 30 sh -c "[ \"\$(systemctl show user-$TEST_UID.slice -p MemoryMax --value)\" = $LOOSE_MEMORY_MAX ]"
	eq logins-after.TasksMax "vmshell's sandbox ended: TasksMax of user-$TEST_UID.slice is vmloose's" \
		"$LOOSE_PIDS_MAX" "$(systemctl show "user-$TEST_UID.slice" -p TasksMax --value)"
	l=$(pgrep -u "$TEST_UID" -x -f "sleep $LOOSE_SLEEP" | head -n 1)
	[ -z "$l" ] || kill "$l"
	with "$l" check logins-after.loose-end "the vmloose login ends when its command is killed" \
		wait_for 30 sh -c "! systemctl is-active --quiet vmtest-loose.service"
	check logins-after.registry "isolatectl list shows nothing of $TEST_USER" wait_for 20 no_user_sandbox
	if wait_for 20 no_strays; then
		ok logins-after.strays "no process of $TEST_USER is left (but its user manager)"
	else
		notok logins-after.strays "processes of $TEST_USER left"
		show_strays
	fi
	sed -i '/^session required pam_isolate.so$/d' /etc/pam.d/su
	why_checks_logins
}

# ---- the package: libpam-isolate installed, upgraded, removed, purged ------------------------
# run.sh copies the two packages build-debs.sh made on the host into $DIR: install.deb (make
# deb of the tree under test) and upgrade.deb (the same tree as a higher version).

PKG=libpam-isolate
# the guest is amd64: Debian's multiarch PAM module directory
MODULE=/usr/lib/x86_64-linux-gnu/security/pam_isolate.so
PKG_FILES="$MODULE /usr/libexec/isolate/isolate-helper /usr/libexec/isolate/isolate-init
	/usr/sbin/isolatectl /usr/share/pam-configs/isolate"
DEB_SLEEP=1041
DEB_RM_SLEEP=1042

# pam_named: the PAM files that name pam_isolate.so outside a comment, one line
pam_named() {
	grep -l '^[^#]*pam_isolate\.so' /etc/pam.conf /etc/pam.d/* 2>/dev/null | paste -sd' '
}
pkg_status() { dpkg-query -W -f '${Status}' "$PKG" 2>/dev/null; }
# dpkg_run WHAT ARGS...: dpkg ARGS without a terminal; its output shown, its status in DPKG_RC
# and its output in DPKG_OUT
dpkg_run() {
	what=$1
	shift
	t0=$(date +%s.%N)
	DPKG_OUT=$(DEBIAN_FRONTEND=noninteractive dpkg "$@" </dev/null 2>&1)
	DPKG_RC=$?
	t1=$(date +%s.%N)
	echo "$DPKG_OUT" | grep -v '^D0' | sed -e "s/^/# $what: /"
	echo "# $what took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
}
# isolatectl_check ID WHAT: isolatectl check accepts the config and the PAM stacks
isolatectl_check() {
	out=$(isolatectl check 2>&1)
	rc=$?
	echo "$out" | sed -e 's/^/# isolatectl check: /'
	if [ "$rc" = 0 ] && ! echo "$out" | grep -qi 'warning\|error'; then
		ok "$1" "$2"
	else
		notok "$1" "$2: isolatectl check (exit $rc) complains"
	fi
}
# deb_session NAME SLEEP: the test user's live session (user-session NAME, which left 'sleep
# SLEEP' behind): its sandbox id and init (isolatectl list), the sleep and the sshd monitor
# (logind's leader of the session), saved as NAME.id, NAME.init, NAME.sleep, NAME.leader.
# (Names other than id and n: check and wait_for set those.)
deb_session() {
	ds_id=$(json_field id) ds_init=$(json_field init_pid) ds_sleep=$(sleep_pid "$2") ds_leader=""
	ds_s=$(user_sessions "$TEST_USER") # not systemd >= 256's manager-class session
	[ -z "$ds_s" ] || [ "$(echo "$ds_s" | wc -l)" != 1 ] ||
		ds_leader=$(loginctl show-session "$ds_s" -p Leader --value 2>/dev/null)
	save "$1.id" "$ds_id"
	save "$1.init" "$ds_init"
	save "$1.sleep" "$ds_sleep"
	save "$1.leader" "$ds_leader"
	echo "# session $1: sandbox $ds_id, init $ds_init, sleep $ds_sleep, sshd monitor $ds_leader (logind session $ds_s)"
}

# deb-install: the package this tree builds, installed with dpkg -i on a guest that never had
# isolate: its files in place and no PAM stack changed (pre then enables it with
# pam-auth-update). Then the first phase's config as the admin's /etc/isolate.conf.
cmd_deb_install() {
	cp /etc/pam.d/common-session "$STATE/common-session.before-deb"
	echo "# installing $(dpkg-deb -f "$DIR/install.deb" Package Version | paste -sd' ')"
	dpkg_run "dpkg -i" -i "$DIR/install.deb"
	eq deb-install.dpkg "package: dpkg -i of the built .deb exits 0" 0 "$DPKG_RC"
	eq deb-install.status "package: dpkg has $PKG installed" "install ok installed" "$(pkg_status)"
	missing=""
	for f in $PKG_FILES; do
		[ -f "$f" ] && [ "$(stat -c %U "$f")" = root ] || missing="$missing $f"
	done
	for f in /usr/libexec/isolate/isolate-helper /usr/libexec/isolate/isolate-init /usr/sbin/isolatectl; do
		[ -x "$f" ] || missing="$missing $f(not executable)"
	done
	eq deb-install.files \
		"package: module, helper, init, isolatectl and the pam-auth-update profile in place, root's" \
		"" "$missing"
	conffiles=$(dpkg-query -W -f '${Conffiles}' "$PKG" 2>/dev/null | awk 'NF { print $1 }' | paste -sd' ')
	[ -f /etc/isolate.conf ] && conffiles="$conffiles (present)"
	eq deb-install.conffile "package: /etc/isolate.conf is its conffile, installed" \
		"/etc/isolate.conf (present)" "$conffiles"
	named=$(pam_named)
	if cmp -s /etc/pam.d/common-session "$STATE/common-session.before-deb" && [ -z "$named" ]; then
		ok deb-install.pam-unchanged "package: installing changes no PAM stack (common-session as before, no PAM file names pam_isolate.so)"
	else
		notok deb-install.pam-unchanged "package: installing changed the PAM stack (pam_isolate.so named in '$named')"
		diff "$STATE/common-session.before-deb" /etc/pam.d/common-session | sed -e 's/^/# /'
	fi
	install -m 0644 -o root -g root "$DIR/systemd.conf" /etc/isolate.conf
}

# deb-enable: Debian's own stack again for the package phase: the line pam-last added to
# /etc/pam.d/sshd out, pam-auth-update --enable isolate (common-session), and the admin's
# config (conf/deb.conf) as /etc/isolate.conf, which the upgrade must keep
cmd_deb_enable() {
	sed -i '/^session required pam_isolate.so$/d' /etc/pam.d/sshd
	install -m 0644 -o root -g root "$DIR/deb.conf" /etc/isolate.conf
	t0=$(date +%s.%N)
	DEBIAN_FRONTEND=noninteractive pam-auth-update --enable isolate
	echo "# pam-auth-update --enable isolate took $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
	eq deb-enable.pam "package: after pam-auth-update --enable isolate, common-session is the one PAM file naming pam_isolate.so" \
		/etc/pam.d/common-session "$(pam_named)"
	isolatectl_check deb-enable.check "package: isolatectl check accepts the admin's config and Debian's stack"
}

# deb-upgrade: the test user's session (user-session deb, through sshd's and common-session's
# stack) is at its checkpoint: dpkg -i of the same package with a higher version under it
cmd_deb_upgrade() {
	deb_session deb "$DEB_SLEEP"
	old=$(dpkg-query -W -f '${Version}' "$PKG" 2>/dev/null)
	new=$(dpkg-deb -f "$DIR/upgrade.deb" Version)
	echo "# upgrading $PKG $old -> $new"
	dpkg_run "dpkg -i" -i "$DIR/upgrade.deb"
	eq deb-upgrade.dpkg "upgrade: dpkg -i of $PKG $new over $old exits 0" 0 "$DPKG_RC"
	if dpkg --compare-versions "$new" gt "$old" &&
		[ "$(dpkg-query -W -f '${Version} ${Status}' "$PKG" 2>/dev/null)" = "$new install ok installed" ]; then
		ok deb-upgrade.version "upgrade: dpkg has $PKG $new installed (was $old)"
	else
		notok deb-upgrade.version "upgrade: dpkg has '$(dpkg-query -W -f '${Version} ${Status}' "$PKG" 2>&1)', want $new (> $old) installed"
	fi
	left=$(ls /etc/isolate.conf.dpkg-* /etc/isolate.conf.ucf-* 2>/dev/null | paste -sd' ')
	if cmp -s /etc/isolate.conf "$DIR/deb.conf" && [ -z "$left" ]; then
		ok deb-upgrade.conffile "upgrade: the admin's /etc/isolate.conf is kept as it was, nothing beside it"
	else
		notok deb-upgrade.conffile "upgrade: /etc/isolate.conf is not the admin's (or left: '$left')"
	fi
	eq deb-upgrade.pam "upgrade: pam_isolate.so stays enabled in common-session (the admin's choice), nowhere else" \
		/etc/pam.d/common-session "$(pam_named)"
	exe=$(readlink "/proc/$ds_init/exe" 2>/dev/null)
	with "$ds_init" eq deb-upgrade.init \
		"upgrade: the open session's init (pid $ds_init) lives on, from the file the upgrade replaced" \
		"/usr/libexec/isolate/isolate-init (deleted)" "$exe"
	with "$ds_sleep" with "$ds_init" check deb-upgrade.sleep \
		"upgrade: the open session's processes (sleep, pid $ds_sleep) live on in its pid namespace" \
		sh -c "kill -0 $ds_sleep && [ \"\$(readlink /proc/$ds_sleep/ns/pid)\" = \"\$(readlink /proc/$ds_init/ns/pid)\" ]"
	with "$ds_leader" check deb-upgrade.monitor \
		"upgrade: the open session's sshd monitor (pid $ds_leader) keeps the replaced module mapped" \
		grep -q "$MODULE (deleted)" "/proc/$ds_leader/maps"
	with "$ds_id" eq deb-upgrade.list "upgrade: the new isolatectl lists the open session $ds_id" \
		"$ds_id" "$(json_field id)"
}

# deb-remove: the test user's session (user-session deb-rm) is at its checkpoint: dpkg -r
cmd_deb_remove() {
	deb_session deb-rm "$DEB_RM_SLEEP"
	# -D12: dpkg says when it runs each maintainer script (2) and handles each file (10)
	dpkg_run "dpkg -r" -D12 -r "$PKG"
	eq deb-remove.dpkg "remove: dpkg -r $PKG exits 0" 0 "$DPKG_RC"
	prerm_at=$(echo "$DPKG_OUT" | grep -n "$PKG\.prerm" | head -n 1 | cut -d: -f1)
	file_at=$(echo "$DPKG_OUT" | grep -n "removal_bulk.*$MODULE" | head -n 1 | cut -d: -f1)
	echo "$DPKG_OUT" | grep "$PKG\.prerm\|$PKG\.postrm\|removal_bulk.*$MODULE" | sed -e 's/^/# dpkg -D12: /'
	with "$prerm_at" with "$file_at" check deb-remove.order \
		"remove: dpkg ran the prerm, which takes pam_isolate.so out of the stack, before it removed the module (debug lines $prerm_at, $file_at)" \
		[ "${prerm_at:-0}" -lt "${file_at:-0}" ]
	eq deb-remove.pam "remove: no PAM file names pam_isolate.so" "" "$(pam_named)"
	left=""
	for f in $PKG_FILES; do [ ! -e "$f" ] || left="$left $f"; done
	eq deb-remove.files "remove: the module, helper, init, isolatectl and profile are gone" "" "$left"
	st=$(pkg_status)
	[ -f /etc/isolate.conf ] && st="$st, /etc/isolate.conf kept"
	eq deb-remove.status "remove: dpkg keeps the conffile only" \
		"deinstall ok config-files, /etc/isolate.conf kept" "$st"
	with "$ds_init" eq deb-remove.init \
		"remove: the open session's init (pid $ds_init) lives on, from its removed file" \
		"/usr/libexec/isolate/isolate-init (deleted)" "$(readlink "/proc/$ds_init/exe" 2>/dev/null)"
	with "$ds_sleep" check deb-remove.sleep \
		"remove: the open session's processes (sleep, pid $ds_sleep) live on" kill -0 "$ds_sleep"
	with "$ds_leader" check deb-remove.monitor \
		"remove: the open session's sshd monitor (pid $ds_leader) keeps the removed module mapped" \
		grep -q "$MODULE (deleted)" "/proc/$ds_leader/maps"
}

# deb-closed NAME: the session NAME (deb: opened before the upgrade; deb-rm: before the
# removal) logged out: it closed as usual, nothing of it left
cmd_deb_closed() {
	dc=$1
	dc_id=$(load "$dc.id") dc_init=$(load "$dc.init") dc_sleep=$(load "$dc.sleep")
	dc_leader=$(load "$dc.leader")
	with "$dc_init" check "$dc-closed.init" "$dc logout: the session's init (pid $dc_init) ends" \
		wait_for 30 dead "$dc_init"
	with "$dc_sleep" check "$dc-closed.sleep" \
		"$dc logout: the session's 'nohup sleep &' (pid $dc_sleep) was killed" \
		wait_for 20 dead "$dc_sleep"
	with "$dc_leader" check "$dc-closed.monitor" \
		"$dc logout: the session's sshd monitor (pid $dc_leader) exited" wait_for 20 dead "$dc_leader"
	with "$dc_id" check "$dc-closed.run" \
		"$dc logout: nothing of sandbox $dc_id is left in /run/isolate (registry entry, socket, state, tickets)" \
		wait_for 20 sh -c "[ -z \"\$(find /run/isolate \( -name '$dc_id*' -o -lname '$dc_id:*' \) 2>/dev/null)\" ]"
	ls -A /run/isolate/sessions 2>/dev/null | sed -e 's/^/# left in \/run\/isolate\/sessions: /'
	check "$dc-closed.logind" "$dc logout: logind has no login session of $TEST_USER" \
		wait_for 20 no_user_session
	if wait_for 20 no_strays; then
		ok "$dc-closed.strays" "$dc logout: no process of $TEST_USER is left (but its user manager)"
	else
		notok "$dc-closed.strays" "$dc logout: processes of $TEST_USER left"
		show_strays
	fi
}

# deb-purge: dpkg --purge after the removal: the conffile and the runtime directory go
cmd_deb_purge() {
	dpkg_run "dpkg --purge" --purge "$PKG"
	eq deb-purge.dpkg "purge: dpkg --purge $PKG exits 0" 0 "$DPKG_RC"
	st=$(pkg_status)
	case $st in
	"" | *not-installed) ok deb-purge.status "purge: dpkg knows $PKG no more ('$st')" ;;
	*) notok deb-purge.status "purge: dpkg still has $PKG as '$st'" ;;
	esac
	left=$(ls -d /etc/isolate.conf* 2>/dev/null | paste -sd' ')
	eq deb-purge.conffile "purge: /etc/isolate.conf is gone (and no copy of it)" "" "$left"
	check deb-purge.run "purge: /run/isolate is gone" gone /run/isolate
}

# ---- isolatectl why (issue 17): refusals read back from the journal -------------------------
# The sessions make one refusal each: AppArmor's (the systemd phase's read of /etc/hostname
# under isolate-vmtest) and seccomp's: an x32 call (the x32 bit on getpid), which the filter
# kills whatever the policy (a kill is logged; errno is not). No auditd here: the kernel prints
# the records, journald keeps them, why reads kmsg and the journal.

# why-refuse: in a session, the seccomp refusal (SIGSYS kills perl)
why_refuse() {
	(perl -e 'syscall(0x40000027)') >/dev/null 2>&1
}

# why_has TEXT PATTERN...: every PATTERN (grep) matches a line of TEXT
why_has() {
	why_t=$1
	shift
	for why_p; do
		printf '%s\n' "$why_t" | grep -q -- "$why_p" || return 1
	done
}

# after the systemd phase's session, as root: its two refusals under why vmuser
why_checks_systemd() {
	out=$(isolatectl why "$TEST_USER" 2>&1)
	printf '%s\n' "$out" | sed -e 's/^/# isolatectl why vmuser: /'
	check why.journal "why: read the journal (journald, no auditd)" \
		why_has "$(printf '%s\n' "$out" | tail -n 1)" 'shown from .*the journal'
	check why.apparmor "why vmuser: the AppArmor denial of /etc/hostname by $PROFILE, decided by the policy's apparmor_profile line" \
		why_has "$out" 'denied    apparmor: open r on /etc/hostname' \
		"decided   AppArmor profile $PROFILE (/etc/isolate.conf:[0-9]*: apparmor_profile"
	check why.seccomp "why vmuser: the seccomp kill of the x32 call, under policy vmtest" \
		why_has "$out" "user $TEST_USER  session [0-9a-f]*  policy vmtest" 'action    kill-process'
}

# after the logins phase (vmother refused once too): each user sees their own alone
why_checks_logins() {
	mine=$(isolatectl why "$TEST_USER" 2>&1) theirs=$(isolatectl why vmother 2>&1)
	printf '%s\n' "$theirs" | sed -e 's/^/# isolatectl why vmother: /'
	check why.other-shown "why vmother: vmother's seccomp kill" \
		why_has "$theirs" 'user vmother ' 'action    kill-process'
	check why.other-hidden "why vmuser: none of vmother's refusals" \
		sh -c '! printf "%s\n" "$1" | grep -q "user vmother "' - "$mine"
}

# ---- run as the test user, inside the session ----------------------------------------------

# user-session MODE: look from inside, leave a process behind, then hold the session open
# until run.sh closes ssh's stdin
cmd_user_session() {
	mode=$1
	case $mode in
	systemd)
		nohup sleep 1001 </dev/null >/dev/null 2>&1 &
		cmd_user_sandboxed systemd
		egress_checks systemd
		# system_bus = deny: the real bus, refused to the user (root's use at logout is
		# pam_systemd's ReleaseSession: systemd-logout.release)
		# (the kernel's errno through the probe: busctl's words for it differ, systemd
		# 252 says "Permission denied", 257 "Operation not permitted" for the same EACCES)
		bus=$(busctl --system --no-pager list 2>&1 >/dev/null | head -n 1)
		conn=$("$DIR/probe" connect /run/dbus/system_bus_socket 2>&1 | grep -o 'errno=[A-Z]*')
		echo "# busctl --system list: $bus; probe connect to the socket: $conn"
		check systemd.bus-denied "system_bus = deny: busctl --system list fails, a connect to the bus socket gets EACCES" \
			sh -c "! busctl --system --no-pager list >/dev/null 2>&1 && [ '$conn' = errno=EACCES ]"
		eq systemd.shell-label "AppArmor: the shell's label is $PROFILE" "$PROFILE (enforce)" \
			"$(tr -d '\0' </proc/self/attr/current)"
		if cat /etc/hostname >/dev/null 2>&1; then
			notok systemd.hostname-denied "AppArmor: the session can read /etc/hostname"
		else
			ok systemd.hostname-denied "AppArmor: reading /etc/hostname is denied in the session"
		fi
		why_refuse
		# 100M at a 64M cap with no swap: dd's buffer is touched by the read, the OOM
		# killer of the user's cgroup kills it (SIGKILL: 128 + 9)
		dd if=/dev/zero of=/dev/null bs=100M count=1 2>/dev/null
		eq systemd.oom-killed "systemd: a 100M memory hog in the session is OOM-killed at MemoryMax=64M" \
			137 "$?"
		;;
	v2)
		nohup sleep 1002 </dev/null >/dev/null 2>&1 &
		eq v2.cgroupns "v2: the session sees its leaf as / (cgroup namespace)" "0::/" \
			"$(cat /proc/self/cgroup)"
		# buffered writes go to the disk through writeback, which v2 (io + memory)
		# charges to the user's cgroup: write_bps holds them (v1 cannot, see
		# isolatectl check)
		t=$(buffered_write "$HOME/isolate-buffered")
		if slower_than "$t" "$BUFFERED_MIN_S"; then
			ok v2.buffered-write "v2: a buffered $BUFFERED_MIB MiB write + sync under write_bps = 2M takes ${t}s (>= ${BUFFERED_MIN_S}s)"
		else
			notok v2.buffered-write "v2: a buffered $BUFFERED_MIB MiB write + sync under write_bps = 2M takes ${t}s, under ${BUFFERED_MIN_S}s: not throttled"
		fi
		# unread loopback TCP connections, held until logout kills the session. It waits
		# for live-v2 (TCP_OUT.go): root first gives it oom_score_adj 1000 (the session's
		# /proc is read-only), so that the cgroup's OOM killer takes it and not the sshd
		# monitor in the leaf (socket memory counts in no process's OOM score)
		rm -f "$TCP_OUT"*
		for f in small:16 big:$TCP_FILL_MIB; do
			sleep 1003 </dev/null 2>/dev/null | sh -c 'n=0
				while [ ! -e "$1.go" ] && [ $n -lt 240 ]; do sleep 0.5; n=$((n + 1)); done
				exec "$2" tcp-fill "$3"' tcp-fill-gate "$TCP_OUT.${f%:*}" "$DIR/probe" "${f#*:}" \
				>"$TCP_OUT.${f%:*}" 2>&1 &
		done
		;;
	logins)
		nohup sleep $LOGINS_SLEEP </dev/null >/dev/null 2>&1 &
		;;
	deb)
		nohup sleep $DEB_SLEEP </dev/null >/dev/null 2>&1 &
		cmd_user_sandboxed deb
		;;
	deb-rm)
		nohup sleep $DEB_RM_SLEEP </dev/null >/dev/null 2>&1 &
		cmd_user_sandboxed deb-rm
		;;
	esac
	echo SESSION-READY
	read -r _ || true
}

# egress_checks ID: the session's policy has egress_allow = {"127.0.0.1:22/tcp"}: the
# guest's sshd (listening on every address) answers there and only there. Checks
# ID.egress-allowed, ID.egress-refused, ID.egress-refused6
egress_checks() {
	check "$1.egress-allowed" "egress: a connect to the listed 127.0.0.1:22 works" \
		"$DIR/probe" connect 127.0.0.1:22
	eq "$1.egress-refused" "egress: a connect to 127.0.0.2:22 (not listed) is refused" \
		errno=EPERM "$("$DIR/probe" connect 127.0.0.2:22 2>&1 | grep -o 'errno=[A-Z]*')"
	eq "$1.egress-refused6" "egress: a connect to [::1]:22 (not listed) is refused" \
		errno=EPERM "$("$DIR/probe" connect '[::1]:22' 2>&1 | grep -o 'errno=[A-Z]*')"
}

# user-scope first|again: a login under scope = user (conf/systemd.conf's vmshell). first:
# builds the sandbox and starts tmux; again: rejoins it, finds tmux, leaves a sleep behind,
# and meets the user's caps
cmd_user_scope() {
	mine=$(readlink /proc/self/ns/pid)
	case $1 in
	first)
		cmd_user_sandboxed scope-first
		echo "$mine" >"$HOME/vmtest-scope-pidns"
		egress_checks scope-first
		tmux new-session -d -s work "sleep $SCOPE_TMUX_SLEEP"
		check scope-first.tmux "scope: tmux new -d -s work runs" \
			sh -c "tmux ls 2>/dev/null | grep -q '^work:'"
		;;
	again)
		eq scope-again.pidns "scope: the next login joins the same sandbox (pid namespace)" \
			"$(cat "$HOME/vmtest-scope-pidns" 2>/dev/null)" "$mine"
		check scope-again.tmux "scope: the next login finds the tmux session 'work' started by the first" \
			sh -c "tmux ls 2>/dev/null | grep -q '^work:'"
		egress_checks scope-again
		nohup sleep $SCOPE_SLEEP </dev/null >/dev/null 2>&1 &
		dd if=/dev/zero of=/dev/null bs=100M count=1 2>/dev/null
		eq scope-again.oom-killed "scope: a 100M memory hog in the rejoined sandbox is OOM-killed at MemoryMax=64M" \
			137 "$?"
		;;
	esac
}

# user-sandboxed WHAT: the login is in a sandbox (own pid 1, seccomp filter); checks
# WHAT.pidns and WHAT.seccomp
cmd_user_sandboxed() {
	mine=$(readlink /proc/self/ns/pid)
	host=$(cat "$DIR/host-pidns")
	if [ -n "$mine" ] && [ -n "$host" ] && [ "$mine" != "$host" ]; then
		ok "$1.pidns" "$1: the login has a pid namespace of its own ($mine, the host's is $host)"
	else
		notok "$1.pidns" "$1: the login's pid namespace '$mine' is the host's '$host'"
	fi
	eq "$1.seccomp" "$1: the login runs under a seccomp filter" 2 \
		"$(awk '$1 == "Seccomp:" { print $2 }' /proc/self/status)"
}

# user-unconfined WHAT: a login that isolate does not confine (the package removed): the
# host's pid namespace, no seccomp filter; checks WHAT.pidns and WHAT.seccomp
cmd_user_unconfined() {
	host=$(cat "$DIR/host-pidns")
	with "$host" eq "$1.pidns" "$1: the login is in the host's pid namespace" \
		"$host" "$(readlink /proc/self/ns/pid)"
	eq "$1.seccomp" "$1: the login runs under no seccomp filter" 0 \
		"$(awk '$1 == "Seccomp:" { print $2 }' /proc/self/status)"
}

# user-other: another user's login while the test user's user-scope sandbox is live gets a
# sandbox of its own. It logs in while logins-live runs (host-steps.sh), which saves that
# sandbox's pid namespace first thing: waited for here.
cmd_user_other() {
	why_refuse
	mine=$(readlink /proc/self/ns/pid)
	wait_for 60 test -s "$DIR/logins-pidns"
	theirs=$(cat "$DIR/logins-pidns" 2>/dev/null)
	host=$(cat "$DIR/host-pidns")
	if [ -n "$mine" ] && [ -n "$theirs" ] && [ "$mine" != "$theirs" ] && [ "$mine" != "$host" ]; then
		ok logins-other.pidns "$(id -un)'s login has a sandbox of its own ($mine), not $TEST_USER's ($theirs)"
	else
		notok logins-other.pidns "$(id -un)'s login is in pid namespace '$mine'; $TEST_USER's sandbox '$theirs', the host '$host'"
	fi
}

# user-exempt: a login of an exempt user (exempt_users) is not sandboxed
cmd_user_exempt() {
	host=$(cat "$DIR/host-pidns")
	with "$host" eq exempt.pidns "exempt user: the login is in the host's pid namespace" \
		"$host" "$(readlink /proc/self/ns/pid)"
	eq exempt.seccomp "exempt user: no seccomp filter" 0 \
		"$(awk '$1 == "Seccomp:" { print $2 }' /proc/self/status)"
	eq exempt.apparmor "exempt user: no AppArmor profile" unconfined \
		"$(tr -d '\0' </proc/self/attr/current)"
}

# sourced by guest-selinux.sh for the helpers and steps above: no subcommand of its own
[ "${GUEST_LIB:-0}" = 1 ] && return 0

case ${1:-} in
pre) cmd_pre ;;
use) cmd_use "$2" ;;
live-systemd) cmd_live_systemd ;;
after-systemd) cmd_after_systemd ;;
live-v2) cmd_live_v2 ;;
after-v2) cmd_after_v2 ;;
after-refused) cmd_after_refused ;;
journal) cmd_journal ;;
user-session) cmd_user_session "$2" ;;
user-exempt) cmd_user_exempt ;;
user-other) cmd_user_other ;;
logins-fresh) cmd_logins_fresh ;;
logins-live) cmd_logins_live ;;
logins-after) cmd_logins_after ;;
user-sandboxed) cmd_user_sandboxed "$2" ;;
pam-last) cmd_pam_last ;;
scope-lingers) cmd_scope_lingers ;;
scope-terminate) cmd_scope_terminate ;;
scope-expired) cmd_scope_expired ;;
user-scope) cmd_user_scope "$2" ;;
user-unconfined) cmd_user_unconfined "$2" ;;
deb-install) cmd_deb_install ;;
deb-enable) cmd_deb_enable ;;
deb-upgrade) cmd_deb_upgrade ;;
deb-remove) cmd_deb_remove ;;
deb-closed) cmd_deb_closed "$2" ;;
deb-purge) cmd_deb_purge ;;
*)
	echo "usage: guest-test.sh pre|use NAME|live-systemd|after-systemd|live-v2|after-v2|after-refused|journal|user-session MODE|user-exempt|user-sandboxed WHAT|pam-last|scope-lingers|scope-terminate|scope-expired|user-scope first|again|logins-fresh|logins-live|logins-after|user-other|user-unconfined WHAT|deb-install|deb-enable|deb-upgrade|deb-remove|deb-closed NAME|deb-purge" >&2
	exit 2
	;;
esac
exit 0
