#!/bin/sh
# layer-setup.sh: runs once at boot from vmtest-layer.service (base image), right after the
# per-run layer (isolate as `make install` put it, the test's files) is unpacked, before
# AppArmor loads its profiles and before sshd starts.
set -eu
mkdir -p -m 0700 /run/vmtest
# The PAM stack the test runs with, as the README says: pam_isolate.so the last module of
# the session stack of sshd (after common-session's pam_systemd and sshd's own pam_limits,
# pam_env, ...). guest-test.sh's pre step tries pam-auth-update's profile on its own.
echo "session required pam_isolate.so" >>/etc/pam.d/sshd
