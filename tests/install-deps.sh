#!/bin/sh
# Installs the Debian packages isolate needs to build and test, when missing. Quiet and
# quick when everything is there.
set -eu
PKGS="gcc make pkg-config libpam0g-dev libseccomp-dev libcap-dev libsystemd-dev
libconfuse-dev libcmocka-dev clang libclang-rt-14-dev pamtester openssh-server
openssh-client bubblewrap firejail python3 python3-dbusmock dbus libpam-wrapper iproute2
procps psmisc util-linux keyutils tmux git vim-tiny xz-utils debootstrap qemu-system-x86 numactl
qemu-utils e2fsprogs hyperfine linux-perf valgrind file groff-base
debhelper dpkg-dev fakeroot lintian"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "isolate: missing packages:$missing; run as root (sudo make ...) to install them" >&2
	exit 1
fi
echo "isolate: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
