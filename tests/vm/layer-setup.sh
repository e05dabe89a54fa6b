#!/bin/sh
# layer-setup.sh: runs once at boot from vmtest-layer.service (base image), right after the
# per-run layer (the test's files) is unpacked, before AppArmor loads its profiles and before
# sshd starts. isolate is not installed yet: the test's first step installs its package, and
# no PAM stack names pam_isolate.so until the test enables it (pre: pam-auth-update).
set -eu
mkdir -p -m 0700 /run/vmtest
# root's manager (user@0.service), which the host's first ssh login as root (run.sh's master
# connection) would otherwise wait for, seconds under TCG: started beside the rest of the
# boot (it waits for systemd-user-sessions.service, as a login does)
systemctl start --no-block user@0.service ||
	echo "layer-setup.sh: could not start user@0.service (root's first login will)" >&2
