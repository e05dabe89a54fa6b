"""Issue 14: scope = user (one sandbox per user and policy, joined by later logins), linger,
and the strictest-cap rule, through isolatectl run (the same helper path as a login).

Each test asserts what a user sees: a second login in the same pid namespace and /tmp, a
background job surviving a logout while the sandbox lingers and gone when it expires, the
user's cgroup caps staying at the strictest live policy's."""

import os
import subprocess
import time
import unittest

from harness import HELPER, ISOLATECTL, Held, SandboxTestCase

SCOPED = """
policy test {
  network = host
  private_tmp = true
  tmp_size = 64M
  scope = user
  linger = %s
}
policy other {
  network = host
  private_tmp = true
  scope = user
}
"""

CAPS = """
policy strict {
  private_tmp = true
  memory_max = 256M
  pids_max = 128
}
policy loose {
  private_tmp = true
  memory_max = 1G
  pids_max = 512
}
"""

WAIT = "echo READY; read x"
HOLD = "readlink /proc/self/ns/pid; readlink /proc/self/ns/mnt; " + WAIT


def held(user, cfg, cmd=HOLD, service="sshd"):
    """A login of user running cmd (isolatectl run), held open in the background."""
    return Held([ISOLATECTL, "run", "-c", cfg, "--service", service, "--helper", HELPER,
                 user.name, "--", "/bin/sh", "-c", cmd])


def user_caps(sb, uid):
    """{'memory': bytes, 'pids': n} from the user's cgroup (v1 or v2)."""
    out = {}
    for root in sb.cgroup_dirs():
        d = os.path.join(root, f"user-{uid}")
        for key, files in (("memory", ("memory.limit_in_bytes", "memory.max")),
                           ("pids", ("pids.max",))):
            for f in files:
                try:
                    with open(os.path.join(d, f)) as fh:
                        out[key] = fh.read().strip()
                except OSError:
                    pass
    return out


class TestUserScope(SandboxTestCase):
    USERS = ("isolate-us1", "isolate-us2")

    def test_second_login_joins_first(self):
        cfg = self.sb.config(policies=SCOPED % "no")
        with held(self.u1, cfg, "touch /tmp/from-first; " + HOLD) as a:
            a.wait_for("READY")
            pidns, mntns = a.out.split()[0:2]
            r = self.sb.run(self.u1, "readlink /proc/self/ns/pid; readlink /proc/self/ns/mnt; "
                            "ls /tmp; ps -e -o args", cfg)
            self.assertEqual(r.returncode, 0, r.stderr)
            lines = r.stdout.split()
            self.assertEqual(lines[0], pidns, "the second login is in the first one's pid ns")
            self.assertEqual(lines[1], mntns)
            self.assertIn("from-first", r.stdout, "the same private /tmp")
            self.assertIn("read x", r.stdout, "the first login's processes are visible")
            # another user never lands in it
            r2 = self.sb.run(self.u2, "readlink /proc/self/ns/pid; ls /tmp", cfg)
            self.assertEqual(r2.returncode, 0, r2.stderr)
            self.assertNotEqual(r2.stdout.split()[0], pidns)
            self.assertNotIn("from-first", r2.stdout)
            a.end()
        self.assertClean()

    def test_other_policy_other_sandbox(self):
        cfg = self.sb.config(policies=SCOPED % "no",
                             body='match {\n  services = {"su"}\n  policy = other\n}\n')
        with held(self.u1, cfg) as a:
            a.wait_for("READY")
            r = self.sb.run(self.u1, "readlink /proc/self/ns/pid", cfg, service="su")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotEqual(r.stdout.strip(), a.out.split()[0])
            a.end()
        self.assertClean()

    def test_logout_kills_nothing_while_another_login_is_open(self):
        cfg = self.sb.config(policies=SCOPED % "no")
        with held(self.u1, cfg) as a:
            a.wait_for("READY")
            r = self.sb.run(self.u1, "sleep 300 >/dev/null 2>&1 & echo $!", cfg)
            self.assertEqual(r.returncode, 0, r.stderr)
            time.sleep(0.3)
            r = self.sb.run(self.u1, "pgrep -x sleep", cfg)
            self.assertTrue(r.stdout.strip(), "the job of the ended login still runs")
            a.end()
        # the last logout without linger: nothing is left
        self.assertClean()

    def test_linger_keeps_jobs_until_it_expires(self):
        cfg = self.sb.config(policies=SCOPED % "3s")
        r = self.sb.run(self.u1, "touch /tmp/kept; sleep 300 >/dev/null 2>&1 &", cfg)
        self.assertEqual(r.returncode, 0, r.stderr)
        time.sleep(0.5)
        self.assertTrue(self.sb.init_processes(), "the sandbox lingers after the last logout")
        lst = subprocess.run([ISOLATECTL, "list", "-c", cfg], capture_output=True, text=True)
        row = [line.split() for line in lst.stdout.splitlines() if self.u1.name in line]
        self.assertEqual(len(row), 1, lst.stdout)
        self.assertEqual(row[0][-3:-1], ["user", "0"], "scope user, no login open")
        self.assertRegex(row[0][-1], r"^until-\d\d:\d\d:\d\d$", "lingering, and until when")
        r = self.sb.run(self.u1, "ls /tmp; pgrep -x sleep", cfg)
        self.assertIn("kept", r.stdout, "the next login rejoins it")
        self.assertRegex(r.stdout, r"\n\d+\n?$", "the job survived the logout")
        # expiry: everything goes
        left = self.sb.wait_clean(timeout=8)
        self.assertFalse(any(left.values()), left)
        self.assertFalse([p for p in os.listdir("/proc") if p.isdigit()
                          and self._is_users_sleep(p)], "the job ended with the sandbox")

    def _is_users_sleep(self, pid):
        try:
            st = os.stat(f"/proc/{pid}")
            with open(f"/proc/{pid}/comm") as f:
                return st.st_uid == self.u1.uid and f.read().strip() == "sleep"
        except OSError:
            return False

    def test_kill_by_user_ends_a_lingering_sandbox(self):
        cfg = self.sb.config(policies=SCOPED % "yes")
        r = self.sb.run(self.u1, "sleep 300 >/dev/null 2>&1 &", cfg)
        self.assertEqual(r.returncode, 0, r.stderr)
        time.sleep(0.3)
        self.assertTrue(self.sb.init_processes(), "lingering")
        k = subprocess.run([ISOLATECTL, "kill", "-c", cfg, self.u1.name], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(k.returncode, 0, k.stderr)
        self.assertClean(timeout=5)
        k = subprocess.run([ISOLATECTL, "kill", "-c", cfg, self.u1.name], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(k.returncode, 1)
        self.assertIn("no live session", k.stderr)

    def _lingering_sandbox(self, linger):
        """A sandbox of u1 lingering with a job after its only login: (its id, its state)."""
        cfg = self.sb.config(policies=SCOPED % linger)
        r = self.sb.run(self.u1, "sleep 300 >/dev/null 2>&1 &", cfg)
        self.assertEqual(r.returncode, 0, r.stderr)
        ids = [e[:-len(".state")] for e in self.sb.registry_entries() if e.endswith(".state")]
        self.assertEqual(len(ids), 1, self.sb.registry_entries())
        state = os.path.join(self.sb.runtime_dir, "sessions", ids[0] + ".state")
        deadline = time.monotonic() + 5
        while "logins=0" not in self._text(state) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIn("logins=0", self._text(state), "lingering, no login open")
        return cfg, ids[0], state

    @staticmethod
    def _text(path):
        with open(path) as f:
            return f.read()

    def _state_rewrite(self, state, linger_until):
        """What an init that missed its timer leaves: the state of its last logout."""
        tmp = state + ".test"
        with open(tmp, "w") as f:
            f.write(f"logins=0\nlinger_until={linger_until}\nlinger_forever=0\n")
        os.rename(tmp, state)

    def _gc(self, cfg):
        g = subprocess.run([ISOLATECTL, "gc", "-c", cfg], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(g.returncode, 0, g.stdout + g.stderr)
        return g.stdout

    def test_gc_ends_a_lingering_sandbox_whose_init_missed_its_timer(self):
        # the init's own timer is an hour away; its state says the linger ended a minute ago
        cfg, sid, state = self._lingering_sandbox("1h")
        inits = self.sb.init_processes()
        expired = int(time.time()) - 60
        self._state_rewrite(state, expired)
        out = self._gc(cfg)
        at = time.strftime("%H:%M:%S", time.localtime(expired))
        self.assertIn(f"ended lingering sandbox {sid} of {self.u1.name}: linger expired at {at}",
                      out)
        self.assertEqual(len(out.splitlines()), 2, "one line for it, then the summary:\n" + out)
        self.assertClean(timeout=5)
        self.assertFalse([p for p in os.listdir("/proc") if p.isdigit()
                          and self._is_users_sleep(p)], "the job ended with the sandbox")
        self.assertFalse(set(inits) & set(self.sb.init_processes()))

    def test_gc_leaves_a_lingering_sandbox_within_its_linger(self):
        cfg, sid, state = self._lingering_sandbox("1h")
        inits = self.sb.init_processes()
        try:
            # the init's own state: an hour to go
            out = self._gc(cfg)
            self.assertNotIn("ended", out)
            # past, but within the grace the init's timer has to fire
            self._state_rewrite(state, int(time.time()) - 2)
            out = self._gc(cfg)
            self.assertNotIn("ended", out)
            time.sleep(0.3)
            self.assertEqual(self.sb.init_processes(), inits, "gc left the sandbox alone")
            r = self.sb.run(self.u1, "pgrep -x sleep", cfg)
            self.assertRegex(r.stdout, r"^\d+\n?$", "the job still runs, the next login joins")
        finally:
            subprocess.run([ISOLATECTL, "kill", "-c", cfg, self.u1.name], capture_output=True,
                           timeout=30)
        self.assertClean(timeout=5)

    def test_stale_socket_and_state_removed(self):
        import socket
        cfg = self.sb.config(policies=SCOPED % "no")
        self.assertEqual(self.sb.run(self.u1, "true", cfg).returncode, 0)
        d = os.path.join(self.sb.runtime_dir, "sessions")
        sock = os.path.join(d, "0123456789abcdef.sock")
        state = os.path.join(d, "0123456789abcdef.state")
        fresh = os.path.join(d, "fedcba9876543210.state")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.bind(sock)
        s.close()
        for path in (state, fresh):
            with open(path, "w") as f:
                f.write("logins=0\n")
        old = time.time() - 120
        os.utime(sock, (old, old), follow_symlinks=False)
        os.utime(state, (old, old))
        self.assertEqual(self.sb.run(self.u1, "true", cfg).returncode, 0)
        left = os.listdir(d)
        self.assertNotIn("0123456789abcdef.sock", left, "a killed init's socket is removed")
        self.assertNotIn("0123456789abcdef.state", left)
        self.assertIn("fedcba9876543210.state", left, "a young one may be a sandbox being built")
        os.unlink(fresh)

    def test_linger_yes_ends_with_the_last_process(self):
        cfg = self.sb.config(policies=SCOPED % "yes")
        r = self.sb.run(self.u1, "sleep 1 >/dev/null 2>&1 &", cfg)
        self.assertEqual(r.returncode, 0, r.stderr)
        time.sleep(0.3)
        self.assertTrue(self.sb.init_processes())
        left = self.sb.wait_clean(timeout=6)
        self.assertFalse(any(left.values()), left)


class TestStrictestCaps(SandboxTestCase):
    USERS = ("isolate-sc1", "isolate-sc2")

    def config(self):
        return self.sb.config(policies=CAPS, default_policy="strict",
                              body='match {\n  services = {"su"}\n  policy = loose\n}\n')

    def test_looser_login_does_not_lift_a_live_strict_cap(self):
        cfg = self.config()
        with held(self.u1, cfg, WAIT, "sshd") as strict:
            strict.wait_for("READY")
            before = user_caps(self.sb, self.u1.uid)
            self.assertIn(before.get("pids"), ("128",), before)
            with held(self.u1, cfg, WAIT, "su") as loose:
                loose.wait_for("READY")
                self.assertEqual(user_caps(self.sb, self.u1.uid), before,
                                 "a loose login left the strict caps")
                loose.end()
            strict.end()
        self.assertClean()

    def test_strict_login_lowers_and_its_end_restores(self):
        cfg = self.config()
        with held(self.u1, cfg, WAIT, "su") as loose:
            loose.wait_for("READY")
            self.assertEqual(user_caps(self.sb, self.u1.uid).get("pids"), "512")
            with held(self.u1, cfg, WAIT, "sshd") as strict:
                strict.wait_for("READY")
                caps = user_caps(self.sb, self.u1.uid)
                self.assertEqual(caps.get("pids"), "128", caps)
                self.assertEqual(int(caps["memory"]), 256 << 20, caps)
                strict.end()
            deadline = time.monotonic() + 5
            while user_caps(self.sb, self.u1.uid).get("pids") != "512" and \
                    time.monotonic() < deadline:
                time.sleep(0.05)
            caps = user_caps(self.sb, self.u1.uid)
            self.assertEqual(caps.get("pids"), "512", "the strict end gives the loose caps back")
            self.assertEqual(int(caps["memory"]), 1 << 30, caps)
            loose.end()
        self.assertClean()

    def test_cap_below_usage_refuses_the_login(self):
        cfg = self.config()
        with held(self.u1, cfg, "head -c 300M /dev/zero > /dev/shm/fill; " + WAIT,
                  "su") as big:
            big.wait_for("READY", timeout=60)
            before = user_caps(self.sb, self.u1.uid)
            r = self.sb.run(self.u1, "echo in", cfg, service="sshd")
            self.assertNotEqual(r.returncode, 0)
            self.assertNotIn("in", r.stdout)
            self.assertRegex(r.stderr, r"uses \d+ MiB of memory now, more than the memory_max")
            self.assertEqual(user_caps(self.sb, self.u1.uid), before, "the cap is unchanged")
            big.end()
        self.assertClean()


if __name__ == "__main__":
    unittest.main()
