# host-steps-selinux.sh: the steps of the bookworm-selinux vmtest (SELinux enforcing), sourced
# by run.sh after host-steps.sh, whose helpers (guest, ulogin, user_session, deb_copy,
# refused_login) it uses with the guest side guest-selinux.sh. Every check ID is in
# checks-selinux.txt.

G=/opt/isolate-vmtest/guest-selinux.sh

run_vm_tests() {
	deb_copy install
	guest deb-install
	guest se-pre
	# Debian's stock sshd stack with pam-auth-update's common-session: pam_selinux open after
	# the join fails the login, as isolatectl check says; then the README's stack
	guest se-stock
	refused_login se-stock.refused "SELinux: with pam_selinux.so open after pam_isolate.so the login fails"
	guest se-stock-after

	# a login through that stack: confined, in its login mapping's context (user_t)
	user_session se se-live
	guest se-after

	# a policy's own context; one the loaded policy rejects, under lsm_required true/false
	guest se-use staff
	ulogin vmuser se-staff "a policy's context" user-label se-staff staff_u:staff_r:staff_t:s0
	guest se-use bad
	refused_login se-bad.refused "SELinux: lsm_required = true refuses a login whose context the policy rejects"
	guest se-said bad
	guest se-use badsoft
	ulogin vmuser se-badsoft "a rejected context under lsm_required = false" user-label se-badsoft user_u:user_r:user_t:s0
	guest se-said badsoft

	# su - vmuser from root's unconfined shell: confined in root's domain; refused into a
	# policy context root's domain may not enter
	guest se-use su
	guest se-su
	guest se-use suctx
	guest se-suctx

	guest se-avc
}
