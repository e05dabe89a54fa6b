"""Issue 4: per-user resource caps on this machine's real cgroups (v1, hybrid), seen through
`isolatectl run` sessions and `isolatectl list`/`gc`.

Each class has its own cgroup root ./isolate-test-XXXX under the cgroup the tests run in,
removed at the end (also on failure) by harness.Sandbox. Every policy has caps_required =
true: a cap this host cannot apply fails the session instead of passing silently."""

import json
import os
import shlex
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ISOLATECTL, SandboxTestCase  # noqa: E402

MiB = 1024 * 1024
EXIT_REFUSED = 125

POLICIES = """
policy mem {
  private_tmp = true
  tmp_size = 16M
  memory_max = 64M
  swap_max = 0
  caps_required = true
}
policy disk {
  private_tmp = true
  io "/" { write_bps = 5M }
  caps_required = true
}
policy free {
  private_tmp = true
  caps_required = true
}
policy tasks {
  private_tmp = true
  pids_max = 50
  cpu_max = 50%
  cpu_weight = 50
  caps_required = true
}
"""

# Allocates and touches N MiB, says so, optionally holds it for S seconds.
ALLOC = ("import sys, time\n"
         "n, hold = int(sys.argv[1]), float(sys.argv[2])\n"
         "b = bytearray(n << 20)\n"
         "for i in range(0, len(b), 4096): b[i] = 1\n"
         "print('allocated', n, flush=True)\n"
         "time.sleep(hold)\n")


def alloc_cmd(mib, hold=0.0):
    return ["/usr/bin/python3", "-c", ALLOC, str(mib), str(hold)]


class CapsTestCase(SandboxTestCase):
    USERS = ("isolate-c1", "isolate-c2")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.cfg = {name: cls.sb.config(policies=POLICIES, default_policy=name,
                                           name=f"{name}.conf")
                       for name in ("mem", "disk", "free", "tasks")}
        except Exception:
            cls.sb.close()
            raise

    def start(self, user, cmd, cfg):
        """A session in the background, ended (and its pipes closed) at the end of the test."""
        p = self.sb.start(user, cmd, cfg)

        def end():
            if p.poll() is None:
                p.kill()
            p.communicate(timeout=60)
        self.addCleanup(end)
        return p

    def user_cgroup(self, controller, user):
        """The host path of user-UID in the hierarchy holding controller."""
        for root in self.sb.cgroup_dirs():
            if root.startswith(f"/sys/fs/cgroup/{controller}/"):
                return os.path.join(root, f"user-{user.uid}")
        self.fail(f"no {controller} hierarchy")

    @staticmethod
    def read(path):
        with open(path) as f:
            return f.read()

    def list_json(self, cfg):
        r = subprocess.run([ISOLATECTL, "list", "-c", cfg, "--json"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def session_of(self, cfg, user):
        listed = self.list_json(cfg)
        rows = [s for s in listed if s["user"] == user.name]
        self.assertEqual(len(rows), 1, listed)
        return rows[0]


class TestMemory(CapsTestCase):
    def test_oom_inside_peak_under_cap_host_untouched(self):
        # a host process holding as much as the session tries to: it must live on
        host = subprocess.Popen(alloc_cmd(128, 120), stdout=subprocess.PIPE, text=True)
        self.addCleanup(host.communicate)
        self.addCleanup(host.kill)
        self.assertEqual(host.stdout.readline(), "allocated 128\n")

        # twice the cap: killed inside the session; the session's shell goes on
        cmd = (f"/usr/bin/python3 -c {shlex.quote(ALLOC)} 128 0; echo rc=$?; "
               "cat /sys/fs/cgroup/memory/memory.max_usage_in_bytes; "
               "grep oom_kill /sys/fs/cgroup/memory/memory.oom_control; echo listed; sleep 3")
        p = self.start(self.u1, cmd, self.cfg["mem"])
        lines = []
        while not lines or lines[-1] != "listed":
            line = p.stdout.readline()
            if not line:
                self.fail(f"session ended early: {p.stderr.read()}")
            lines.append(line.strip())
        row = self.session_of(self.cfg["mem"], self.u1)  # isolatectl list, while it runs
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, err)
        self.assertNotIn("allocated 128", lines, "the allocation was not stopped")
        self.assertIn("rc=137", lines, "not killed by SIGKILL (the OOM killer)")
        session_peak = int(lines[lines.index("rc=137") + 1])
        self.assertIn("oom_kill 1", lines, "the session saw no OOM kill")
        self.assertLessEqual(session_peak, 64 * MiB)
        self.assertGreater(session_peak, 32 * MiB, "it never came near the cap")
        self.assertEqual(row["policy"], "mem")
        self.assertLessEqual(row["memory_peak"], 64 * MiB)
        self.assertGreater(row["memory_peak"], 32 * MiB)

        user = self.user_cgroup("memory", self.u1)
        self.assertEqual(int(self.read(f"{user}/memory.limit_in_bytes")), 64 * MiB)
        self.assertEqual(int(self.read(f"{user}/memory.memsw.limit_in_bytes")), 64 * MiB)
        # the user's peak: up to the cap, never above (failcnt stays 0 on this 6.18 kernel)
        self.assertLessEqual(int(self.read(f"{user}/memory.max_usage_in_bytes")), 64 * MiB)
        self.assertGreater(int(self.read(f"{user}/memory.max_usage_in_bytes")), 60 * MiB)

        self.assertIsNone(host.poll(), "the host process was hit")
        self.assertClean()

    def test_two_sessions_share_the_cap(self):
        # each alone fits under 64M
        for _ in range(2):
            r = self.sb.run(self.u1, alloc_cmd(36), self.cfg["mem"])
            self.assertEqual((r.returncode, r.stdout), (0, "allocated 36\n"), r.stderr)
        # together they do not: one of the two is killed
        first = self.start(self.u1, alloc_cmd(36, 15), self.cfg["mem"])
        self.assertEqual(first.stdout.readline(), "allocated 36\n")
        second = self.sb.run(self.u1, alloc_cmd(36, 0), self.cfg["mem"])
        if second.returncode == 137:
            first.terminate()  # the caller goes, the init ends the session
            first.communicate(timeout=60)
        else:
            first.communicate(timeout=60)
            self.assertEqual(first.returncode, 137,
                             f"both sessions got 36M under a 64M cap: {second}")
        # the cap that was hit is the user's, not a session's
        user = self.user_cgroup("memory", self.u1)
        self.assertLessEqual(int(self.read(f"{user}/memory.max_usage_in_bytes")), 64 * MiB)
        self.assertGreater(int(self.read(f"{user}/memory.max_usage_in_bytes")), 60 * MiB)
        # another user is not affected by the first user's cap use
        r = self.sb.run(self.u2, alloc_cmd(36), self.cfg["mem"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertClean()


class TestDisk(CapsTestCase):
    DD = ("stat -f -c %T \"$HOME\"; f=\"$HOME/isolate-dd.$$\"; s=$(date +%s%N); "
          "dd if=/dev/zero of=\"$f\" bs=1M count=20 oflag=direct 2>/dev/null; rc=$?; "
          "e=$(date +%s%N); rm -f \"$f\"; echo rc=$rc; echo $(( (e - s) / 1000000 ))")

    def dd_ms(self, cfg):
        r = self.sb.run(self.u1, self.DD, cfg, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.split()
        # the file is on the ext4 root, not on the session's tmpfs
        self.assertEqual(lines[0], "ext2/ext3")
        self.assertEqual(lines[1], "rc=0")
        return int(lines[2])

    def test_write_bps_throttles_direct_io(self):
        fast = self.dd_ms(self.cfg["free"])
        slow = self.dd_ms(self.cfg["disk"])
        print(f"\ndd 20M oflag=direct: {fast} ms uncapped, {slow} ms under write_bps = 5M",
              file=sys.stderr)
        self.assertGreaterEqual(slow, 3500)
        self.assertGreaterEqual(slow / max(fast, 1), 3.0, f"{slow} ms vs {fast} ms")
        user = self.user_cgroup("blkio", self.u1)
        rule = self.read(f"{user}/blkio.throttle.write_bps_device").split()
        self.assertEqual(rule[1], str(5 * MiB))
        self.assertClean()

    def test_list_shows_io_bytes(self):
        p = self.start(self.u1, self.DD + "; echo listed; sleep 3", self.cfg["disk"])
        for line in p.stdout:
            if line.strip() == "listed":
                break
        row = self.session_of(self.cfg["disk"], self.u1)
        self.assertGreaterEqual(row["io_write_bytes"], 20 * MiB)
        self.assertGreaterEqual(row["tasks"], 1)
        # and the table has the same session on one line
        r = subprocess.run([ISOLATECTL, "list", "-c", self.cfg["disk"]], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        mine = [l for l in r.stdout.splitlines() if l.startswith(self.u1.name + " ")]
        self.assertEqual(len(mine), 1, r.stdout)
        self.assertIn(row["id"], mine[0])
        self.assertIn("disk", mine[0].split())
        p.communicate(timeout=60)
        self.assertClean()


class TestTasks(CapsTestCase):
    def test_fork_bomb_stops_at_pids_max_other_user_runs(self):
        # the session's own shell stays out of the bomb, so that the session lasts
        bomb = self.start(self.u1, "sleep 30 & s=$!; (b() { b | b & }; b) & echo up; wait $s",
                          self.cfg["tasks"])
        self.assertEqual(bomb.stdout.readline(), "up\n")
        pids = self.user_cgroup("pids", self.u1)
        leaf = [e.path for e in os.scandir(pids) if e.name.startswith("session-")]
        self.assertEqual(len(leaf), 1)
        # forks refused: counted where they were tried (the session), for the user's cap
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            refused = int(self.read(f"{leaf[0]}/pids.events").split()[1])
            if refused > 0:
                break
            time.sleep(0.1)
        self.assertGreater(refused, 0, "the bomb never hit the cap")
        self.assertEqual(self.read(f"{pids}/pids.max").strip(), "50")
        self.assertEqual(int(self.read(f"{pids}/pids.peak")), 50)
        self.assertLessEqual(int(self.read(f"{pids}/pids.current")), 50)
        cpu = self.user_cgroup("cpu", self.u1)
        self.assertEqual(self.read(f"{cpu}/cpu.cfs_quota_us").strip(), "50000")
        self.assertEqual(self.read(f"{cpu}/cpu.shares").strip(), "512")

        # meanwhile another user's session starts and runs normally
        t = time.monotonic()
        r = self.sb.run(self.u2, "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 0.1 & done; wait; "
                                 "echo done", self.cfg["tasks"], timeout=60)
        self.assertEqual((r.returncode, r.stdout), (0, "done\n"), r.stderr)
        self.assertLess(time.monotonic() - t, 15)
        self.assertGreater(int(self.read(f"{leaf[0]}/pids.events").split()[1]), refused,
                           "the bomb was not still running")
        self.assertEqual(int(self.read(f"{pids}/pids.peak")), 50)

        bomb.terminate()  # the caller goes: the init kills the rest of the session
        bomb.communicate(timeout=60)
        self.assertClean(timeout=10)


class TestLifecycle(CapsTestCase):
    def test_after_the_session_leaf_gone_user_cgroup_empty(self):
        r = self.sb.run(self.u1, "cat /proc/self/cgroup", self.cfg["tasks"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertClean()
        for ctl in ("memory", "blkio", "pids", "cpu"):
            user = self.user_cgroup(ctl, self.u1)
            self.assertTrue(os.path.isdir(user), f"{ctl}: the user's cgroup is gone")
            self.assertEqual(self.read(f"{user}/cgroup.procs"), "", f"{ctl}: not empty")
            leaves = [e for e in os.listdir(user) if e.startswith("session-")]
            self.assertEqual(leaves, [], ctl)

    def test_gc_after_an_init_was_killed(self):
        p = self.start(self.u1, "echo up; sleep 60", self.cfg["free"])
        self.assertEqual(p.stdout.readline(), "up\n")
        inits = self.sb.init_processes()
        self.assertEqual(len(inits), 1)
        os.kill(inits[0], 9)  # a session that ends badly: no cleanup by its init
        p.communicate(timeout=30)
        self.assertEqual(len(self.sb.registry_entries()), 1)
        self.assertEqual(self.list_json(self.cfg["free"]), [], "a dead session is listed")
        r = subprocess.run([ISOLATECTL, "gc", "-c", self.cfg["free"]], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("removed 1 registry entry of dead sessions and the cgroups of 1 session",
                      r.stdout)
        self.assertClean(timeout=0.5)

    def test_missing_device_refused_at_login(self):
        cfg = self.sb.config(policies="policy bad {\n  io \"/proc\" { write_bps = 1M }\n"
                                      "  caps_required = true\n}\n",
                             default_policy="bad", name="bad.conf")
        r = self.sb.run(self.u1, "echo ran", cfg)
        self.assertEqual(r.returncode, EXIT_REFUSED, r.stdout)
        self.assertNotIn("ran", r.stdout)
        self.assertIn("/proc: no block device behind it (proc)", r.stderr)
        self.assertClean()


if __name__ == "__main__":
    unittest.main()
