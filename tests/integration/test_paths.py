"""Issue 11, finding 3: root must not follow names in places users can write.

The session's first process makes the policy's masked and read-only paths, and the helper
plans Landlock rules under $HOME, as root. Where such a path passes through a directory a
user can write, the user controls the names: a symlink there must not lead root elsewhere,
and a name swapped after the session began must not undo what root made. Each test is the
attack, seen from the user's side."""

import os
import shutil
import subprocess
import tempfile

from harness import FAULT_HELPER, HELPER, ISOLATECTL, SandboxTestCase

EXIT_REFUSED = 125


class PathsTestCase(SandboxTestCase):
    def setUp(self):
        # outside /tmp: sessions have a /tmp of their own
        self.base = tempfile.mkdtemp(prefix="isolate-test-", dir="/var/lib")
        self.addCleanup(shutil.rmtree, self.base, True)
        os.chmod(self.base, 0o755)
        # a directory every user may write, as admins make for teams (/srv/shared)
        self.shared = self.path("shared")
        os.mkdir(self.shared)
        os.chmod(self.shared, 0o1777)
        # root's, readable by all, named in no policy
        self.victim = self.path("victim")
        os.mkdir(self.victim)
        with open(os.path.join(self.victim, "data"), "w") as f:
            f.write("visible\n")

    def path(self, *names):
        return os.path.join(self.base, *names)

    def user_symlink(self, target, link, user=None):
        """What the user does: ln -s target link, in a directory the user may write."""
        user = user or self.u1
        os.symlink(target, link)
        os.lchown(link, user.uid, user.gid)

    def user_dir(self, path, user=None):
        user = user or self.u1
        os.mkdir(path)
        os.chown(path, user.uid, user.gid)


class TestMaskedPaths(PathsTestCase):
    def test_mask_does_not_follow_a_users_symlink_on_the_way(self):
        """masked_paths = {shared/team/data}: the user makes `team` a symlink to a directory of
        root's; root must not mask root's file instead."""
        cfg = self.sb.config(policies=("policy p {\n masked_paths = "
                                       f"{{\"{self.shared}/team/data\"}}\n}}\n"),
                             default_policy="p", name="mask.conf")
        self.user_symlink(self.victim, os.path.join(self.shared, "team"))
        r = self.sb.run(self.u1, f"cat {self.victim}/data; echo ran", cfg)
        self.assertNotEqual(r.stdout.split(), ["ran"], "root masked the symlink's target")
        self.assertEqual(r.returncode, EXIT_REFUSED, r.stdout + r.stderr)
        self.assertIn("symbolic link", r.stderr)
        self.assertClean()

    def test_mask_of_a_real_directory_in_a_shared_dir_still_works(self):
        team = os.path.join(self.shared, "team")
        self.user_dir(team)
        with open(os.path.join(team, "data"), "w") as f:
            f.write("secret\n")
        cfg = self.sb.config(policies=("policy p {\n masked_paths = "
                                       f"{{\"{team}/data\"}}\n}}\n"),
                             default_policy="p", name="mask-ok.conf")
        r = self.sb.run(self.u1, f"wc -c < {team}/data", cfg)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split(), ["0"])


class TestReadOnlyPaths(PathsTestCase):
    def test_read_only_path_cannot_be_swapped_for_a_symlink(self):
        """read_only_paths = {shared/team/proj}: the user makes `team` a symlink to a decoy
        before the login; root made the decoy read-only and left the names alone, so once
        the user (from outside the session) puts a real `team` back, the path the admin made
        read-only is writable inside."""
        team = os.path.join(self.shared, "team")
        proj = os.path.join(team, "proj")
        decoy = os.path.join(self.shared, "decoy")
        self.user_dir(decoy)
        self.user_dir(os.path.join(decoy, "proj"))
        self.user_symlink(decoy, team)
        cfg = self.sb.config(policies=f"policy p {{\n read_only_paths = {{\"{proj}\"}}\n}}\n",
                             default_policy="p", name="ro.conf")
        p = self.sb.start(self.u1, f"echo ready; read x; touch {proj}/x && echo WROTE", cfg,
                          stdin=subprocess.PIPE)
        first = p.stdout.readline()
        if first == "ready\n":
            # the user, outside the session: a real directory back in place of the link
            os.unlink(team)
            self.user_dir(team)
            self.user_dir(proj)
        out, err = p.communicate("go\n", timeout=60)
        self.assertNotIn("WROTE", out, "the read-only path is writable inside")
        self.assertFalse(os.path.exists(os.path.join(proj, "x")))
        self.assertEqual(first, "", "a session began on a symlinked read-only path")
        self.assertEqual(p.returncode, EXIT_REFUSED, err)
        self.assertIn("symbolic link", err)
        self.assertClean()

    def test_read_only_path_that_is_a_users_symlink_refused(self):
        proj = os.path.join(self.shared, "proj")
        decoy = os.path.join(self.shared, "decoy")
        self.user_dir(decoy)
        self.user_symlink(decoy, proj)
        cfg = self.sb.config(policies=f"policy p {{\n read_only_paths = {{\"{proj}\"}}\n}}\n",
                             default_policy="p", name="ro-last.conf")
        r = self.sb.run(self.u1, "echo ran", cfg)
        self.assertEqual(r.returncode, EXIT_REFUSED, r.stdout + r.stderr)
        self.assertIn("symbolic link", r.stderr)
        self.assertClean()

    def test_read_only_path_through_a_users_symlink_refused(self):
        """read_only_paths = {shared/team/conf}: `team` is the user's symlink to a directory
        of root's; the bind must not land on root's directory."""
        os.mkdir(os.path.join(self.victim, "conf"))
        cfg = self.sb.config(policies=("policy p {\n read_only_paths = "
                                       f"{{\"{self.shared}/team/conf\"}}\n}}\n"),
                             default_policy="p", name="ro2.conf")
        self.user_symlink(self.victim, os.path.join(self.shared, "team"))
        r = self.sb.run(self.u1, f"grep -c ' {self.victim}/conf ' /proc/self/mountinfo", cfg)
        self.assertNotEqual(r.stdout.strip(), "1", "the bind landed on root's directory")
        self.assertEqual(r.returncode, EXIT_REFUSED, r.stdout + r.stderr)
        self.assertIn("symbolic link", r.stderr)
        self.assertClean()

    def test_roots_own_symlinks_are_followed(self):
        """A symlink root made in a directory only root can write (/lib -> usr/lib on merged
        /usr hosts) is the admin's own name: followed."""
        real = self.path("real")
        os.mkdir(real)
        os.symlink("real", self.path("alias"))
        cfg = self.sb.config(policies=("policy p {\n read_only_paths = "
                                       f"{{\"{self.path('alias')}\"}}\n}}\n"),
                             default_policy="p", name="ro3.conf")
        r = self.sb.run(self.u1, f"touch {real}/x", cfg)
        self.assertNotEqual(r.returncode, EXIT_REFUSED, r.stderr)
        self.assertIn("Read-only file system", r.stderr)


class TestLandlockHomeProbe(PathsTestCase):
    """Landlock rules under $HOME are planned by the helper as root: following the user's
    symlink there told the user whether a path only root can see exists (the session was
    refused when it did, began when it did not)."""

    def test_symlink_in_home_refused_whether_its_target_exists_or_not(self):
        private = self.path("private")
        os.mkdir(private, 0o700)
        with open(os.path.join(private, "exists"), "w") as f:
            f.write("x\n")
        link = os.path.join(self.u1.home, "probe")
        self.addCleanup(lambda: os.path.lexists(link) and os.unlink(link))
        cfg = self.sb.config(policies=("policy p {\n"
                                       " landlock_read_write = {'$HOME/probe', \"/tmp\"}\n}\n"),
                             default_policy="p", name="probe.conf")
        seen = {}
        for target in ("exists", "missing"):
            if os.path.lexists(link):
                os.unlink(link)
            self.user_symlink(os.path.join(private, target), link)
            r = self.sb.run(self.u1, "echo ran", cfg)
            seen[target] = (r.returncode, r.stdout)
            self.assertEqual(r.returncode, EXIT_REFUSED, f"{target}: {r.stdout} {r.stderr}")
            self.assertIn("symbolic link", r.stderr)
        self.assertEqual(seen["exists"], seen["missing"], "the outcome tells what root saw")
        self.assertClean()


class TestReadOnlyWithoutMountSetattr(PathsTestCase):
    """Linux 5.11 has no mount_setattr: read-only trees are remounted one mount at a time,
    by the names in mountinfo, which escape spaces as \\040. The helper is made to take that
    path here (ISOLATE_TEST_NO_MOUNT_SETATTR, which only the test build of the helper reads)."""

    def test_fallback_makes_every_mount_read_only(self):
        ro = self.path("ro")
        sub = os.path.join(ro, "sub dir")
        os.makedirs(sub)
        os.chmod(ro, 0o1777)
        secret = self.path("secret")
        with open(secret, "w") as f:
            f.write("s3cret\n")
        cfg = self.sb.config(policies=("policy p {\n proc = docker\n"
                                       f" read_only_paths = {{\"{ro}\"}}\n"
                                       f" masked_paths = {{\"{secret}\", \"{self.victim}\"}}\n"
                                       "}\n"),
                             default_policy="p", name="fallback.conf")
        wrapper = os.path.join(self.sb.dir, "no-setattr.sh")
        with open(wrapper, "w") as f:
            f.write(f"#!/bin/sh\nISOLATE_TEST_NO_MOUNT_SETATTR=1 exec {FAULT_HELPER} \"$@\"\n")
        os.chmod(wrapper, 0o755)
        inside = (f"touch {ro}/a || echo ro-top; touch '{sub}/b' || echo ro-sub; "
                  f"wc -c < {secret}; ls -A {self.victim} | wc -l; "
                  "echo x > /proc/sys/kernel/hostname || echo ro-proc-sys; "
                  f"grep ' {ro}/sub\\\\040dir ' /proc/self/mountinfo | tail -1 | cut -d' ' -f6")
        # a tmpfs on "sub dir" in a mount namespace of the test's own (gone with it)
        script = (f"set -e; mount -t tmpfs -o size=1m,nosuid,nodev,noexec isolate-test '{sub}'; "
                  f"exec {ISOLATECTL} run -c {cfg} --helper {wrapper} {self.u1.name} -- "
                  f"sh -c \"$1\"")
        r = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", inside],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        # the remount keeps what the mount had: nosuid, nodev, noexec
        self.assertEqual(r.stdout.split(), ["ro-top", "ro-sub", "0", "0", "ro-proc-sys",
                                            "ro,nosuid,nodev,noexec,relatime"], r.stderr)
        self.assertEqual(r.stderr.count("Read-only file system"), 3, r.stderr)
        self.assertClean()


if __name__ == "__main__":
    import unittest
    unittest.main()
