"""Issue 12: one user must not exhaust what every user shares. Each class performs one
exhaustion as a user inside an `isolatectl run` session, and looks at the host from outside,
as root, while the session still holds what it got (the probes hold it until their stdin
ends): the shared resource is untouched and root can still use it; and after logout it is
all back. Each class has its own Sandbox (configs, cgroup root, test users), removed at the
end also when a test fails; every session is bounded in time and count."""

import os
import re
import select
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BASE_POLICY, HELPER, ISOLATECTL, PROBE, SandboxTestCase  # noqa: E402


class HeldSession:
    """`isolatectl run USER -- CMD` in the background with its stdin a pipe, its stdout and
    stderr together. wait_for() reads the output until a line matches; end() closes stdin
    (the probe lets go of what it holds, the command ends) and waits. Always ended: use it
    with `with`."""

    def __init__(self, sb, user, cmd, config):
        args = [ISOLATECTL, "run", "-c", config, "--service", "sshd", "--helper", HELPER,
                user.name, "--", "/bin/sh", "-c", cmd]
        self.p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        self.out = ""
        self.eof = False

    def _read(self, timeout):
        r, _, _ = select.select([self.p.stdout], [], [], max(timeout, 0))
        if r:
            data = os.read(self.p.stdout.fileno(), 65536)
            self.eof = not data
            self.out += data.decode(errors="replace")

    def wait_for(self, pattern, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.out, re.M)
            if m:
                return m
            if self.eof or time.monotonic() > deadline:
                raise AssertionError(f"the session never printed /{pattern}/ "
                                     f"({'it ended' if self.eof else f'{timeout} s'}); "
                                     f"its output:\n{self.out}")
            self._read(deadline - time.monotonic())

    def end(self, timeout=60):
        """Returns (exit status, whole output)."""
        if self.p.stdin and not self.p.stdin.closed:
            self.p.stdin.close()
        deadline = time.monotonic() + timeout
        while not self.eof and time.monotonic() < deadline:
            self._read(deadline - time.monotonic())
        try:
            rc = self.p.wait(timeout=max(deadline - time.monotonic(), 1))
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        self.p.stdout.close()
        return rc, self.out

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.p.returncode is None:
            self.end()


def read_int(path):
    with open(path) as f:
        return int(f.read().split()[0])


def root_probe(*args):
    """The probe run by root outside any session (stdin closed: it lets go at once)."""
    return subprocess.run([PROBE, *args], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=60)


# ---- row 3: native AIO ----------------------------------------------------------------------

AIO_NR = "/proc/sys/fs/aio-nr"
AIO_POLICIES = BASE_POLICY + """
policy libaio {
  network = host
  syscalls_allow = {"@aio"}
}
"""


class TestAioOutOfTheDefault(SandboxTestCase):
    """fs.aio-max-nr is one count for the whole host: a user's io_setup(65536) used to take
    all of it, and root's io_setup(1) failed with EAGAIN while that session lived. The
    default allowlist has no native AIO now; a policy that adds @aio gets it back."""

    USERS = ("isolate-aio1", "isolate-aio2")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.cfg = cls.sb.config(policies=AIO_POLICIES, name="aio.conf")
            cls.cfg_libaio = cls.sb.config(policies=AIO_POLICIES, default_policy="libaio",
                                           name="libaio.conf")
        except Exception:
            cls.sb.close()
            raise

    def assert_root_can_io_setup(self):
        r = root_probe("io_setup", "1")
        self.assertEqual(r.returncode, 0, f"root's io_setup(1) outside: {r.stdout}{r.stderr}")

    def test_io_setup_is_denied_and_the_host_keeps_its_aio(self):
        before = read_int(AIO_NR)
        cmd = f"{PROBE} io_setup 65536; echo probe-exit=$?; read _ || :"
        with HeldSession(self.sb, self.u1, cmd, self.cfg) as s:
            # refused (the shell goes on), or, were it allowed, holding the context
            s.wait_for(r"^(probe-exit=|probe io_setup: holding)")
            during = read_int(AIO_NR)
            self.assertLess(during - before, 65536,
                            f"fs.aio-nr went from {before} to {during} under the session")
            self.assert_root_can_io_setup()
            self.assertIn("probe io_setup: failed: errno=EPERM", s.out)
            rc, out = s.end()
        self.assertEqual(rc, 0, out)
        self.assertIn("probe-exit=1", out)
        self.assertClean()

    def test_a_policy_that_adds_aio_gets_it(self):
        # the same probe does take from fs.aio-nr where @aio is allowed: the test above
        # would see it (a small request, so that the host keeps plenty meanwhile)
        before = read_int(AIO_NR)
        with HeldSession(self.sb, self.u1, f"{PROBE} io_setup 256", self.cfg_libaio) as s:
            s.wait_for(r"^probe io_setup: holding")
            during = read_int(AIO_NR)
            self.assertGreaterEqual(during - before, 256,
                                    f"fs.aio-nr went from {before} to {during} only")
            self.assert_root_can_io_setup()
            rc, out = s.end()
        self.assertEqual(rc, 0, out)
        self.assertIn("probe io_setup: ok", out)
        self.assertLess(read_int(AIO_NR) - before, 256, "the context outlived the session")
        self.assertClean()


if __name__ == "__main__":
    unittest.main()
