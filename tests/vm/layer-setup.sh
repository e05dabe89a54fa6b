#!/bin/sh
# layer-setup.sh: runs once at boot from vmtest-layer.service (base image), right after the
# per-run layer (isolate as `make install` put it, the test's files) is unpacked, before
# AppArmor loads its profiles and before sshd starts. It sets up the PAM stack.
set -eu
mkdir -p -m 0700 /run/vmtest

# What a Debian admin following the README does first: pam-auth-update with isolate's
# profile. Keep what isolatectl check says of that stack for guest-test.sh's pre step.
DEBIAN_FRONTEND=noninteractive pam-auth-update --enable isolate
cp /etc/pam.d/common-session /run/vmtest/pam-auth-update.common-session
set +e
isolatectl check >/run/vmtest/pam-auth-update.check 2>&1
echo $? >/run/vmtest/pam-auth-update.rc
set -e
DEBIAN_FRONTEND=noninteractive pam-auth-update --disable isolate

# The stack the test runs with, as the README says: pam_isolate.so the last module of the
# session stack of sshd (after common-session's pam_systemd and sshd's own pam_limits,
# pam_env, ...).
echo "session required pam_isolate.so" >>/etc/pam.d/sshd
echo "vmtest layer: $(grep -c pam_isolate /etc/pam.d/sshd) pam_isolate line in /etc/pam.d/sshd"
