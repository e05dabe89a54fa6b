"""A helper that dies before it commits the session (killed by the caller's timeout, by root,
by the OOM killer) must leave nothing behind: no session init, no cgroup leaf, no registry
entry, and no cgroup directory that a normal logout would not leave either (issue 11,
security finding 5).

A normal logout removes the session's leaf and keeps <root>/user-UID (the user's caps, which
later logins of that user update) and <root>/supervisor: that is the reference."""

import os
import subprocess
import unittest

from harness import FAULT_HELPER, HELPER, SandboxTestCase, remove_cgroup_tree, require_built

# every ISOLATE_TEST_DIE_AT stage of the helper, in the order it reaches them: the config
# read; the cgroups made (the session child waits for them); the session init ready (on v2
# still in the leaf); the init moved out; its registry entry; the commit sent to the init
STAGES = ("config", "cgroup", "ready", "init", "registry", "commit")


def systemd_booted():
    return os.path.isdir("/run/systemd/system")


def cgroup2_mounted():
    with open("/proc/self/mountinfo") as f:
        return any(line.split(" - ")[1].startswith("cgroup2 ") for line in f)


class HelperDeathCase(SandboxTestCase):
    BACKEND = "auto"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cfg = cls.sb.config()
        with open(cls.cfg) as f:
            text = f.read().replace("cgroup_backend = auto", f"cgroup_backend = {cls.BACKEND}")
        with open(cls.cfg, "w") as f:
            f.write(text)
        # the same config with a short timeout, for a helper that hangs until it is killed
        cls.cfg_short = cls.sb.config(name="short.conf")
        with open(cls.cfg_short, "w") as f:
            f.write(text.replace("helper_timeout = 10s", "helper_timeout = 1s"))

    def wrapper(self, var, stage, helper=FAULT_HELPER):
        require_built(helper)
        path = os.path.join(self.sb.dir, f"{var.lower()}-{stage}-{os.path.basename(helper)}.sh")
        with open(path, "w") as f:
            f.write(f'#!/bin/sh\n{var}={stage} exec {helper} "$@"\n')
        os.chmod(path, 0o755)
        return path

    def cgroup_tree(self):
        """Every directory under our cgroup root, in every hierarchy, root included."""
        out = set()
        for root in self.sb.cgroup_dirs():
            if not os.path.isdir(root):
                continue
            out.add(root)
            for dirpath, dirnames, _ in os.walk(root):
                out.update(os.path.join(dirpath, d) for d in dirnames)
        return out

    def forget_user(self, user):
        """No cgroup of the user under our root: the next login is that user's first."""
        for root in self.sb.cgroup_dirs():
            remove_cgroup_tree(os.path.join(root, f"user-{user.uid}"))

    def login(self, user, cfg=None, helper=HELPER):
        return self.sb.run(user, "echo ran", cfg or self.cfg, helper=helper)

    def assertRefused(self, r):
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("ran", r.stdout)

    def logout_state(self, user):
        """What a first login and its logout leave."""
        self.forget_user(user)
        r = self.login(user)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "ran\n")
        self.assertClean()
        return self.cgroup_tree()

    def assertLeavesNoMoreThanALogout(self, reference):
        self.assertClean(timeout=5.0)
        extra = sorted(self.cgroup_tree() - reference)
        self.assertEqual(extra, [], "cgroups a normal logout would not leave")


class TestHelperKilled(HelperDeathCase):
    def test_helper_killed_at_each_stage(self):
        reference = self.logout_state(self.u1)
        for stage in STAGES:
            for first in (True, False):
                with self.subTest(stage=stage, first_login=first):
                    self.forget_user(self.u1)  # whatever an earlier failure left
                    if not first:
                        self.assertEqual(self.login(self.u1).returncode, 0)
                        self.assertClean()
                    r = self.login(self.u1, helper=self.wrapper("ISOLATE_TEST_DIE_AT", stage))
                    self.assertRefused(r)
                    self.assertLeavesNoMoreThanALogout(reference)
        # and the user can log in again
        r = self.login(self.u1)
        self.assertEqual((r.returncode, r.stdout), (0, "ran\n"), r.stderr)
        self.assertClean()


class TestHelperHanging(HelperDeathCase):
    def test_helper_hanging_after_the_cgroups_is_killed_and_leaves_nothing(self):
        """A cap write that blocks (v1 memory.limit_in_bytes while the kernel reclaims)
        holds the helper until the caller's timeout kills it."""
        reference = self.logout_state(self.u1)
        self.forget_user(self.u1)
        r = self.login(self.u1, cfg=self.cfg_short,
                       helper=self.wrapper("ISOLATE_TEST_HANG_AT", "cgroup"))
        self.assertRefused(r)
        self.assertLeavesNoMoreThanALogout(reference)


class TestReleaseHelperHasNoFaultInjection(HelperDeathCase):
    def test_release_helper_ignores_the_test_hooks(self):
        """The root helper that ships cannot be made to die or hang by its environment: the
        hooks are compiled into the test-only helper alone."""
        with open(HELPER, "rb") as f:
            release = f.read()
        require_built(FAULT_HELPER)
        with open(FAULT_HELPER, "rb") as f:
            faults = f.read()
        for var in (b"ISOLATE_TEST_DIE_AT", b"ISOLATE_TEST_HANG_AT",
                    b"ISOLATE_TEST_NO_MOUNT_SETATTR"):
            self.assertNotIn(var, release)
            self.assertIn(var, faults)
        for stage in ("config", "commit"):
            with self.subTest(stage=stage):
                r = self.login(self.u1, helper=self.wrapper("ISOLATE_TEST_DIE_AT", stage,
                                                            helper=HELPER))
                self.assertEqual((r.returncode, r.stdout), (0, "ran\n"), r.stderr)
                self.assertClean()


class TestHelperKilledCgroupV2(TestHelperKilled):
    """The same on the cgroupfs v2 backend, whatever this host's default (a hybrid host has a
    cgroup2 hierarchy without controllers; the test policy sets no caps). There the session
    child moves itself into the leaf, and an abandoned child or init moves itself out again
    through the supervisor's cgroup.procs opened before its cgroup namespace was made."""

    BACKEND = "v2"

    @classmethod
    def setUpClass(cls):
        if not cgroup2_mounted():
            raise unittest.SkipTest("no cgroup2 hierarchy on this host")
        if systemd_booted():
            raise unittest.SkipTest("systemd owns the cgroup2 tree here: the v2 backend is "
                                    "not for systemd hosts")
        super().setUpClass()

    def test_session_in_its_leaf(self):
        """The child got into the leaf before it made the cgroup namespace (the session sees
        its leaf as /), and the init is out of it (it can remove it)."""
        p = self.sb.start(self.u1, "grep ^0:: /proc/self/cgroup; echo $$; read x", self.cfg,
                          stdin=subprocess.PIPE)
        try:
            seen, shell = p.stdout.readline(), p.stdout.readline()
            self.assertEqual(seen, "0::/\n", p.stderr.read() if not seen else seen)
            leaves = self.sb.session_leaves()
            self.assertEqual(len(leaves), 1, leaves)
            with open(os.path.join(leaves[0], "cgroup.procs")) as f:
                procs = f.read().split()
            inits = self.sb.init_processes()
            self.assertEqual(len(inits), 1, inits)
            self.assertNotIn(str(inits[0]), procs)
            self.assertIn(str(p.pid), procs)  # the caller, isolatectl run
            self.assertTrue(shell.strip().isdigit(), shell)
        finally:
            p.stdin.close()
            p.wait(timeout=30)
            p.stdout.close()
            p.stderr.close()
        self.assertClean()


if __name__ == "__main__":
    unittest.main()
