"""Issue 4: per-user resource caps on this host's real cgroups, seen through `isolatectl run`
sessions and `isolatectl list`/`gc`. The files checked are the ones this host's layout has
(cgroup_layout.py): v1 (memory.limit_in_bytes, blkio.throttle.*, cpu.cfs_quota_us, cpu.shares)
or pure v2 (memory.max, io.max, cpu.max, cpu.weight).

Each class has its own cgroup root ./isolate-test-XXXX under the cgroup the tests run in,
removed at the end (also on failure) by harness.Sandbox. Every policy has caps_required =
true: a cap this host cannot apply fails the session instead of passing silently; where the
host lacks what a cap needs (swap accounting, a block device under the home directory), the
test asserts that refusal instead."""

import json
import os
import shlex
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cgroup_layout  # noqa: E402
from harness import ISOLATECTL, SandboxTestCase  # noqa: E402

MiB = 1024 * 1024
EXIT_REFUSED = 125

V2 = cgroup_layout.unified()

# SWAP: "swap_max = 0" where swap is accounted, so the session cannot swap its way past the
# cap; elsewhere it cannot be applied (test_swap_cap checks the refusal). HOME: the first
# user's home, where the dd writes: its disk is the one to throttle.
POLICIES = """
policy mem {{
  private_tmp = true
  tmp_size = 16M
  memory_max = 64M
  {swap}
  caps_required = true
}}
policy swapcap {{
  memory_max = 64M
  swap_max = 0
  caps_required = true
}}
policy disk {{
  private_tmp = true
  io "{home}" {{ write_bps = 5M }}
  caps_required = true
}}
policy free {{
  private_tmp = true
  caps_required = true
}}
policy tasks {{
  private_tmp = true
  pids_max = 50
  cpu_max = 50%
  cpu_weight = 50
  caps_required = true
}}
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


def block_device_behind(path):
    """Whether a block device holds path's file system: a real st_dev, or (btrfs and other
    anonymous st_dev) a mount source that is a block device node."""
    if os.major(os.stat(path).st_dev) != 0:
        return True
    r = subprocess.run(["findmnt", "-n", "-o", "SOURCE", "-T", path], capture_output=True,
                       text=True)
    source = r.stdout.strip().split("[", 1)[0]  # btrfs: /dev/sda2[/@home]
    return source.startswith("/") and os.path.exists(source) and \
        stat.S_ISBLK(os.stat(source).st_mode)


class CapsTestCase(SandboxTestCase):
    USERS = ("isolate-c1", "isolate-c2")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.swap_accounted = cgroup_layout.swap_accounted()
            policies = POLICIES.format(swap="swap_max = 0" if cls.swap_accounted else "",
                                       home=cls.u1.home)
            cls.cfg = {name: cls.sb.config(policies=policies, default_policy=name,
                                           name=f"{name}.conf")
                       for name in ("mem", "swapcap", "disk", "free", "tasks")}
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
        mnt = cgroup_layout.hierarchy(controller)
        if mnt is None:
            self.fail(f"this host has no {controller} controller mounted")
        for root in self.sb.cgroup_dirs():
            if root.startswith(mnt + "/"):
                return os.path.join(root, f"user-{user.uid}")
        self.fail(f"none of our cgroup roots is in the {controller} hierarchy {mnt}")

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


# Memory files as this host's layout names them: the cap, the high-water mark (v2 before
# Linux 5.19 has none), the OOM kill count. Inside a session the memory hierarchy is mounted
# at /sys/fs/cgroup (v2) or /sys/fs/cgroup/NAME, NAME being the host's mount dir's name (v1).
MEMORY_MAX = "memory.max" if V2 else "memory.limit_in_bytes"
MEMORY_PEAK = "memory.peak" if V2 else "memory.max_usage_in_bytes"
OOM_COUNTS = "memory.events" if V2 else "memory.oom_control"


def memory_inside():
    mnt = cgroup_layout.hierarchy("memory")
    return "/sys/fs/cgroup" if V2 else f"/sys/fs/cgroup/{os.path.basename(mnt)}"


class TestMemory(CapsTestCase):
    def require_no_swapping(self):
        """The OOM tests need a session that cannot swap: swap accounted (swap_max = 0), or
        no swap at all."""
        if not self.swap_accounted and cgroup_layout.swap_in_use():
            self.skipTest("swap is on but the memory controller does not account it "
                          "(swapaccount=0 or no CONFIG_MEMCG_SWAP): a 64M cap cannot keep a "
                          "session from swapping, and swap_max cannot be applied")

    def peak_of(self, cgroup_dir):
        """The high-water mark of a cgroup, or None where the kernel keeps none."""
        path = os.path.join(cgroup_dir, MEMORY_PEAK)
        return int(self.read(path)) if os.path.exists(path) else None

    def test_oom_inside_peak_under_cap_host_untouched(self):
        self.require_no_swapping()
        # a host process holding as much as the session tries to: it must live on
        host = subprocess.Popen(alloc_cmd(128, 120), stdout=subprocess.PIPE, text=True)
        self.addCleanup(host.communicate)
        self.addCleanup(host.kill)
        self.assertEqual(host.stdout.readline(), "allocated 128\n")

        # twice the cap: killed inside the session; the session's shell goes on
        inside = memory_inside()
        cmd = (f"/usr/bin/python3 -c {shlex.quote(ALLOC)} 128 0; echo rc=$?; "
               f"cat {inside}/{MEMORY_PEAK} 2>/dev/null || echo no-peak; "
               f"grep '^oom_kill ' {inside}/{OOM_COUNTS}; echo listed; sleep 3")
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
        self.assertIn("oom_kill 1", lines, "the session saw no OOM kill")
        self.assertEqual(row["policy"], "mem")
        user = self.user_cgroup("memory", self.u1)
        self.assertEqual(int(self.read(f"{user}/{MEMORY_MAX}")), 64 * MiB)
        session_peak = lines[lines.index("rc=137") + 1]
        user_peak = self.peak_of(user)
        if session_peak == "no-peak":
            self.assertIsNone(user_peak)
            print(f"\nthis kernel keeps no {MEMORY_PEAK}: the peaks are not checked",
                  file=sys.stderr)
        else:
            self.assertLessEqual(int(session_peak), 64 * MiB)
            self.assertGreater(int(session_peak), 32 * MiB, "it never came near the cap")
            self.assertLessEqual(row["memory_peak"], 64 * MiB)
            self.assertGreater(row["memory_peak"], 32 * MiB)
            # the user's peak: up to the cap, never above
            self.assertLessEqual(user_peak, 64 * MiB)
            self.assertGreater(user_peak, 60 * MiB)

        self.assertIsNone(host.poll(), "the host process was hit")
        self.assertClean()

    def test_swap_cap(self):
        """swap_max = 0 where swap is accounted; where it is not, the session is refused
        (caps_required), naming what is missing."""
        r = self.sb.run(self.u1, "echo ran", self.cfg["swapcap"])
        user = self.user_cgroup("memory", self.u1)
        if not self.swap_accounted:
            self.assertEqual(r.returncode, EXIT_REFUSED, r.stdout + r.stderr)
            self.assertRegex(r.stderr, r"swap accounting is off|memory\.swap\.max does not exist")
            self.assertNotIn("ran", r.stdout)
        elif V2:
            self.assertEqual((r.returncode, r.stdout), (0, "ran\n"), r.stderr)
            self.assertEqual(self.read(f"{user}/memory.swap.max").strip(), "0")
        else:
            self.assertEqual((r.returncode, r.stdout), (0, "ran\n"), r.stderr)
            # v1 caps memory + swap together: swap 0 is memsw = memory
            self.assertEqual(int(self.read(f"{user}/memory.memsw.limit_in_bytes")), 64 * MiB)
        self.assertClean()

    def test_two_sessions_share_the_cap(self):
        self.require_no_swapping()
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
        self.assertEqual(int(self.read(f"{user}/{MEMORY_MAX}")), 64 * MiB)
        user_peak = self.peak_of(user)
        if user_peak is not None:
            self.assertLessEqual(user_peak, 64 * MiB)
            self.assertGreater(user_peak, 60 * MiB)
        # another user is not affected by the first user's cap use
        r = self.sb.run(self.u2, alloc_cmd(36), self.cfg["mem"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertClean()


class TestDisk(CapsTestCase):
    DD = ("stat -f -c %T \"$HOME\"; f=\"$HOME/isolate-dd.$$\"; s=$(date +%s%N); "
          "dd if=/dev/zero of=\"$f\" bs=1M count=20 oflag=direct 2>/dev/null; rc=$?; "
          "e=$(date +%s%N); rm -f \"$f\"; echo rc=$rc; echo $(( (e - s) / 1000000 ))")

    def setUp(self):
        # the policy's io target is the home directory: what is behind it on this host
        self.home_on_disk = block_device_behind(self.u1.home)
        self.home_fstype = subprocess.run(["stat", "-f", "-c", "%T", self.u1.home],
                                          capture_output=True, text=True).stdout.strip()

    def assertRefusedWithoutDisk(self):
        """No block device under the home directory (a container's overlay, tmpfs, NFS):
        nothing to throttle, so caps_required refuses the session, saying why."""
        r = self.sb.run(self.u1, "echo ran", self.cfg["disk"])
        self.assertEqual(r.returncode, EXIT_REFUSED, r.stdout + r.stderr)
        self.assertIn(f"{self.u1.home}: no block device behind it", r.stderr)
        print(f"\n{self.u1.home} is on {self.home_fstype}, no block device: the disk policy "
              "is refused", file=sys.stderr)
        self.assertClean()

    def dd_ms(self, cfg):
        r = self.sb.run(self.u1, self.DD, cfg, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.split()
        # the file is on the home's own file system, not on a tmpfs of the session
        self.assertEqual(lines[0], self.home_fstype)
        self.assertEqual(lines[1], "rc=0")
        return int(lines[2])

    def test_write_bps_throttles_direct_io(self):
        if not self.home_on_disk:
            self.assertRefusedWithoutDisk()
            return
        fast = self.dd_ms(self.cfg["free"])
        slow = self.dd_ms(self.cfg["disk"])
        print(f"\ndd 20M oflag=direct on {self.home_fstype}: {fast} ms uncapped, {slow} ms "
              "under write_bps = 5M", file=sys.stderr)
        self.assertGreaterEqual(slow, 3500)
        self.assertGreaterEqual(slow / max(fast, 1), 3.0, f"{slow} ms vs {fast} ms")
        user = self.user_cgroup("io", self.u1)
        if V2:
            rules = self.read(f"{user}/io.max").splitlines()
            self.assertTrue(rules, "no io.max rule")
            for rule in rules:
                self.assertIn(f"wbps={5 * MiB}", rule.split(), rule)
        else:
            rule = self.read(f"{user}/blkio.throttle.write_bps_device").split()
            self.assertEqual(rule[1], str(5 * MiB))
        self.assertClean()

    def test_list_shows_io_bytes(self):
        if not self.home_on_disk:
            self.assertRefusedWithoutDisk()
            return
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
    def refused_forks(self, *cgroup_dirs):
        """Forks refused by pids.max, as counted in pids.events: where they were tried (v1,
        and v2 before Linux 6.12) or where the limit was hit (v2 since 6.12): the most any
        of the directories counts."""
        counts = []
        for d in cgroup_dirs:
            events = dict(line.split() for line in self.read(f"{d}/pids.events").splitlines())
            counts.append(int(events["max"]))
        return max(counts)

    def assertPidsPeak(self, pids):
        """pids.peak (Linux 6.1 and later) saw the cap reached, never passed."""
        if os.path.exists(f"{pids}/pids.peak"):
            self.assertEqual(int(self.read(f"{pids}/pids.peak")), 50)
        else:
            print("\nthis kernel keeps no pids.peak: the peak is not checked", file=sys.stderr)

    def test_fork_bomb_stops_at_pids_max_other_user_runs(self):
        # the session's own shell stays out of the bomb, so that the session lasts
        # each bomb process forks for ever (bash retries a refused fork, then goes on): a
        # bomb of `b | b &` can die out when all its processes are refused at once
        bomb = self.start(self.u1, "sleep 30 & s=$!; (b() { while :; do b & done; }; b) & "
                                   "echo up; wait $s",
                          self.cfg["tasks"])
        self.assertEqual(bomb.stdout.readline(), "up\n")
        pids = self.user_cgroup("pids", self.u1)
        leaf = [e.path for e in os.scandir(pids) if e.name.startswith("session-")]
        self.assertEqual(len(leaf), 1)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            refused = self.refused_forks(leaf[0], pids)
            if refused > 0:
                break
            time.sleep(0.1)
        self.assertGreater(refused, 0, "the bomb never hit the cap")
        self.assertEqual(self.read(f"{pids}/pids.max").strip(), "50")
        self.assertPidsPeak(pids)
        self.assertLessEqual(int(self.read(f"{pids}/pids.current")), 50)
        cpu = self.user_cgroup("cpu", self.u1)
        if V2:
            self.assertEqual(self.read(f"{cpu}/cpu.max").split(), ["50000", "100000"])
            self.assertEqual(self.read(f"{cpu}/cpu.weight").strip(), "50")
        else:
            self.assertEqual(self.read(f"{cpu}/cpu.cfs_quota_us").strip(), "50000")
            self.assertEqual(self.read(f"{cpu}/cpu.shares").strip(), "512")

        # meanwhile another user's session starts and runs normally
        t = time.monotonic()
        r = self.sb.run(self.u2, "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 0.1 & done; wait; "
                                 "echo done", self.cfg["tasks"], timeout=60)
        self.assertEqual((r.returncode, r.stdout), (0, "done\n"), r.stderr)
        self.assertLess(time.monotonic() - t, 15)
        self.assertGreater(self.refused_forks(leaf[0], pids), refused,
                           "the bomb was not still running")
        self.assertPidsPeak(pids)

        bomb.terminate()  # the caller goes: the init kills the rest of the session
        bomb.communicate(timeout=60)
        self.assertClean(timeout=10)


class TestLifecycle(CapsTestCase):
    def test_after_the_session_leaf_gone_user_cgroup_empty(self):
        r = self.sb.run(self.u1, "cat /proc/self/cgroup", self.cfg["tasks"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertClean()
        for ctl in ("memory", "io", "pids", "cpu"):
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
