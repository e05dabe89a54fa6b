# host-steps.sh: the order of the vmtest steps, sourced by run.sh once the guest answers
# (uses run.sh's vroot, ssh_opts, port, run, record, bg_pids, deb_pid, deb_building,
# SESSION_TIMEOUT).
# Root commands run over the master connection; the test user's logins are real logins
# from this host (rhost 10.0.2.2 in the guest) through sshd -> pam_systemd -> pam_isolate.
# Every check has an ID listed in checks.txt; one that does not report is a failure.

G=/opt/isolate-vmtest/guest-test.sh

# result ID WHAT STATUS: a check of the host side; ok when STATUS is 0
result() {
	if [ "$3" = 0 ]; then
		echo "ok $1 - $2" | record
	else
		echo "not ok $1 - $2 (exit $3)" | record
	fi
}

# guest ARGS...: a guest-test.sh step as root; its output recorded, and its exit status as
# the check step.ARGS (joined by -): ssh or the step itself failing is a failure
guest() {
	local t rc id out=$run/step.$BASHPID.out # (bg_start's runs beside another)
	t=$(now)
	id=$(IFS=-; echo "step.$*")
	vroot "$G" "$@" >"$out" 2>&1
	rc=$?
	record <"$out"
	rm -f "$out"
	result "$id" "guest-test.sh $* as root exits 0" "$rc"
	say "step $*: $(elapsed "$t")s"
}

# user_session MODE LIVE-STEP: logs the test user in (the session runs guest-test.sh
# user-session MODE and holds at its checkpoint), runs LIVE-STEP meanwhile (a guest step as
# root, or a function of this file), then logs out by closing the session's stdin and
# waits for ssh to end.
user_session() {
	local mode=$1 live=$2
	local fifo=$run/session-$mode.fifo out=$run/session-$mode.out
	local spid ready=0 deadline rc t
	t=$(now)
	mkfifo "$fifo"
	timeout "$SESSION_TIMEOUT" ssh "${ssh_opts[@]}" vmuser@127.0.0.1 "$G user-session $mode" \
		<"$fifo" >"$out" 2>&1 &
	spid=$!
	bg_pids+=("$spid")
	exec 8>"$fifo"
	deadline=$(($(date +%s) + SESSION_TIMEOUT))
	while [ "$(date +%s)" -lt "$deadline" ] && kill -0 "$spid" 2>/dev/null; do
		grep -q '^SESSION-READY' "$out" && { ready=1; break; }
		sleep 0.5
	done
	if [ "$ready" = 1 ]; then
		echo "ok $mode.login - $mode: the test user logs in over ssh and the session runs" |
			record
		say "step login $mode to checkpoint: $(elapsed "$t")s"
		if declare -F "$live" >/dev/null; then "$live"; else guest "$live"; fi
	else
		echo "not ok $mode.login - $mode: the test user's ssh login did not reach its checkpoint" |
			record
	fi
	exec 8>&-
	# logout: the session's `read` sees EOF, the shell exits, sshd closes the session
	deadline=$(($(date +%s) + 60))
	while kill -0 "$spid" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do
		sleep 0.5
	done
	if kill -0 "$spid" 2>/dev/null; then
		echo "not ok $mode.logout - $mode: ssh did not end within 60 s of logout" | record
		kill -TERM "$spid" 2>/dev/null
	else
		echo "ok $mode.logout - $mode: ssh ends at logout" | record
	fi
	wait "$spid"
	rc=$?
	say "step session $mode, login to logout: $(elapsed "$t")s"
	grep -v '^SESSION-READY' "$out" | record
	result "$mode.ssh-exit" "$mode: the session's ssh exits 0 at logout" "$rc"
}

# ulogin USER ID WHAT ARGS...: one login of USER running guest-test.sh ARGS; its checks
# recorded, and the login's exit status as the check ID.login
ulogin() {
	local user=$1 id=$2 what=$3 out rc t
	shift 3
	t=$(now)
	out=$(timeout "$SSH_TIMEOUT" ssh "${ssh_opts[@]}" "$user@127.0.0.1" "$G $*" 2>&1)
	rc=$?
	echo "$out" | grep -E '^(ok|not ok|#) ' | record
	result "$id.login" "$what: the ssh login of $user exits 0" "$rc"
	say "step login $user, $*: $(elapsed "$t")s"
}

# bg_start NAME CMD...: CMD (guest or ulogin) in the background, for a root step that looks
# at nothing the steps run meanwhile change, or another user's login that needs nothing of
# them nor they of it; bg_finish NAME waits for it, then records its checks and shows its
# lines (held in files meanwhile, so that they do not interleave with the steps'). One NAME
# at a time.
declare -A bg_pid
bg_start() {
	local name=$1
	shift
	(
		record() { cat >>"$run/bg-$name.rec"; }
		"$@"
	) >"$run/bg-$name.say" 2>&1 &
	bg_pid[$name]=$!
	bg_pids+=("$!")
}
bg_finish() {
	wait "${bg_pid[$1]}"
	cat "$run/bg-$1.say"
	[ ! -e "$run/bg-$1.rec" ] || record <"$run/bg-$1.rec"
	rm -f "$run/bg-$1.rec" "$run/bg-$1.say"
	unset "bg_pid[$1]"
}

# deb_copy NAME: waits for build-debs.sh (run.sh started it with the run) to have built the
# package NAME (install or upgrade), then puts it in the guest as $G's folder/NAME.deb
deb_copy() {
	local t f
	t=$(now)
	while [ ! -e "$run/debs/$1.ready" ] && deb_building; do
		sleep 0.5
	done
	# the upgrade is its last package: its status, and no pid of it left to signal
	if [ "$1" = upgrade ] && [ -n "$deb_pid" ]; then
		wait "$deb_pid" || say "tests/vm/build-debs.sh exited $?"
		deb_pid=""
	fi
	if [ ! -e "$run/debs/$1.ready" ]; then
		tail -n 40 "$run/debs.log" >&2
		die "tests/vm/build-debs.sh built no $1 package (its log above)"
	fi
	f=$(ls "$run/debs/$1/"*.deb)
	vroot "cat >$(dirname "$G")/$1.deb" <"$f" || die "copying $f into the guest failed"
	say "package $1: $(basename "$f"), waited for and copied in $(elapsed "$t")s"
	timings+=("package $1 $(elapsed "$t")s")
}

# refused_login ID WHAT: the test user's ssh login must fail
refused_login() {
	local out rc
	out=$(timeout "$SSH_TIMEOUT" ssh "${ssh_opts[@]}" vmuser@127.0.0.1 'echo LOGGED-IN' 2>&1)
	rc=$?
	echo "$out" | sed -e 's/^/# refused login: /' | record
	if [ "$rc" != 0 ] && ! echo "$out" | grep -q LOGGED-IN; then
		echo "ok $1 - $2 (ssh exit $rc)" | record
	else
		echo "not ok $1 - $2: the login went through (ssh exit $rc)" | record
	fi
}

# the live part of phase deb's first session: the upgrade in place under it, then a new login
deb_upgrade_live() {
	deb_copy upgrade
	guest deb-upgrade
	ulogin vmuser deb-new "a login after the upgrade" user-sandboxed deb-new
}

# the live part of phase deb's second session: the removal under it, then a login that
# isolate no longer confines
deb_remove_live() {
	guest deb-remove
	ulogin vmuser deb-removed "a login after the removal" user-unconfined deb-removed
}

# phase scope: scope = user (conf/systemd.conf's policy of vmscope): the sandbox outlives the
# login that built it (tmux), in a unit of ours. Its user is vmscope, not the test user: its
# linger (30 s) runs down while the steps after it run, and scope-expired looks after it
# then (the init's journal dates the linger)
scope_phase() {
	ulogin vmscope scope-first "scope = user, first login" user-scope first
	guest scope-lingers
	ulogin vmscope scope-again "scope = user, next login" user-scope again
	guest scope-terminate
}

# the live part of phase logins: root's su and the looser login, and meanwhile another
# user's login (which waits for logins-live to have saved the sandbox's pid namespace)
logins_live() {
	bg_start other ulogin vmother logins-other "another user" user-other
	guest logins-live
	bg_finish other
}

run_vm_tests() {
	# isolate comes from its package: dpkg -i, no PAM stack changed; pre enables it
	deb_copy install
	guest deb-install
	guest pre
	# one login through pam-auth-update's stack (pam_motd, pam_mail, pam_limits, pam_env
	# after pam_isolate), then the README's stack for the rest
	ulogin vmuser pam-auth-update "pam-auth-update stack" user-sandboxed pam-auth-update
	guest pam-last
	# phases systemd and scope side by side (conf/systemd.conf): the test user's session,
	# and meanwhile the exempt user's login and the scope phase, a user of its own each
	guest use systemd
	bg_start exempt ulogin vmexempt exempt "exempt user" user-exempt
	bg_start scope scope_phase
	user_session systemd live-systemd
	guest after-systemd
	bg_finish exempt
	bg_finish scope

	# who may join a user-scope sandbox: root's su from root's session (before and while the
	# test user's sandbox is live, and again with a ticket), another user; the strictest cap
	# across two policies of one user in both directions; linger = no
	guest use logins
	guest logins-fresh
	user_session logins logins_live
	guest logins-after

	guest scope-expired

	guest use v2
	user_session v2 live-v2
	guest after-v2

	guest use lsm-missing
	refused_login refused.login "lsm_required: the login is refused when the profile is not loaded"
	guest after-refused

	# phase deb (conf/deb.conf): the package through Debian's own stack (sshd's PAM file as
	# shipped, pam_isolate in common-session by pam-auth-update): an upgrade in place under a
	# live session, a removal under another, then the purge. deb-enable (pam-auth-update)
	# runs while journal reads the journal of all before it: neither touches what the other
	# looks at, and no login comes between them.
	bg_start journal guest journal
	guest deb-enable
	bg_finish journal
	user_session deb deb_upgrade_live
	guest deb-closed deb
	user_session deb-rm deb_remove_live
	guest deb-closed deb-rm
	guest deb-purge
}
