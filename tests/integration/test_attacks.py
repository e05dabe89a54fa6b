"""Regression tests for what an attacker review found: each test is one attack that used to
work (or could have), asserted to fail now, from the attacker's side."""

import os
import pwd
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import HELPER, ISOLATECTL, SandboxTestCase
from test_seccomp import landlock_abi

EXIT_REFUSED = 125


def require_landlock(test):
    """Without Landlock in the kernel a policy's Landlock paths are not applied (a warning,
    or a refused login with lsm_required): there is no rule for these attacks to get around."""
    if landlock_abi() < 1:
        test.skipTest("no Landlock in this kernel (CONFIG_SECURITY_LANDLOCK, lsm= boot "
                      "parameter): the rules these attacks target are never applied")


class TestLandlockSymlinks(SandboxTestCase):
    """A rule on $HOME/work must not follow a symlink the user put there."""

    def setUp(self):
        require_landlock(self)
        self.work = os.path.join(self.u1.home, "work")
        self.addCleanup(self.cleanup)

    def cleanup(self):
        if os.path.islink(self.work):
            os.unlink(self.work)
        elif os.path.isdir(self.work):
            shutil.rmtree(self.work)
        for name in ("outside",):
            path = os.path.join(self.u1.home, name)
            if os.path.exists(path):
                os.unlink(path)

    def config(self):
        return self.sb.config(policies="policy p {\n"
                                       " landlock_read_write = {'$HOME/work', \"/tmp\"}\n}\n",
                              default_policy="p", name="landlock.conf")

    def test_real_directory_is_the_rule(self):
        os.mkdir(self.work)
        os.chown(self.work, self.u1.uid, self.u1.gid)
        r = self.sb.run(self.u1, "touch ~/work/in && echo in-ok; touch ~/outside || echo out-denied",
                        self.config())
        self.assertEqual(r.stdout.split(), ["in-ok", "out-denied"], r.stderr)

    def test_symlink_to_root_does_not_widen_the_rule(self):
        os.symlink("/", self.work)
        os.lchown(self.work, self.u1.uid, self.u1.gid)
        r = self.sb.run(self.u1, "touch ~/outside && echo ESCAPED", self.config())
        self.assertNotIn("ESCAPED", r.stdout)
        self.assertFalse(os.path.exists(os.path.join(self.u1.home, "outside")))
        self.assertEqual(r.returncode, EXIT_REFUSED, r.stderr)
        self.assertIn("Landlock path", r.stderr)


class TestLandlockHardLinks(SandboxTestCase):
    """A file rule on $HOME/notes must not follow a hard link to a file elsewhere."""

    def test_hard_linked_file_rule_refused(self):
        require_landlock(self)
        base = tempfile.mkdtemp(prefix="isolate-test-", dir="/var/lib")
        self.addCleanup(shutil.rmtree, base, True)
        os.chmod(base, 0o755)
        target = os.path.join(base, "theirs")
        with open(target, "w") as f:
            f.write("original\n")
        os.chown(target, self.u1.uid, self.u1.gid)
        notes = os.path.join(self.u1.home, "notes")
        os.link(target, notes)
        self.addCleanup(os.unlink, notes)
        cfg = self.sb.config(policies="policy p {\n"
                                      " landlock_read_write = {'$HOME/notes', \"/tmp\"}\n}\n",
                             default_policy="p", name="hardlink.conf")
        r = self.sb.run(self.u1, f"echo pwned >> {target} && echo ESCAPED", cfg)
        self.assertNotIn("ESCAPED", r.stdout)
        with open(target) as f:
            self.assertEqual(f.read(), "original\n")
        self.assertEqual(r.returncode, EXIT_REFUSED, r.stderr)
        self.assertIn("hard links", r.stderr)


class TestSyscallsFromReview(SandboxTestCase):
    def test_memfd_secret_denied(self):
        code = ("import ctypes, os\n"
                "libc = ctypes.CDLL(None, use_errno=True)\n"
                "r = libc.syscall(447, 0)\n"
                "print(r, os.strerror(ctypes.get_errno()) if r < 0 else 'ok')\n")
        r = self.sb.run(self.u1, ["/usr/bin/python3", "-c", code], self.sb.config())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "-1 Operation not permitted")


class TestSharedRuntimeDirs(SandboxTestCase):
    def test_run_user_is_private(self):
        """The user's systemd manager and session bus live in /run/user/UID on the host."""
        host_dir = f"/run/user/{self.u1.uid}"
        made = not os.path.exists(host_dir)
        os.makedirs(host_dir, exist_ok=True)
        marker = os.path.join(host_dir, "bus")
        with open(marker, "w") as f:
            f.write("")
        try:
            r = self.sb.run(self.u1, f"ls -A /run/user; echo ---; ls -A {host_dir}; "
                                     f"stat -c '%U %a' {host_dir}", self.sb.config())
            self.assertEqual(r.returncode, 0, r.stderr)
            listing, rest = r.stdout.split("---\n")
            self.assertEqual(listing.split(), [str(self.u1.uid)])
            self.assertEqual(rest.split(), [self.u1.name, "700"], "the host's bus shows")
        finally:
            os.unlink(marker)
            if made:
                os.rmdir(host_dir)

    def test_run_lock_is_private(self):
        name = f"isolate-lock-{os.getpid()}"
        r = self.sb.run(self.u1, f"echo x > /run/lock/{name} && ls /run/lock", self.sb.config())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(name, r.stdout)
        self.assertFalse(os.path.exists(f"/run/lock/{name}"), "the file reached the host")


class TestHostMountsUnderSys(SandboxTestCase):
    def test_later_mount_under_sys_is_not_writable_inside(self):
        """A filesystem the host mounts under /sys after the session began must not show up
        writable inside. Done in a mount namespace of the test's own, with / shared.

        A handshake through two fifos orders the steps: the session says it has begun, the
        host mounts, then tells the session to try. Each wait is bounded; a handshake that
        times out fails the test."""
        cfg = self.sb.config()
        fifo_dir = tempfile.mkdtemp(prefix="isolate-test-fifos-")
        self.addCleanup(shutil.rmtree, fifo_dir, True)
        to_session, from_session = (os.path.join(fifo_dir, n) for n in ("in", "out"))
        os.mkfifo(to_session)
        os.mkfifo(from_session)
        # the fifos are the session's stdin and stdout (opened read-write: no open blocks)
        script = f"""
set -e
mount --make-rshared /
exec 3<>{from_session} 4<>{to_session}
{ISOLATECTL} run -c {cfg} --helper {HELPER} {self.u1.name} -- sh -c \
  'echo begun; read -r _; touch /sys/fs/bpf/x 2>/dev/null && echo WROTE || echo denied' \
  <{to_session} >{from_session} 3<&- 4>&- &
read -t 30 -r line <&3 || {{ echo "handshake: the session never began" >&2; exit 1; }}
[ "$line" = begun ] || {{ echo "handshake: the session said '$line'" >&2; exit 1; }}
mount -t tmpfs isolate-test /sys/fs/bpf
touch /sys/fs/bpf/host-can-write && echo host-wrote
echo go >&4
read -t 30 -r line <&3 || {{ echo "handshake: the session never tried" >&2; exit 1; }}
echo "session: $line"
wait $!
"""
        r = subprocess.run(["unshare", "-m", "--propagation", "unchanged", "bash", "-c", script],
                           capture_output=True, text=True, timeout=90)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("host-wrote", r.stdout, "the test's own mount did not work")
        self.assertNotIn("session: WROTE", r.stdout, r.stderr)
        self.assertIn("session: denied", r.stdout, r.stderr)


class TestHelperProcessState(SandboxTestCase):
    def test_invoker_limits_do_not_reach_the_helper(self):
        """su runs PAM with the invoker's limits: a file size limit of 0 used to kill the
        helper while it wrote the registry (SIGXFSZ), leaving files behind. (The soft limit:
        a hard limit of 0 needs CAP_SYS_RESOURCE to undo, which root here lacks.)"""
        cfg = self.sb.config()
        r = subprocess.run(["sh", "-c", f"ulimit -S -f 0; exec {ISOLATECTL} run -c {cfg} "
                                        f"--helper {HELPER} {self.u1.name} -- true"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertClean()
        sessions = os.path.join(self.sb.runtime_dir, "sessions")
        self.assertEqual(os.listdir(sessions), [])

    def test_non_root_real_uid_caller(self):
        """A caller whose real uid is a user's (su) gets a helper that is root through and
        through: the session still opens, with the user's file size limit in force."""
        cfg = self.sb.config()
        code = (f"import os, resource\n"
                f"resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))\n"
                f"os.setresuid({self.u2.uid}, 0, 0)\n"
                f"os.execv({ISOLATECTL!r}, [{ISOLATECTL!r}, 'run', '-c', {cfg!r}, '--helper', "
                f"{HELPER!r}, {self.u1.name!r}, '--', 'readlink', '/proc/self/ns/pid'])\n")
        r = subprocess.run(["/usr/bin/python3", "-c", code],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotEqual(r.stdout.strip(), os.readlink("/proc/self/ns/pid"))
        self.assertClean()

    def test_stale_temporary_files_are_removed(self):
        cfg = self.sb.config()
        self.assertEqual(self.sb.run(self.u1, "true", cfg).returncode, 0)
        sessions = os.path.join(self.sb.runtime_dir, "sessions")
        old = os.path.join(sessions, ".deadbeef.tmp")
        fresh = os.path.join(sessions, ".cafe.tmp")
        for path in (old, fresh):
            with open(path, "w"):
                pass
        os.utime(old, (time.time() - 3600, time.time() - 3600))
        self.assertEqual(self.sb.run(self.u1, "true", cfg).returncode, 0)
        self.assertFalse(os.path.exists(old), "a stale file stayed")
        self.assertTrue(os.path.exists(fresh), "a file being written now was removed")
        os.unlink(fresh)


class TestOddRequests(SandboxTestCase):
    def test_control_characters_in_rhost_refused(self):
        cfg = self.sb.config()
        r = self.sb.run(self.u1, "echo ran", cfg, rhost="198.51.100.7\ncgroup=forged")
        self.assertEqual(r.returncode, EXIT_REFUSED)
        self.assertIn("control characters", r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertClean()

    def test_namespaces_cannot_be_switched_off_to_weaken_the_sandbox(self):
        for key in ("mount_namespace", "pid_namespace"):
            cfg = self.sb.config(policies=f"policy p {{\n {key} = false\n}}\n",
                                 default_policy="p", name=f"{key}.conf")
            r = self.sb.run(self.u1, "echo ran", cfg)
            self.assertEqual(r.returncode, EXIT_REFUSED, key)
            self.assertIn(f"{key} = false is not supported", r.stderr)


if __name__ == "__main__":
    unittest.main()
