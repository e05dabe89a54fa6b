#!/bin/bash
# build-base.sh OUTDIR: builds the vmtest guest's base image from Debian packages into
# OUTDIR (which must not exist yet): a Debian root file system of release $VMTEST_RELEASE
# (bookworm, the default, trixie, or bookworm-selinux; see releases.sh) with systemd, cgroup
# v2, AppArmor (SELinux enforcing for bookworm-selinux) and sshd as disk.raw (ext4, made with mkfs.ext4 -d: no loop device, no mount),
# the kernel and initrd for qemu's direct boot, and the ssh key that root and the test users
# accept. Nothing of isolate is in it: run.sh boots it once and saves the booted guest
# (run.sh: the booted state), and each run resumes that state and unpacks its "layer" (a tar
# archive of the test's files) over ssh; isolate comes as its package. The base is rebuilt
# only when this file or the release's packages change (releases.sh). Root only
# (debootstrap, chroot).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build-base.sh OUTDIR}
. "$here/releases.sh"
release=$(vmtest_release) || exit 1
suite=$(vmtest_suite "$release")
lsm=$(vmtest_lsm "$release")
mirror=${VMTEST_MIRROR:-http://deb.debian.org/debian}
debs=$here/cache/debs
tmp=$out.tmp
tree=$tmp/tree

[ "$(id -u)" = 0 ] || { echo "build-base.sh: must run as root" >&2; exit 1; }
[ ! -e "$out" ] || { echo "build-base.sh: $out exists" >&2; exit 1; }

# debootstrap leaves /proc and /sys mounted in the tree when it fails half way, and on some
# hosts (seen on Linux 6.18) /proc even when it succeeds
umount_tree() {
	for m in proc sys dev/pts dev; do
		mountpoint -q "$tree/$m" 2>/dev/null && umount -l "$tree/$m" || true
	done
}
cleanup() {
	umount_tree
	rm -rf "$tmp"
}
trap cleanup EXIT

rm -rf "$tmp"
mkdir -p "$tmp" "$debs"
chmod 0755 "$tmp"

pkgs=$(vmtest_packages "$release" | paste -sd,)

echo "build-base: debootstrap $suite for $release ($pkgs)"
# minbase + the list: no priority-important extras, nothing recommended
timeout 900 debootstrap --variant=minbase --merged-usr --include="$pkgs" \
	--cache-dir="$debs" "$suite" "$tree" "$mirror" >"$tmp/debootstrap.log" 2>&1 || {
	tail -n 30 "$tmp/debootstrap.log" >&2
	tail -n 30 "$tree/debootstrap/debootstrap.log" 2>/dev/null >&2 || true
	exit 1
}

inchroot() { chroot "$tree" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }

echo vmtest >"$tree/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tvmtest\n::1\tlocalhost ip6-localhost\n' \
	>"$tree/etc/hosts"
# no fsck at boot (pass 0): the overlay is thrown away after each run anyway
printf '/dev/vda\t/\text4\tdefaults,noatime\t0\t0\n' >"$tree/etc/fstab"

# qemu user networking: the guest is 10.0.2.15, the host (the ssh client) is 10.0.2.2.
# A static address set by one oneshot unit: systemd-networkd takes seconds more under TCG.
cat >"$tree/etc/systemd/system/vmtest-net.service" <<'EOF'
[Unit]
Description=Static address on eth0 for qemu user networking
BindsTo=sys-subsystem-net-devices-eth0.device
After=sys-subsystem-net-devices-eth0.device
Before=network.target ssh.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/sbin/ip addr add 10.0.2.15/24 dev eth0
ExecStart=/sbin/ip link set eth0 up
ExecStart=/sbin/ip route add default via 10.0.2.2

[Install]
WantedBy=multi-user.target
EOF
inchroot systemctl enable vmtest-net.service >/dev/null 2>&1

# Drivers for hardware the test does not use, which udev would load at boot: each takes
# seconds under TCG (kvm: the emulated CPU offers svm; ata_piix: the chipset's IDE).
printf 'blacklist %s\n' kvm kvm_amd kvm_intel ata_piix pata_acpi floppy parport_pc ppdev \
	bochs bochs_drm pcspkr i2c_piix4 serio_raw joydev >"$tree/etc/modprobe.d/vmtest.conf"

# AppArmor: only the test's own profile (from the layer); each shipped one costs boot time
# (bookworm ships two, trixie's AppArmor 4 over a hundred). Profiles are the plain files at
# the top of /etc/apparmor.d; abi/, abstractions/, tunables/ and local/ stay.
find "$tree/etc/apparmor.d" -maxdepth 1 -type f -delete

# A small initrd: the few modules that mount a virtio root (the default "most" takes
# seconds to unpack under TCG).
echo MODULES=list >"$tree/etc/initramfs-tools/conf.d/vmtest"
printf '%s\n' virtio_pci virtio_blk ext4 >>"$tree/etc/initramfs-tools/modules"
inchroot update-initramfs -u -k all >"$tmp/initramfs.log" 2>&1 || {
	cat "$tmp/initramfs.log" >&2
	exit 1
}
# Units that only cost boot time under TCG (timers, waits for a network that is static,
# module loads and mounts nothing in the test uses).
for u in systemd-networkd-wait-online.service apt-daily.timer apt-daily-upgrade.timer \
	e2scrub_all.timer e2scrub_reap.service fstrim.timer dpkg-db-backup.timer \
	systemd-tmpfiles-clean.timer getty@tty1.service modprobe@drm.service \
	modprobe@dm_mod.service modprobe@efi_pstore.service modprobe@fuse.service \
	modprobe@configfs.service modprobe@loop.service sys-kernel-debug.mount \
	sys-kernel-tracing.mount sys-kernel-config.mount sys-fs-fuse-connections.mount \
	dev-hugepages.mount; do
	ln -sf /dev/null "$tree/etc/systemd/system/$u"
done

# sshd: keys only, no DNS, room for the test's logins
cat >"$tree/etc/ssh/sshd_config.d/vmtest.conf" <<'EOF'
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UseDNS no
MaxStartups 50
LogLevel VERBOSE
EOF

# logind keeps a user's manager (user@UID.service) after their last logout rather than
# stopping it 10 s later: a login waits for the manager it starts, seconds under TCG, and the
# test logs the same users in again and again. root's manager is started before the booted
# state is saved (run.sh); each test user's first login starts theirs.
install -d -m 0755 "$tree/etc/systemd/logind.conf.d"
printf '[Login]\nUserStopDelaySec=infinity\n' >"$tree/etc/systemd/logind.conf.d/vmtest.conf"

# One key for root and the test users; the host side of the test holds its private half.
ssh-keygen -q -t ed25519 -N '' -C vmtest -f "$tmp/id_ed25519"
install -d -m 0700 "$tree/root/.ssh"
install -m 0600 "$tmp/id_ed25519.pub" "$tree/root/.ssh/authorized_keys"
# vmuser: confined by the test's policies; vmexempt: an exempt user
for u in vmuser:1001 vmexempt:1002; do
	name=${u%%:*} uid=${u##*:}
	inchroot useradd -m -u "$uid" -U -s /bin/bash "$name"
	install -d -m 0700 -o "$uid" -g "$uid" "$tree/home/$name/.ssh"
	install -m 0600 -o "$uid" -g "$uid" "$tmp/id_ed25519.pub" \
		"$tree/home/$name/.ssh/authorized_keys"
done
inchroot passwd -l root >/dev/null

# Smaller root: no docs, no apt lists, no deb cache.
rm -rf "$tree"/usr/share/doc/* "$tree"/usr/share/man/* "$tree"/usr/share/locale/* \
	"$tree"/var/lib/apt/lists/* "$tree"/var/cache/apt/*.bin "$tree"/var/cache/apt/archives/*.deb

# /usr is up to date: without the stamps, trixie's systemd runs ldconfig, the journal
# catalog update and systemd-update-done at every boot (ConditionNeedsUpdate), seconds under
# TCG (bookworm's ships none of these)
if [ -x "$tree/usr/lib/systemd/systemd-update-done" ]; then
	inchroot ldconfig
	inchroot journalctl --update-catalog
	inchroot /usr/lib/systemd/systemd-update-done
fi

# SELinux (bookworm-selinux): enforcing from the first boot, the test users mapped in the
# policy store and the tree labelled here (an autorelabel boot takes minutes under TCG).
# vmuser is user_u (confined; its $HOME and /run/user/1001 get user_u's labels from the
# store's homedir template, which is why the mapping goes through seusers.local and a
# rebuild rather than an edit of seusers); everyone else stays unconfined_u. The policy
# work is done here: semodule in the guest takes about 40 s under TCG.
if [ "$lsm" = selinux ]; then
	sed -i -e 's/^SELINUX=.*/SELINUX=enforcing/' -e 's/^SELINUXTYPE=.*/SELINUXTYPE=default/' \
		"$tree/etc/selinux/config"
	printf 'vmuser:user_u:s0\n' >"$tree/var/lib/selinux/default/active/seusers.local"
	# isolate's policy module (conf/isolate.cil, part of the image's cache key), loaded the
	# way the README tells an admin to: semodule -i, which also rebuilds the policy
	cp "$here/../../conf/isolate.cil" "$tree/tmp/isolate.cil"
	inchroot semodule -i /tmp/isolate.cil >"$tmp/semodule.log" 2>&1 ||
		{ cat "$tmp/semodule.log" >&2; exit 1; }
	rm -f "$tree/tmp/isolate.cil"
	grep -q '^vmuser:user_u:' "$tree/etc/selinux/default/seusers" || {
		echo "build-base: semodule -B did not map vmuser to user_u" >&2
		exit 1
	}
	# libselinux labels through /proc/self/fd: without proc every file fails with ENOENT
	mount -t proc proc "$tree/proc"
	policy=$(ls "$tree"/etc/selinux/default/policy/policy.* | sort -V | tail -n 1)
	inchroot setfiles -F -e /proc -e /sys -e /dev -c "${policy#"$tree"}" \
		/etc/selinux/default/contexts/files/file_contexts / >"$tmp/setfiles.log" 2>&1 || {
		tail -n 30 "$tmp/setfiles.log" >&2
		exit 1
	}
	umount "$tree/proc"
	rm -f "$tree/.autorelabel"
fi

kernel=$(ls "$tree"/boot/vmlinuz-* | sort -V | tail -n 1)
initrd=$(ls "$tree"/boot/initrd.img-* | sort -V | tail -n 1)
cp "$kernel" "$tmp/vmlinuz"
cp "$initrd" "$tmp/initrd.img"

# Sparse: the file takes what the tree takes; the guest writes into a qcow2 overlay.
# Nothing may be mounted in the tree: mkfs.ext4 -d would copy /proc's files.
umount_tree
truncate -s 4G "$tmp/disk.raw"
mkfs.ext4 -q -F -L vmroot -d "$tree" "$tmp/disk.raw"

rm -rf "$tree"
mv "$tmp" "$out"
trap - EXIT
echo "build-base: done: $out"
