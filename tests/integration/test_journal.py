"""Issue 16: the journal entries of isolate. Each event carries its MESSAGE_ID (client/events.h,
explained by conf/isolate.catalog) and the ISOLATE_* fields, exactly once, through journald's
native protocol; without a journal the module's syslog line is still written.

A real sshd in a private mount namespace (sshd.py) whose /run/systemd/journal is the test's:
a JournalListener stands in for journald there (TestJournalEntries, TestNoJournal), or a real
systemd-journald runs there on a tmpfs (TestJournald: `journalctl MESSAGE_ID=<denied id>`
finds the denial, and journalctl -x explains it from the catalog)."""

import os
import re
import subprocess
import tempfile
import time
import unittest

from harness import (BASE_POLICY, BUILD, HELPER, INIT, ISOLATECTL, PAM_MODULE, ROOT, Sandbox,
                     require_built, require_root)
from sshd import JournalListener, PrivateEnv, SshServer, sanitizer_env

JOURNALD = "/lib/systemd/systemd-journald"


def event_ids():
    """{EVENT_NAME: id} from client/events.h, the table the code uses."""
    with open(os.path.join(ROOT, "client", "events.h")) as f:
        return dict(re.findall(r'#define EVENT_(\w+)\s+"([0-9a-f]{32})"', f.read()))


EV = event_ids()

POLICIES = BASE_POLICY.replace("network = host", "network = host\n  memory_max = 512M")


def sshd_stack(config):
    return ("account required pam_unix.so\n"
            "session required pam_loginuid.so\n"
            "session required pam_unix.so\n"
            f"session required {PAM_MODULE} config={config} helper={HELPER}\n")


def broken_config(sb):
    """An invalid config: every login but root's is refused."""
    path = os.path.join(sb.dir, "broken.conf")
    with open(path, "w") as f:
        f.write('services = {"sshd"}\npolicy test {\n  memory_max = lots\n}\n'
                'default_policy = test\n')
    os.chmod(path, 0o644)
    return path


class JournalCase(unittest.TestCase):
    USERS = ("isolate-jn1", "isolate-jn2", "isolate-jnx")
    JOURNAL = "listener"

    @classmethod
    def setUpClass(cls):
        require_root()
        require_built(PAM_MODULE, HELPER, INIT, ISOLATECTL)
        cls.sb = Sandbox()
        cls.addClassCleanup(cls.sb.close)
        cls.u1, cls.u2, cls.ux = (cls.sb.user(n) for n in cls.USERS)
        cls.cfg = cls.sb.config(policies=POLICIES,
                                body=f'match {{\n users = {{"{cls.ux.name}"}}\n exempt = true\n}}\n')
        cls.jdir = tempfile.mkdtemp(prefix="isolate-journal-", dir="/var/lib")
        os.chmod(cls.jdir, 0o755)
        cls.addClassCleanup(subprocess.run, ["rm", "-rf", cls.jdir])
        cls.journal = JournalListener(cls.jdir) if cls.JOURNAL == "listener" else None
        if cls.journal:
            cls.addClassCleanup(cls.journal.close)
        cls.env = PrivateEnv({"sshd": sshd_stack(cls.cfg)}, journal=cls.jdir,
                             binds=cls.extra_binds())
        cls.addClassCleanup(cls.env.close)
        cls.srv = SshServer(cls.env, extra_env=sanitizer_env(BUILD, cls.env.workdir))
        cls.addClassCleanup(cls.srv.close)
        for u in cls.USERS + ("root",):
            cls.srv.authorize(u)
        cls.srv.start()

    @classmethod
    def extra_binds(cls):
        return ()

    def setUp(self):
        self.env.write_pam("sshd", sshd_stack(self.cfg))
        self.smark = self.env.syslog.mark()
        self.jmark = self.journal.mark() if self.journal else 0

    def module_syslog(self, user, outcome, timeout=0.5):
        return self.env.syslog.wait_for(
            rf"pam_isolate\(sshd:session\): user={re.escape(user)} .*outcome={outcome}\b",
            timeout, self.smark)


class TestJournalEntries(JournalCase):
    """Every event of a login, of isolatectl kill and of isolatectl apply, as a datagram to
    the journal's socket: its MESSAGE_ID, its ISOLATE_* fields, once, and no syslog line."""

    def entry(self, event, timeout=10, **match):
        e = self.journal.wait_for(timeout, self.jmark, MESSAGE_ID=EV[event], **match)
        self.assertIsNotNone(e, f"no {event} entry with {match}:\n{self.journal.dump()}")
        return dict(e)

    def assertEntry(self, e, **want):
        for k, v in want.items():
            if isinstance(v, re.Pattern):
                self.assertRegex(e.get(k, ""), v, f"{k} of {e}")
            else:
                self.assertEqual(e.get(k), v, f"{k} of {e}")

    def assertOnce(self):
        """No entry twice (one MESSAGE_ID for one user and session), no field twice, and no
        malformed datagram."""
        seen = set()
        for e in self.journal.entries(self.jmark):
            names = [k for k, _ in e]
            self.assertEqual(len(names), len(set(names)), f"a field twice: {e}")
            self.assertNotIn("MALFORMED", names, e)
            d = dict(e)
            key = (d.get("MESSAGE_ID"), d.get("ISOLATE_USER"), d.get("ISOLATE_SESSION"),
                   d.get("ISOLATE_REASON") if d.get("ISOLATE_SESSION") == "-" else "")
            self.assertNotIn(key, seen, f"logged twice: {e}\n{self.journal.dump()}")
            seen.add(key)

    def test_confined_login_and_its_close(self):
        r = self.srv.ssh(self.u1.name, "echo IN")
        self.assertEqual(r.returncode, 0, r.stderr)
        e = self.entry("CONFINED", ISOLATE_USER=self.u1.name)
        self.assertEntry(e, ISOLATE_SERVICE="sshd", ISOLATE_RHOST="127.0.0.1",
                         ISOLATE_POLICY="test", ISOLATE_OUTCOME="confined",
                         ISOLATE_SESSION=re.compile(r"^[0-9a-f]{16}$"),
                         ISOLATE_DURATION_US=re.compile(r"^\d+$"), ISOLATE_TTY=re.compile("."),
                         ISOLATE_REASON=re.compile("."), PRIORITY="6", SYSLOG_FACILITY="10",
                         SYSLOG_IDENTIFIER="sshd", SYSLOG_PID=re.compile(r"^\d+$"),
                         MESSAGE=re.compile(rf"^pam_isolate\(sshd:session\): "
                                            rf"user={self.u1.name} service=sshd "
                                            rf"rhost=127\.0\.0\.1 policy=test "
                                            rf"session=[0-9a-f]{{16}} outcome=confined "))
        sid = e["ISOLATE_SESSION"]
        c = self.entry("CLOSED", ISOLATE_SESSION=sid)
        self.assertEntry(c, ISOLATE_USER=self.u1.name, ISOLATE_SERVICE="sshd",
                         ISOLATE_POLICY="test", ISOLATE_OUTCOME="closed", PRIORITY="6",
                         ISOLATE_REASON=re.compile(r"^\d+ process(es)? ended$"),
                         MESSAGE=re.compile(r"outcome=closed close_ms="))
        # the helper's own record, under its own id: the event's id finds the login once
        h = self.entry("HELPER_DECISION", ISOLATE_SESSION=sid)
        self.assertEntry(h, ISOLATE_OUTCOME="confined", SYSLOG_IDENTIFIER="isolate",
                         ISOLATE_USER=self.u1.name)
        self.assertEqual(len(self.journal.entries(self.jmark, MESSAGE_ID=EV["CONFINED"])), 1,
                         self.journal.dump())
        self.assertOnce()
        # the journal took them: the syslog line is not written as well
        self.assertIsNone(self.module_syslog(self.u1.name, "confined"), self.env.syslog.dump())
        self.assertIsNone(self.module_syslog(self.u1.name, "closed"), self.env.syslog.dump())

    def test_exempt_login(self):
        r = self.srv.ssh(self.ux.name, "echo IN")
        self.assertEqual(r.returncode, 0, r.stderr)
        e = self.entry("EXEMPT", ISOLATE_USER=self.ux.name)
        self.assertEntry(e, ISOLATE_OUTCOME="exempt", ISOLATE_SERVICE="sshd",
                         ISOLATE_POLICY="-", ISOLATE_SESSION="-", PRIORITY="6")
        time.sleep(0.5)
        self.assertEqual(self.journal.entries(self.jmark, MESSAGE_ID=EV["CLOSED"],
                                              ISOLATE_USER=self.ux.name), [])
        self.assertOnce()
        self.assertIsNone(self.module_syslog(self.ux.name, "exempt"))

    def test_denied_login_and_the_root_rescue(self):
        self.env.write_pam("sshd", sshd_stack(broken_config(self.sb)))
        r = self.srv.ssh(self.u2.name, "echo IN")
        self.assertNotIn("IN", r.stdout)
        e = self.entry("DENIED", ISOLATE_USER=self.u2.name)
        self.assertEntry(e, ISOLATE_OUTCOME="denied", ISOLATE_SERVICE="sshd",
                         ISOLATE_RHOST="127.0.0.1", ISOLATE_SESSION="-", PRIORITY="3",
                         ISOLATE_REASON=re.compile("invalid config"))
        # root is let in unconfined: a fail-open event, told apart by its outcome, at crit
        r = self.srv.ssh("root", "echo IN")
        self.assertIn("IN", r.stdout)
        e = self.entry("FAIL_OPEN", ISOLATE_USER="root")
        self.assertEntry(e, ISOLATE_OUTCOME="fail-open-root", PRIORITY="2",
                         ISOLATE_REASON=re.compile("root is let in unconfined"))
        self.assertOnce()
        self.assertIsNone(self.module_syslog(self.u2.name, "denied"))

    def held_login(self, user):
        p = subprocess.Popen(self.srv.ssh_argv(user.name, "echo READY; sleep 60"),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: (p.kill(), p.communicate()))
        self.assertEqual(p.stdout.readline().strip(), "READY")
        return self.entry("CONFINED", ISOLATE_USER=user.name)["ISOLATE_SESSION"]

    def test_isolatectl_kill(self):
        sid = self.held_login(self.u2)
        r = self.env.run([ISOLATECTL, "kill", "-c", self.cfg, sid])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        e = self.entry("KILLED", ISOLATE_SESSION=sid)
        self.assertEntry(e, ISOLATE_USER=self.u2.name, ISOLATE_SERVICE="isolatectl",
                         ISOLATE_POLICY="test", ISOLATE_OUTCOME="killed", PRIORITY="5",
                         SYSLOG_IDENTIFIER="isolate", ISOLATE_RHOST="127.0.0.1",
                         ISOLATE_REASON=re.compile(r"SIGTERM to the session's init"))
        self.assertEqual(len(self.journal.entries(self.jmark, MESSAGE_ID=EV["KILLED"])), 1)
        self.assertOnce()

    def test_isolatectl_apply(self):
        self.held_login(self.u1)
        cfg = self.sb.config(policies=POLICIES.replace("512M", "256M"), name="lower.conf",
                             body=f'match {{\n users = {{"{self.ux.name}"}}\n exempt = true\n}}\n')
        r = self.env.run([ISOLATECTL, "apply", "-c", cfg])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        e = self.entry("APPLIED", ISOLATE_USER=self.u1.name)
        self.assertEntry(e, ISOLATE_SERVICE="isolatectl", ISOLATE_POLICY="test",
                         ISOLATE_SESSION="-", ISOLATE_OUTCOME="applied", PRIORITY="6",
                         SYSLOG_IDENTIFIER="isolate",
                         ISOLATE_REASON=re.compile(r"memory_max 512M -> 256M"))
        # a cap below what the user's sandbox uses now is refused for them: apply-failed
        cfg = self.sb.config(policies=POLICIES.replace("512M", "4K"), name="tiny.conf")
        r = self.env.run([ISOLATECTL, "apply", "-c", cfg])
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        e = self.entry("APPLY_FAILED", ISOLATE_USER=self.u1.name)
        self.assertEntry(e, ISOLATE_OUTCOME="apply-failed", PRIORITY="3",
                         ISOLATE_REASON=re.compile("."))
        self.assertOnce()


class TestNoJournal(JournalCase):
    """No journald: its socket missing, or there but refusing. The module's syslog line is
    written, as it always was."""

    USERS = ("isolate-jn3", "isolate-jn4", "isolate-jny")
    JOURNAL = None

    def test_no_socket_falls_back_to_syslog(self):
        r = self.srv.ssh(self.u1.name, "echo IN")
        self.assertEqual(r.returncode, 0, r.stderr)
        line = self.module_syslog(self.u1.name, "confined", 10)
        self.assertIsNotNone(line, self.env.syslog.dump())
        self.assertRegex(line, r"service=sshd rhost=127\.0\.0\.1 policy=test session=\S+ "
                               r"outcome=confined setup_ms=\d+\.\d")
        self.assertIsNotNone(self.module_syslog(self.u1.name, "closed", 10))
        self.assertEqual(len(self.env.syslog.lines(
            rf"pam_isolate\(sshd:session\): user={self.u1.name} .*outcome=confined")), 1)

    def test_a_stopped_journald_falls_back_to_syslog(self):
        j = JournalListener(self.jdir)
        j.close()  # the socket file stays; a send to it is refused
        try:
            r = self.srv.ssh(self.u2.name, "echo IN")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIsNotNone(self.module_syslog(self.u2.name, "confined", 10),
                                 self.env.syslog.dump())
        finally:
            os.unlink(j.path)


@unittest.skipUnless(os.access(JOURNALD, os.X_OK), f"no {JOURNALD} on this host")
class TestJournald(JournalCase):
    """A real systemd-journald in the private namespace (its journal on /run/log, a tmpfs of
    the namespace), and the catalog made known to journalctl there."""

    USERS = ("isolate-jn5", "isolate-jn6", "isolate-jnz")
    JOURNAL = "journald"

    @classmethod
    def extra_binds(cls):
        # the catalog database journalctl -x reads, built from our catalog alone
        cls.catroot = tempfile.mkdtemp(prefix="isolate-catalog-", dir="/var/lib")
        cls.addClassCleanup(subprocess.run, ["rm", "-rf", cls.catroot])
        src = os.path.join(cls.catroot, "usr/lib/systemd/catalog")
        os.makedirs(src)
        os.makedirs(os.path.join(cls.catroot, "var/lib/systemd/catalog"))
        with open(os.path.join(ROOT, "conf/isolate.catalog")) as f, \
                open(os.path.join(src, "isolate.catalog"), "w") as out:
            out.write(f.read())
        r = subprocess.run(["journalctl", f"--root={cls.catroot}", "--update-catalog"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError(f"journalctl --update-catalog: {r.stderr}")
        if not os.path.isdir("/var/lib/systemd/catalog"):
            return ()
        return ((os.path.join(cls.catroot, "var/lib/systemd/catalog"),
                 "/var/lib/systemd/catalog"),)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.journald = cls.env.popen([JOURNALD], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cls.addClassCleanup(cls.stop_journald)
        deadline = time.monotonic() + 10
        while not os.path.exists(os.path.join(cls.jdir, "socket")):
            if time.monotonic() > deadline or cls.journald.poll() is not None:
                raise AssertionError("systemd-journald did not make its socket")
            time.sleep(0.05)

    @classmethod
    def stop_journald(cls):
        cls.journald.terminate()
        try:
            cls.journald.wait(5)
        except subprocess.TimeoutExpired:
            cls.journald.kill()
            cls.journald.wait()

    def journalctl(self, *args):
        return self.env.run(["journalctl", "--no-pager", "-q", "-D", "/run/log/journal",
                             *args])

    def export(self, *match, timeout=10):
        """Entries (dicts) of journalctl -o export for the matches, waiting for one."""
        deadline = time.monotonic() + timeout
        while True:
            out = self.journalctl("-o", "export", *match).stdout
            entries = [dict(l.split("=", 1) for l in block.splitlines() if "=" in l)
                       for block in out.split("\n\n") if block.strip()]
            if entries or time.monotonic() > deadline:
                return entries
            time.sleep(0.2)

    def test_journalctl_message_id_finds_the_denial(self):
        self.env.write_pam("sshd", sshd_stack(broken_config(self.sb)))
        r = self.srv.ssh(self.u1.name, "echo IN")
        self.assertNotIn("IN", r.stdout)
        found = self.export(f"MESSAGE_ID={EV['DENIED']}", f"ISOLATE_USER={self.u1.name}")
        self.assertEqual(len(found), 1, found)
        e = found[0]
        self.assertEqual(e["ISOLATE_OUTCOME"], "denied")
        self.assertEqual(e["ISOLATE_SERVICE"], "sshd")
        self.assertEqual(e["_TRANSPORT"], "journal")
        self.assertEqual(e["SYSLOG_IDENTIFIER"], "sshd")
        self.assertIn("invalid config", e["ISOLATE_REASON"])
        # the admin's view: the line, then the catalog's explanation with the fields filled in
        if not os.path.isdir("/var/lib/systemd/catalog"):
            self.skipTest("no /var/lib/systemd/catalog to put the catalog database on")
        x = self.journalctl("-x", f"MESSAGE_ID={EV['DENIED']}").stdout
        self.assertIn(f"Login of {self.u1.name} refused by isolate: invalid config", x)
        self.assertIn("isolatectl check", x)
        self.assertIn("man:pam_isolate(8)", x)

    def test_journalctl_message_id_finds_the_confined_login(self):
        r = self.srv.ssh(self.u2.name, "echo IN")
        self.assertEqual(r.returncode, 0, r.stderr)
        found = self.export(f"MESSAGE_ID={EV['CONFINED']}", f"ISOLATE_USER={self.u2.name}")
        self.assertEqual(len(found), 1, found)
        self.assertEqual(found[0]["ISOLATE_POLICY"], "test")
        self.assertRegex(found[0]["ISOLATE_SESSION"], r"^[0-9a-f]{16}$")


if __name__ == "__main__":
    unittest.main()
