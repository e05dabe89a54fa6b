#!/bin/sh
# layer-setup.sh: run.sh runs it as root right after it has unpacked the per-run layer (the
# test's files) in the guest it resumed from the booted state. isolate is not installed yet:
# the test's first step installs its package, and no PAM stack names pam_isolate.so until
# the test enables it (pre: pam-auth-update).
set -eu
mkdir -p -m 0700 /run/vmtest
# the test's AppArmor profile came with the layer, after apparmor.service loaded the
# profiles at boot: load it now (pre checks that it is there, in enforce mode)
if [ -d /sys/kernel/security/apparmor ] && [ -f /etc/apparmor.d/isolate-vmtest ]; then
	apparmor_parser -r /etc/apparmor.d/isolate-vmtest
fi
touch /run/vmtest/layer-done
