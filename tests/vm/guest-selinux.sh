#!/bin/sh
# guest-selinux.sh: the guest side of the bookworm-selinux vmtest (SELinux enforcing,
# Debian's reference policy, auditd), installed as /opt/isolate-vmtest/guest-selinux.sh.
# It takes guest-test.sh's helpers and package steps (sourced) and adds the steps of
# host-steps-selinux.sh; every check ID is in checks-selinux.txt.
set -u
GUEST_LIB=1 . /opt/isolate-vmtest/guest-test.sh

AUDIT_LOG=/var/log/audit/audit.log
HELPER=/usr/libexec/isolate/isolate-helper
CIL=/usr/share/isolate/selinux/isolate.cil
USER_CONTEXT=user_u:user_r:user_t:s0
STAFF_CONTEXT=staff_u:staff_r:staff_t:s0
SE_SLEEP=1051

# se-pre: the guest enforces SELinux, isolate's policy module (baked into the image from
# conf/isolate.cil, as an admin loads it: semodule -i) is the one the package ships, and
# the helper carries its label. Then the README's stack for SELinux hosts.
cmd_se_pre() {
	eq se-pre.enforcing "SELinux: the guest enforces" 1 "$(cat /sys/fs/selinux/enforce 2>/dev/null)"
	reseeded se-pre.reseeded
	eq se-pre.lsm "SELinux: the kernel's major LSM is selinux (security=selinux)" selinux \
		"$(tr ',' '\n' </sys/kernel/security/lsm | grep -x 'selinux\|apparmor' | paste -sd,)"
	check se-pre.module "SELinux: the policy module isolate is loaded" \
		sh -c 'semodule -l | grep -qx isolate'
	# the store keeps a CIL module as given to semodule -i (bzip2'ed): read as root,
	# not with semodule -E, whose domain may not write where this script can look
	store=/var/lib/selinux/default/active/modules/400/isolate/cil
	python3 -c 'import bz2, sys; sys.stdout.buffer.write(bz2.open(sys.argv[1]).read())' \
		"$store" >"$STATE/isolate.cil" 2>/dev/null
	check se-pre.module-shipped "SELinux: the loaded module is the package's $CIL" \
		cmp -s "$STATE/isolate.cil" "$CIL"
	eq se-pre.helper-label "SELinux: the helper is labelled isolate_exec_t (the module's file context)" \
		system_u:object_r:isolate_exec_t:s0 "$(stat -c %C "$HELPER")"
	eq se-pre.mapping "SELinux: $TEST_USER's login maps to user_u" user_u \
		"$(awk -F: -v u="$TEST_USER" '$1 == u { print $2 }' /etc/selinux/default/seusers)"
	readlink /proc/1/ns/pid >"$DIR/host-pidns"
	chmod 0644 "$DIR/host-pidns"
	# the audit log from here on is the test's
	wc -l <"$AUDIT_LOG" >"$STATE/audit-start"
	install -m 0644 -o root -g root "$DIR/se.conf" /etc/isolate.conf
}

# se-stock: pam-auth-update --enable isolate over Debian's stock /etc/pam.d/sshd, where
# pam_selinux.so open comes after @include common-session: isolatectl check says the login
# fails there, and why (the host then tries a login, which must fail)
cmd_se_stock() {
	cp /etc/pam.d/common-session "$STATE/common-session.orig"
	DEBIAN_FRONTEND=noninteractive pam-auth-update --enable isolate
	out=$(isolatectl check 2>&1)
	echo "$out" | sed -e 's/^/# isolatectl check: /'
	check se-stock.check "SELinux: isolatectl check says pam_selinux.so open after pam_isolate.so fails sshd's logins, and the fix" \
		sh -c "echo \"\$1\" | grep '^warning: /etc/pam.d/sshd:[0-9]*: pam_selinux.so comes after pam_isolate.so' |
			grep -q 'every login of this service fails there.*pam-auth-update --disable isolate'" _ "$out"
	journalctl --show-cursor -n 0 -q 2>/dev/null | sed -n 's/^-- cursor: //p' >"$STATE/cursor-stock"
}

# se-stock-after: the refused login failed where isolatectl check said: pam_selinux's open
# after the join. Then the stack the README gives for SELinux hosts: the profile off,
# pam_isolate.so last in sshd's and su's stacks (after pam_selinux.so open)
cmd_se_stock_after() {
	check se-stock.pam-selinux "SELinux: the refused login failed in pam_selinux open (no context after the join)" \
		sh -c "journalctl -q --no-pager --after-cursor='$(load cursor-stock)' $SSHD_LOG | grep -q 'pam_selinux.*Unable to get valid context for $TEST_USER'"
	DEBIAN_FRONTEND=noninteractive pam-auth-update --disable isolate
	check se-fixed.restored "PAM: pam-auth-update --disable isolate restores common-session" \
		cmp -s /etc/pam.d/common-session "$STATE/common-session.orig"
	echo "session required pam_isolate.so" >>/etc/pam.d/sshd
	echo "session required pam_isolate.so" >>/etc/pam.d/su
	isolatectl_check se-fixed.check "SELinux: isolatectl check accepts pam_isolate.so after pam_selinux.so open"
}

# se-use NAME: /etc/isolate.conf := conf/se-NAME.conf (the cgroupfs v2 ones with their
# delegated tree); a journal cursor for the steps after
cmd_se_use() {
	install -m 0644 -o root -g root "$DIR/se-$1.conf" /etc/isolate.conf
	if grep -q '^cgroup_backend = v2' /etc/isolate.conf; then
		systemctl is-active --quiet "$V2_UNIT" ||
			systemd-run --quiet --unit="$V2_UNIT" -p Delegate=yes "$DIR/cg-delegate.sh"
		wait_for 20 sh -c "grep -qw memory $(dirname $V2_ROOT)/cgroup.subtree_control"
	fi
	journalctl --show-cursor -n 0 -q 2>/dev/null | sed -n 's/^-- cursor: //p' >"$STATE/cursor-se-$1"
}
# isolate_said NAME PATTERN: isolate's journal since se-use NAME has a line matching PATTERN
isolate_said() {
	journalctl -q --no-pager --after-cursor="$(load "cursor-se-$1")" -t isolate $SSHD_LOG -t su |
		grep -q "$2"
}

# user-se: the test user's session (user-session se): confined, and in the context of its
# SELinux login mapping; a read SELinux denies (DAC allows it) for the audit check after
cmd_user_se() {
	cmd_user_sandboxed se
	eq se.context "SELinux: the shell's context is its login mapping's" "$USER_CONTEXT" \
		"$(tr -d '\0' </proc/self/attr/current)"
	eq se.nnp "SELinux: no_new_privs is set (the transition took the module's nnp_transition)" 1 \
		"$(awk '$1 == "NoNewPrivs:" { print $2 }' /proc/self/status)"
	if (echo x >/proc/self/comm) 2>/dev/null; then
		notok se.proc-ro "SELinux: a write to /proc in the session succeeded"
	else
		ok se.proc-ro "SELinux: a write to /proc in the session fails (read-only)"
	fi
	# /var/log/dpkg.log is world-readable: only SELinux (user_t, var_log_t) stops the read
	if cat /var/log/dpkg.log >/dev/null 2>&1; then
		notok se.denied-read "SELinux: user_t read /var/log/dpkg.log"
	else
		ok se.denied-read "SELinux: reading /var/log/dpkg.log (mode 0644) is denied in the session"
	fi
	cat /proc/self/sessionid >"$HOME/vmtest-se-ses"
	nohup sleep $SE_SLEEP </dev/null >/dev/null 2>&1 &
}

# se-live: the session of user-se is at its checkpoint: the helper's init in isolate_t
cmd_se_live() {
	init=$(json_field init_pid)
	with "$init" eq se-live.init-domain "SELinux: the session's init runs in isolate_t" \
		system_u:system_r:isolate_t:s0 "$(label_of "$init")"
	sl=$(sleep_pid $SE_SLEEP)
	with "$sl" eq se-live.sleep-domain "SELinux: the session's programs run in user_t" \
		"$USER_CONTEXT" "$(label_of "$sl")"
}

# se-after: logout left nothing, and the denied read is in the audit log with the session's
# identity (the AVC record's event, the syscall record, carries auid and ses)
cmd_se_after() {
	check se-after.no-init "logout: no isolate-init left" wait_for 20 sh -c '! pgrep -x isolate-init >/dev/null'
	check se-after.no-strays "logout: no process of $TEST_USER left" wait_for 20 no_strays
	show_strays
	check se-after.registry "logout: isolatectl list shows no sandbox" wait_for 10 no_user_sandbox
	ses=$(cat "/home/$TEST_USER/vmtest-se-ses" 2>/dev/null)
	serial=$(tail -n +"$(($(load audit-start) + 1))" "$AUDIT_LOG" |
		grep 'type=AVC' | grep 'name="dpkg.log"' | grep "scontext=$USER_CONTEXT" |
		sed -n 's/.*msg=audit([0-9.]*:\([0-9]*\)).*/\1/p' | tail -n 1)
	echo "# the denied read: audit event $serial, the session's audit session $ses"
	with "$serial" with "$ses" check se-after.audit-identity \
		"SELinux: the denied read is in the audit log with the session's auid and ses" \
		sh -c "grep 'type=SYSCALL msg=audit([0-9.]*:$serial)' $AUDIT_LOG | grep -q 'auid=$TEST_UID .*ses=$ses '"
	out=$(isolatectl why "$TEST_USER" 2>&1)
	echo "$out" | sed -e 's/^/# isolatectl why: /'
	check se-after.why "SELinux: isolatectl why $TEST_USER shows the denied read, decided by the SELinux policy" \
		sh -c "echo \"\$1\" | grep -q 'selinux: file { read } on .*dpkg.log'" _ "$out"
}

# user-label ID CONTEXT: a login whose shell must run in CONTEXT, confined
cmd_user_label() {
	cmd_user_sandboxed "$1"
	eq "$1.context" "SELinux: the shell's context is $2" "$2" "$(tr -d '\0' </proc/self/attr/current)"
}

# se-said bad|badsoft: what isolate logged for the rejected context under lsm_required true
# (the login refused, and why) and false (logged, and the login went on)
cmd_se_said() {
	case $1 in
	bad) check se-bad.reason "SELinux: isolate logged why the context was refused" \
		isolate_said bad 'SELinux context user_u:sysadm_r:sysadm_t:s0, which the loaded policy does not accept' ;;
	badsoft) check se-badsoft.warned "SELinux: isolate logged the rejected context and went on" \
		isolate_said badsoft 'does not accept.*going on without it' ;;
	esac
}

# se-su: su - vmuser from root's shell (unconfined_t) with no selinux_context: confined, in
# root's domain as Debian's su leaves it
cmd_se_su() {
	out=$(su - "$TEST_USER" -c 'tr -d "\0" </proc/self/attr/current; echo; readlink /proc/self/ns/pid;
		awk "\$1 == \"NoNewPrivs:\" { print \$2 }" /proc/self/status' </dev/null 2>&1)
	echo "$out" | sed -e 's/^/# su: /'
	eq se-su.context "su: the session keeps root's domain" unconfined_t \
		"$(echo "$out" | sed -n 1p | cut -d: -f3)"
	mine=$(echo "$out" | sed -n 2p)
	host=$(cat "$DIR/host-pidns")
	if [ -n "$mine" ] && [ "$mine" != "$host" ]; then
		ok se-su.pidns "su: the session has a pid namespace of its own"
	else
		notok se-su.pidns "su: the session's pid namespace '$mine' is the host's"
	fi
	eq se-su.nnp "su: no_new_privs is set" 1 "$(echo "$out" | sed -n 3p)"
}

# se-suctx: the same su where the user's policy names a selinux_context the stock policy does
# not let unconfined_t enter: refused before anything is built, the reason logged
cmd_se_suctx() {
	if su - "$TEST_USER" -c 'echo LOGGED-IN' </dev/null 2>&1 | grep -q LOGGED-IN; then
		notok se-suctx.refused "su: the login into a context root's domain may not enter went through"
	else
		ok se-suctx.refused "su: the login into a context root's domain may not enter is refused"
	fi
	check se-suctx.reason "su: isolate logged why (the transition the policy denies)" \
		isolate_said suctx 'does not let the caller.s context unconfined_u:unconfined_r:unconfined_t'
	check se-suctx.no-init "su: nothing was built (no isolate-init)" sh -c '! pgrep -x isolate-init >/dev/null'
}

# se-avc: no AVC denial of the whole run names isolate's domain, its helper, its init, or
# comes from the sshd monitor (sshd_t) on something of isolate's. Every other denial of the
# run is listed (the expected ones: se.denied-read's, and UBAC's on $HOME for staff_u).
cmd_se_avc() {
	avcs=$(tail -n +"$(($(load audit-start) + 1))" "$AUDIT_LOG" | grep 'type=AVC')
	echo "$avcs" | grep . | sed -e 's/.*avc: */# AVC: /'
	ours=$(echo "$avcs" | grep -E 'isolate_t|isolate_exec_t|comm="isolate-' | wc -l)
	eq se-avc.none "SELinux: no AVC denial names isolate's helper, init or domain" 0 "$ours"
	# nor one of the login path (the sshd monitor that joined, the sessions' domains) but
	# the test's own denied read (the documented list: that one alone)
	others=$(echo "$avcs" | grep -E 'scontext=[a-z_]*:[a-z_]*:(sshd_t|user_t|staff_t|unconfined_t):' |
		grep -v 'name="dpkg.log"' | wc -l)
	eq se-avc.login-path "SELinux: no AVC denial of sshd_t, user_t, staff_t or unconfined_t but the test's own" \
		0 "$others"
}

case ${1:-} in
deb-install) cmd_deb_install ;;
se-pre) cmd_se_pre ;;
se-stock) cmd_se_stock ;;
se-stock-after) cmd_se_stock_after ;;
se-use) cmd_se_use "$2" ;;
se-said) cmd_se_said "$2" ;;
user-session)
	[ "$2" = se ] && cmd_user_se
	echo SESSION-READY
	read -r _ || true
	;;
se-live) cmd_se_live ;;
se-after) cmd_se_after ;;
user-label) cmd_user_label "$2" "$3" ;;
se-su) cmd_se_su ;;
se-suctx) cmd_se_suctx ;;
se-avc) cmd_se_avc ;;
*)
	echo "usage: guest-selinux.sh deb-install|se-pre|se-stock|se-stock-after|se-use NAME|se-said bad|badsoft|user-session se|se-live|se-after|user-label ID CONTEXT|se-su|se-suctx|se-avc" >&2
	exit 2
	;;
esac
exit 0
