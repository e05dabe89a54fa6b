"""Attacks on the join by ticket (client/ticket.h, session-init.c ticket_take/ticket_join).

Each test asserts the safe behaviour: it fails while the weakness it reproduces exists.
As in test_ticket.py, a helper switched off (harness.SwitchedHelper) proves which path a
login took: a login that still gets in was answered by the sandbox's init, by ticket."""

import fcntl
import grp
import json
import os
import re
import socket
import struct
import subprocess
import time

from harness import (FAULT_HELPER, HELPER, ISOLATECTL, Held, SandboxTestCase, SwitchedHelper,
                     require_built)

NO_HELPER = None  # the switched helper, switched off
ON = "on"  # the switched helper, on

# two user-scope policies that differ the way an admin would make them differ: the trusted
# one reaches the network, the other does not
TWO_POLICIES = """
policy trusted {
  network = host
  private_tmp = true
  scope = user
}
policy untrusted {
  network = none
  private_tmp = true
  scope = user
}
"""

HOLD = "readlink /proc/self/ns/pid; echo READY; read x"


def run_quiet(*argv):
    subprocess.run(list(argv), check=True, capture_output=True)


class TicketAttackCase(SandboxTestCase):
    USERS = ("isolate-tka1", "isolate-tka2")

    def setUp(self):
        super().setUp()
        self.helper = SwitchedHelper(self.sb)

    def held(self, user, cfg, helper=ON, service="sshd"):
        helper = self.helper.path if helper == ON else helper
        return Held([ISOLATECTL, "run", "-c", cfg, "--service", service, "--helper", helper,
                     user.name, "--", "/bin/sh", "-c", HOLD])

    def pidns(self, user, cfg, helper=NO_HELPER, **kw):
        """The pid namespace of a login of user (None when it failed), and the run."""
        cmd = "readlink /proc/self/ns/pid"
        if helper is NO_HELPER:
            with self.helper.off():
                r = self.sb.run(user, cmd, cfg, helper=self.helper.path, **kw)
        else:
            r = self.sb.run(user, cmd, cfg, helper=self.helper.path if helper == ON else helper,
                            **kw)
        return (r.stdout.strip() if r.returncode == 0 else None), r

    def group(self, name, members=()):
        subprocess.run(["groupdel", name], capture_output=True)
        run_quiet("groupadd", name)
        self.addCleanup(subprocess.run, ["groupdel", name], capture_output=True)
        for m in members:
            run_quiet("gpasswd", "-a", m, name)

    def group_rules(self, group):
        return (f'match {{\n  groups = {{"{group}"}}\n  policy = trusted\n}}\n'
                'match {\n  policy = untrusted\n}\n')

    def explain(self, user, cfg, service="sshd"):
        """The policy the helper decides for a login now (isolatectl explain)."""
        r = subprocess.run([ISOLATECTL, "explain", "-c", cfg, "--service", service, "--json",
                            user.name], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)["policy"]["name"]

    @staticmethod
    def ns_of(held):
        return re.search(r"pid:\[\d+\]", held.out).group(0)

    def sandbox_socket(self, user, service="sshd"):
        sessions = os.path.join(self.sb.runtime_dir, "sessions")
        target = os.readlink(os.path.join(sessions, f"{user.uid}-{service}.join"))
        return os.path.join(sessions, target.split(":")[0] + ".sock")


class TestStaleDecisions(TicketAttackCase):
    """Inputs the helper's decision rests on that the key does not hold, or holds as read at
    another moment than the decision's."""

    def test_group_renamed_voids_the_ticket(self):
        """Rules match groups by NAME (conf/match.c in_any_group, names from getgrgid), the key
        lists group IDS (client/ticket.c ticket_key). An admin who renames the group a rule
        names (groupmod -n) and makes a new one of that name without the user takes the user
        out of the rule: the helper now decides `untrusted`, but every key is the same as
        before, so each later login still joins the `trusted` sandbox by ticket."""
        old, new = "isolate-tka-dev", "isolate-tka-former"
        subprocess.run(["groupdel", new], capture_output=True)
        self.addCleanup(subprocess.run, ["groupdel", new], capture_output=True)
        self.group(old, [self.u1.name])
        cfg = self.sb.config(policies=TWO_POLICIES, default_policy="untrusted",
                             body=self.group_rules(old))
        with self.held(self.u1, cfg) as a:
            a.wait_for("READY")
            first = self.ns_of(a)
            self.assertEqual(self.pidns(self.u1, cfg)[0], first, "the ticket works before")
            # the admin renames the group and makes a new one of the old name, without u1
            run_quiet("groupmod", "-n", new, old)
            run_quiet("groupadd", old)
            self.assertNotIn(self.u1.name, grp.getgrnam(old).gr_mem)
            self.assertEqual(self.explain(self.u1, cfg), "untrusted", "the helper's decision")
            ns, r = self.pidns(self.u1, cfg)
            self.assertNotEqual(ns, first,
                                "a login whose decision changed (the group it was matched by is "
                                "now another group) joined the trusted sandbox by ticket")
            a.end()
        self.assertClean()

    def test_groups_changed_during_a_login_do_not_make_a_wrong_key(self):
        """The helper decides from the groups it read at the start of the login
        (login_info_lookup_ext), but ticket_give() builds the key from a fresh lookup after the
        reply. A group change in between (here held open by the user's lock, which the helper
        takes after its decision; in real life any login that waits for a concurrent one of
        the same user, or a slow cgroup write) gives the init the key of the NEW groups with
        the reply decided from the OLD ones: from then on every login with the new groups
        joins the trusted sandbox, for as long as it lives."""
        group = "isolate-tka-race"
        self.group(group, [self.u1.name])
        cfg = self.sb.config(policies=TWO_POLICIES, default_policy="untrusted",
                             body=self.group_rules(group))
        with self.held(self.u1, cfg) as a:
            a.wait_for("READY")
            first = self.ns_of(a)
            lock = os.path.join(self.sb.runtime_dir, "locks", str(self.u1.uid))
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                ino = os.fstat(fd).st_ino
                # a login through another service: no ticket yet, the helper runs
                b = subprocess.Popen(
                    [ISOLATECTL, "run", "-c", cfg, "--service", "login", "--helper",
                     self.helper.path,
                     self.u1.name, "--", "readlink", "/proc/self/ns/pid"],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                # the helper has decided (trusted) and waits for the user's lock
                deadline = time.monotonic() + 20
                while True:
                    with open("/proc/locks") as f:
                        if re.search(rf"-> FLOCK .*:{ino} ", f.read()):
                            break
                    self.assertLess(time.monotonic(), deadline, "the helper never waited")
                    time.sleep(0.02)
                run_quiet("gpasswd", "-d", self.u1.name, group)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
            out, err = b.communicate(timeout=60)
            self.assertEqual(b.returncode, 0, err)
            self.assertEqual(out.strip(), first, "the racing login itself joined trusted")
            # u1 is out of the group: the helper decides untrusted
            self.assertEqual(self.explain(self.u1, cfg, service="login"), "untrusted")
            ns, r = self.pidns(self.u1, cfg, service="login")
            self.assertNotEqual(ns, first,
                                "the ticket given after the race lets every later login with "
                                "the new groups into the trusted sandbox")
            a.end()
        self.assertClean()

    def test_helper_upgrade_voids_the_ticket(self):
        """The key holds the config's and the user's inputs, not the helper's: after an
        upgrade of isolate-helper whose sandboxes differ (here one that scopes Landlock where
        the old one could not: the sandbox's fingerprint differs, so the new helper builds a
        new sandbox), a live sandbox keeps handing every later login its old join by ticket,
        and no login ever reaches the new helper while the sandbox lives (lingers)."""
        require_built(FAULT_HELPER)
        cfg = self.sb.config(policies="""
policy test {
  network = host
  private_tmp = true
  scope = user
  scope_abstract_unix = true
  scope_signals = true
  lsm_required = false
}
""")
        helper = os.path.join(self.sb.dir, "helper.sh")

        def install(text):
            tmp = helper + ".new"
            with open(tmp, "w") as f:
                f.write(text)
            os.chmod(tmp, 0o755)
            os.rename(tmp, helper)

        # the old helper: plans as on a Landlock without scoping (ABI 5) and warns
        install(f'#!/bin/sh\nISOLATE_TEST_LANDLOCK_ABI=5 exec {FAULT_HELPER} "$@"\n')
        with self.held(self.u1, cfg, helper=helper) as a:
            a.wait_for("READY")
            first = self.ns_of(a)
            # the upgrade: the helper at the same path now scopes
            install(f'#!/bin/sh\nexec {HELPER} "$@"\n')
            # the new helper's decision, where no ticket intercepts (another service): the
            # sandbox's definition changed, a new sandbox
            ns, r = self.pidns(self.u1, cfg, helper=helper, service="login")
            self.assertIsNotNone(ns, r.stderr)
            self.assertNotEqual(ns, first, "the upgraded helper builds a new sandbox")
            ns, r = self.pidns(self.u1, cfg, helper=helper)
            self.assertIsNotNone(ns, r.stderr)
            self.assertNotEqual(ns, first,
                                "after the helper's upgrade a login still joined the sandbox "
                                "the old helper built (unscoped) by ticket; the new helper "
                                "would have built a new, scoped one")
            a.end()
        self.assertClean()


class TestStalledPeers(TicketAttackCase):
    """The init serves one connection at a time and waits up to JOIN_TIMEOUT_MS (2 s) for a
    connected peer's first message (join_accept). Before tickets its only peers were helpers
    (root through and through, killed by their own alarm); now every PAM caller is one, and
    under su that caller runs with the invoking user's real uid: the user can SIGSTOP it
    between connect() and its send. The caller's side (session_open_ticket) connects with no
    deadline at all and then waits the whole login timeout for the answer before it falls
    back to the helper, which waits its own whole timeout on the same init."""

    STALLED = 17  # the init's listen backlog (16) and one more

    def test_stalled_peers_do_not_hold_a_login_past_its_timeout(self):
        cfg = self.sb.config(policies=TWO_POLICIES, default_policy="trusted")
        with self.held(self.u1, cfg) as a:
            a.wait_for("READY")
            path = self.sandbox_socket(self.u1)
            peers = []
            try:
                # callers that connected and then stopped (su under SIGSTOP, a hung monitor)
                for _ in range(self.STALLED):
                    c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                    c.setblocking(False)
                    try:
                        c.connect(path)
                    except BlockingIOError:
                        c.close()
                        break
                    peers.append(c)
                t0 = time.monotonic()
                # isolatectl run waits DEFAULT_HELPER_TIMEOUT_MS + 2 s for its answer
                r = self.sb.run(self.u1, "true", cfg, helper=HELPER, timeout=300)
                took = time.monotonic() - t0
            finally:
                for c in peers:
                    c.close()
            self.assertLess(took, 12 + 2,
                            f"a login waited {took:.1f} s on a sandbox's stalled init, past "
                            f"the 12 s its caller allows it (rc {r.returncode}: "
                            f"{r.stderr.strip()[-300:]})")
            a.end()
        self.assertClean(timeout=60)


MAGIC, F_TEXT = 0x4C4F5349, 23
MSG_OPEN_REPLY, MSG_JOIN, MSG_TICKET, MSG_TICKET_JOIN = 3, 8, 9, 10


def wire(type_, text=None, extra=b""):
    """A message of client/protocol.c: header, then an F_TEXT field."""
    body = b""
    if text is not None:
        body = struct.pack("<HHI", F_TEXT, 0, len(text)) + text + b"\0" * (-len(text) % 4)
    body += extra
    return struct.pack("<IHHI", MAGIC, 1, type_, 12 + len(body)) + body


class TestHostileRootPeers(TicketAttackCase):
    """Only root reaches an init's socket, but every PAM caller now does: garbage, keys the
    init does not hold, a right key with the wrong fds, a caller that dies before reading its
    answer. The init must stay up, keep no fd or login of theirs, and still answer a ticket.
    (Checked sound: this test passes.)"""

    def key(self, cfg, user, service="sshd"):
        """The key a login of user gives (ticket_key(), a config that reads no groups)."""
        def stamp(word, path):
            st = os.stat(path)
            t = lambda ns: f"{ns // 10**9}.{ns % 10**9:09d}"
            return (f"{word} {path} {st.st_dev} {st.st_ino} {st.st_size} "
                    f"{t(st.st_mtime_ns)} {t(st.st_ctime_ns)}")
        return (f"isolate-ticket 2\n{stamp('config', cfg)}\n"
                f"{stamp('helper', self.helper.path)}\nuser {user.name} {user.name} "
                f"{user.uid} {user.gid} {user.home}\nservice {service}\n").encode()

    def fds_of(self, pid):
        return sorted(os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd"))

    def settled_fds(self, pid, quiet=0.5, timeout=5):
        """pid's open files once they stayed the same for `quiet` seconds (the init closes a
        gone caller's socket and pidfd a little after it counts the login out; slower under
        the sanitizers)."""
        deadline = time.monotonic() + timeout
        last, since = self.fds_of(pid), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.05)
            now = self.fds_of(pid)
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                break
        return last

    def logins(self, sid):
        with open(os.path.join(self.sb.runtime_dir, "sessions", sid + ".state")) as f:
            return int(re.search(r"logins=(\d+)", f.read()).group(1))

    def wait_logins(self, sid, n, timeout=5):
        """The open logins .state counts, once they are n or timeout seconds passed."""
        deadline = time.monotonic() + timeout
        while self.logins(sid) != n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.logins(sid)

    def test_garbage_and_dead_callers(self):
        cfg = self.sb.config(policies=TWO_POLICIES, default_policy="trusted")
        with self.held(self.u1, cfg) as a:
            a.wait_for("READY")
            first = self.ns_of(a)
            path = self.sandbox_socket(self.u1)
            sid = os.path.basename(path)[:-len(".sock")]
            self.assertEqual(self.pidns(self.u1, cfg)[0], first)
            init, = self.sb.init_processes()
            time.sleep(0.2)
            fds_before = self.fds_of(init)
            key = self.key(cfg, self.u1)
            # the key is the init's: a caller with it and a pidfd gets a reply to join with
            child = subprocess.Popen(["sleep", "30"])
            cfd = os.pidfd_open(child.pid)
            c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            c.connect(path)
            c.sendmsg([wire(MSG_TICKET_JOIN, key)],
                      [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", cfd))])
            c.settimeout(5)
            msg, anc, _, _ = c.recvmsg(65536, socket.CMSG_SPACE(64))
            self.assertEqual(struct.unpack("<IHHI", msg[:12])[2], MSG_OPEN_REPLY,
                             "the test's key is the one the init holds")
            for level, typ, data in anc:
                if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                    for fd in struct.unpack(f"{len(data) // 4}i", data[:len(data) // 4 * 4]):
                        os.close(fd)
            c.close()
            # the init writes .state after it answers (session-init.c ticket_join): until
            # then it still says 1, which is not yet the end of this login
            self.assertEqual(self.wait_logins(sid, 2), 2, "that caller's login is counted")
            os.close(cfd)
            child.kill()
            child.wait()
            self.assertEqual(self.wait_logins(sid, 1), 1, "that caller's login ended with it")
            fds_before = self.settled_fds(init)
            pidfd = os.pidfd_open(os.getpid())
            null = os.open("/dev/null", os.O_RDONLY)
            cases = [
                (b"\xff" * 7, []), (wire(MSG_TICKET_JOIN, b"no such key"), [pidfd]),
                (wire(MSG_TICKET_JOIN, key), []), (wire(MSG_TICKET_JOIN, key), [pidfd, null, null]),
                (wire(MSG_TICKET_JOIN, key, b"\x01\x02"), [pidfd]),
                (wire(MSG_TICKET_JOIN, key + b"x" * 70000), [pidfd]),
                (wire(MSG_TICKET_JOIN, key[:-1] + b"\0"), [pidfd]),
                (wire(MSG_TICKET, b"k"), []), (wire(MSG_TICKET, b"k", b"\0" * 8), [null]),
                (wire(MSG_JOIN), [null]),
            ]
            # one caller that connects and says nothing (the init waits 2 s for it)
            for data, fds in [(b"", [])] + cases * 5:
                c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                c.connect(path)
                if data:
                    c.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                        struct.pack(f"{len(fds)}i", *fds))] if fds else [])
                    if data.startswith(wire(MSG_TICKET, b"k")[:12]):
                        c.send(os.urandom(64))  # the "reply" of a ticket: garbage
                c.settimeout(5)
                try:
                    c.recv(65536)
                except OSError:
                    pass
                c.close()
            # a caller that sends the right key and dies before it reads the answer
            child = subprocess.Popen(["sleep", "0.3"])
            cfd = os.pidfd_open(child.pid)
            c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            c.connect(path)
            c.sendmsg([wire(MSG_TICKET_JOIN, key)],
                      [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", cfd))])
            time.sleep(0.1)
            c.close()
            os.close(cfd)
            os.close(pidfd)
            os.close(null)
            child.wait()
            time.sleep(0.3)
            # counted in or not (the init may have answered before the close), it is counted
            # out once the init sees that caller gone: later under load
            self.assertEqual(self.wait_logins(sid, 1), 1, "only the held login is counted")
            deadline = time.monotonic() + 5
            while self.fds_of(init) != fds_before and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(self.fds_of(init), fds_before, "the init keeps nothing of theirs")
            self.assertEqual(self.pidns(self.u1, cfg)[0], first, "and still answers a ticket")
            a.end()
        self.assertClean()


if __name__ == "__main__":
    import unittest
    unittest.main()
