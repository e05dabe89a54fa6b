# releases.sh: the Debian releases the vmtest guest runs, and what differs between them in
# building the base image (sourced by run.sh and build-base.sh). The guest side
# (guest-test.sh) detects what its guest offers instead of asking for the release.
#
#   bookworm  Debian 12: systemd 252, AppArmor 3, kernel 6.1, OpenSSH 9.2
#   trixie    Debian 13: systemd 257, AppArmor 4, kernel 6.12, OpenSSH 10.0 (sshd-session)
#   bookworm-selinux
#             Debian 12 booted with SELinux enforcing (Debian's refpolicy, auditd) instead
#             of AppArmor: its own steps and checks (host-steps-selinux.sh,
#             checks-selinux.txt)

VMTEST_RELEASES="bookworm trixie bookworm-selinux"

# vmtest_release: $VMTEST_RELEASE (default bookworm), refused unless it is one of the above
vmtest_release() {
	local r=${VMTEST_RELEASE:-bookworm}
	case " $VMTEST_RELEASES " in
	*" $r "*) echo "$r" ;;
	*)
		echo "VMTEST_RELEASE=$r: not one of $VMTEST_RELEASES" >&2
		return 1
		;;
	esac
}

# vmtest_suite RELEASE: the Debian suite debootstrap installs for RELEASE
vmtest_suite() {
	echo "${1%-selinux}"
}

# vmtest_lsm RELEASE: the major LSM RELEASE's guest boots with (selinux or apparmor)
vmtest_lsm() {
	case $1 in
	*-selinux) echo selinux ;;
	*) echo apparmor ;;
	esac
}

# vmtest_package_lists RELEASE: the package lists of RELEASE's base image: packages.txt (names
# all releases share) and packages-RELEASE.txt where it exists (names only RELEASE has)
vmtest_package_lists() {
	local d
	d=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	echo "$d/packages.txt"
	[ ! -f "$d/packages-$1.txt" ] || echo "$d/packages-$1.txt"
}

# vmtest_packages RELEASE: the packages of RELEASE's base image, one a line (comments out)
vmtest_packages() {
	vmtest_package_lists "$1" | xargs cat | sed -e 's/#.*//' | tr -s ' \t\n' '\n' | grep -v '^$'
}

# vmtest_base_key RELEASE: the cache key of RELEASE's base image: a hash of the release, its
# packages and build-base.sh (a comment in a package list rebuilds nothing), and for an
# SELinux release isolate's policy module, which build-base.sh loads into the image
vmtest_base_key() {
	local d
	d=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	{
		echo "$1"
		vmtest_packages "$1"
		cat "$d/build-base.sh"
		[ "$(vmtest_lsm "$1")" != selinux ] || cat "$d/../../conf/isolate.cil"
	} | sha256sum | cut -c1-16
}
