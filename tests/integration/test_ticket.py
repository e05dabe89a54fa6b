"""Issue 14, cost of a join: a later login of a user-scope sandbox joins it by ticket, without
running the helper (client/ticket.h), and only when nothing its decision rests on changed.

Each test proves which path a login took by switching its helper off (harness.SwitchedHelper:
the same path, so the same key): a login that still joins was answered by the sandbox's init;
one that fails went to the helper. Every test ends with nothing left, the ticket links included."""

import grp
import os
import subprocess
import time

from harness import Held, ISOLATECTL, SandboxTestCase, SwitchedHelper

NO_HELPER = None  # the switched helper, switched off

SCOPED = """
policy test {
  network = host
  private_tmp = true
  scope = user
}
policy other {
  network = host
  private_tmp = true
  scope = user
}
"""

HOLD = "readlink /proc/self/ns/pid; echo READY; read x"


class TestTicket(SandboxTestCase):
    USERS = ("isolate-tk1", "isolate-tk2")

    def setUp(self):
        super().setUp()
        self.helper = SwitchedHelper(self.sb)

    def run_as(self, user, cmd, cfg, helper=NO_HELPER, **kw):
        """A login through the switched helper: off (NO_HELPER) or on (any other value)."""
        if helper is not NO_HELPER:
            return self.sb.run(user, cmd, cfg, helper=self.helper.path, **kw)
        with self.helper.off():
            return self.sb.run(user, cmd, cfg, helper=self.helper.path, **kw)

    def held(self, user, cfg, service="sshd", rhost=None):
        argv = [ISOLATECTL, "run", "-c", cfg, "--service", service, "--helper", self.helper.path]
        if rhost:
            argv += ["--rhost", rhost]
        return Held(argv + [user.name, "--", "/bin/sh", "-c", HOLD])

    def pidns(self, user, cfg, helper=NO_HELPER, **kw):
        """The pid namespace of a login of user, or None when it failed; and the run."""
        r = self.run_as(user, "readlink /proc/self/ns/pid", cfg, helper=helper, **kw)
        return (r.stdout.strip() if r.returncode == 0 else None), r

    def links(self):
        return sorted(e for e in self.sb.registry_entries() if e.endswith(".join"))

    def test_later_login_joins_without_the_helper(self):
        cfg = self.sb.config(policies=SCOPED)
        with self.held(self.u1, cfg) as a:
            a.wait_for("READY")
            first = a.out.split()[0]
            self.assertEqual(self.links(), [f"{self.u1.uid}-sshd.join"])
            target = os.readlink(os.path.join(self.sb.runtime_dir, "sessions", self.links()[0]))
            self.assertRegex(target, r"^[0-9a-f]{16}:$", "ID:NEEDS; this config needs nothing")
            ns, r = self.pidns(self.u1, cfg)
            self.assertEqual(ns, first, f"joined by ticket without a helper: {r.stderr}")
            # the ticket's login counts as a login: its end kills nothing of the first one
            r = self.run_as(self.u1, "pgrep -f 'read x' >/dev/null && echo alive", cfg)
            self.assertEqual(r.stdout.strip(), "alive", r.stderr)
            # without a ticket the helper is needed: another user, another service
            ns2, r2 = self.pidns(self.u2, cfg)
            self.assertIsNone(ns2, "another user has no ticket")
            self.assertIn("switched off", r2.stderr)
            ns3, r3 = self.pidns(self.u1, cfg, service="login")
            self.assertIsNone(ns3, "another service has no ticket")
            a.end()
        self.assertClean()

    def test_config_change_voids_the_ticket(self):
        cfg = self.sb.config(policies=SCOPED)
        with self.held(self.u1, cfg) as a:
            a.wait_for("READY")
            first = a.out.split()[0]
            self.assertEqual(self.pidns(self.u1, cfg)[0], first)
            st = os.stat(cfg)
            os.utime(cfg, ns=(st.st_atime_ns, st.st_mtime_ns + 1000))
            ns, r = self.pidns(self.u1, cfg)
            self.assertIsNone(ns, "a touched config sends the login to the helper")
            # the helper joins (the policy reads the same) and gives a new ticket
            ns, r = self.pidns(self.u1, cfg, helper="on")
            self.assertEqual(ns, first, r.stderr)
            self.assertEqual(self.pidns(self.u1, cfg)[0], first, "the new ticket works")
            a.end()
        self.assertClean()

    def test_rhost_rules_put_the_rhost_in_the_key(self):
        body = ('match {\n  rhosts = {"10.0.0.0/8"}\n  policy = test\n}\n'
                'match {\n  policy = other\n}\n')
        cfg = self.sb.config(policies=SCOPED, body=body)
        with self.held(self.u1, cfg, rhost="10.1.1.1") as a:
            a.wait_for("READY")
            first = a.out.split()[0]
            target = os.readlink(os.path.join(self.sb.runtime_dir, "sessions", self.links()[0]))
            self.assertTrue(target.endswith(":r"), target)
            self.assertEqual(self.pidns(self.u1, cfg, rhost="10.1.1.1")[0], first)
            # another address: the helper decides, and it is another policy and sandbox
            ns, _ = self.pidns(self.u1, cfg, rhost="192.0.2.1")
            self.assertIsNone(ns, "a login from elsewhere never rides the ticket")
            ns, r = self.pidns(self.u1, cfg, helper="on", rhost="192.0.2.1")
            self.assertIsNotNone(ns, r.stderr)
            self.assertNotEqual(ns, first, "policy other: a sandbox of its own")
            a.end()
        self.assertClean()

    def test_group_rules_put_the_groups_in_the_key(self):
        group = "isolate-tkg"
        subprocess.run(["groupadd", group], check=True, capture_output=True)
        self.addCleanup(subprocess.run, ["groupdel", group], capture_output=True)
        subprocess.run(["gpasswd", "-a", self.u1.name, group], check=True, capture_output=True)
        body = (f'match {{\n  groups = {{"{group}"}}\n  policy = test\n}}\n'
                'match {\n  policy = other\n}\n')
        cfg = self.sb.config(policies=SCOPED, body=body)
        with self.held(self.u1, cfg) as a:
            a.wait_for("READY")
            first = a.out.split()[0]
            self.assertEqual(self.pidns(self.u1, cfg)[0], first)
            # out of the group: the same login now resolves to another policy
            subprocess.run(["gpasswd", "-d", self.u1.name, group], check=True,
                           capture_output=True)
            self.assertNotIn(self.u1.name, grp.getgrnam(group).gr_mem)
            ns, _ = self.pidns(self.u1, cfg)
            self.assertIsNone(ns, "changed groups send the login to the helper")
            ns, r = self.pidns(self.u1, cfg, helper="on")
            self.assertNotEqual(ns, first, r.stderr)
            a.end()
        self.assertClean()

    def test_init_refuses_a_key_it_was_not_given(self):
        """A link that leads a login to a sandbox not given its key (here: root points user 2's
        ticket at user 1's sandbox) joins nothing: the init compares the whole key."""
        cfg = self.sb.config(policies=SCOPED)
        with self.held(self.u1, cfg) as a:
            a.wait_for("READY")
            sessions = os.path.join(self.sb.runtime_dir, "sessions")
            target = os.readlink(os.path.join(sessions, f"{self.u1.uid}-sshd.join"))
            forged = os.path.join(sessions, f"{self.u2.uid}-sshd.join")
            os.symlink(target, forged)
            ns, r = self.pidns(self.u2, cfg)
            self.assertIsNone(ns, "user 2 never lands in user 1's sandbox")
            ns, r = self.pidns(self.u2, cfg, helper="on")
            self.assertIsNotNone(ns, r.stderr)
            self.assertNotEqual(ns, a.out.split()[0])
            os.unlink(forged) if os.path.lexists(forged) else None
            a.end()
        self.assertClean()

    def test_linger_rejoined_by_ticket(self):
        cfg = self.sb.config(policies=SCOPED.replace("scope = user", "scope = user\n  linger = 5s", 1))
        r = self.run_as(self.u1, "touch /tmp/kept; sleep 300 >/dev/null 2>&1 &", cfg, helper="on")
        self.assertEqual(r.returncode, 0, r.stderr)
        time.sleep(0.3)
        self.assertTrue(self.sb.init_processes(), "it lingers")
        r = self.run_as(self.u1, "ls /tmp; pgrep -x sleep >/dev/null && echo job", cfg)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("kept", r.stdout)
        self.assertIn("job", r.stdout, "rejoined by ticket, the job is there")
        subprocess.run([ISOLATECTL, "kill", "-c", cfg, self.u1.name], capture_output=True)
        self.assertClean(timeout=8)
