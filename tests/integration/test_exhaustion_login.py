"""Issue 12, rows 1, 2, 6, 7 and 9: one user must not exhaust what every user shares, seen
through real logins. The user performs the exhaustion inside a session (a real sshd on
loopback in a private mount namespace, sshd.py, or `isolatectl run`); the test looks at the
host from outside as root while the session still holds what it took: root and a second
user can still log in, the shared resource is back after logout, and the login records of
every login are complete. Rows 3, 4, 5 and 8 are in test_exhaustion.py.

The login records (db15ae5): the sshd monitor writes them into the session's own root-only
files; the session's init copies each to the host's (utmp, and wtmp and lastlog by name in
/var/log, so a logrotate is followed) with the session's pts/N renamed pts/N:<first 6 hex
of the session id>, and marks a login still live at the end as dead. TestLoginRecords and
TestLogrotate check that from the host's side.

Each class has its own Sandbox (config, cgroup root, runtime dir, test users) and, where it
logs in through sshd, its own PrivateEnv and sshd, all removed at the end also when a test
fails; every session is bounded in time (90 s at most) and count."""

import base64
import errno
import grp
import os
import pty
import re
import resource
import signal
import struct
import subprocess
import time
import unittest

from harness import (BASE_POLICY, BUILD, HELPER, Held, INIT, ISOLATECTL, PAM_MODULE, Sandbox,
                     require_built, require_root)
from sshd import PrivateEnv, SshServer, sanitizer_env
from test_pam_sshd import sshd_stack

DEFAULT_PTY_MAX = 16  # conf/policy.h
NOFILE_FLOOR = 1024

# struct utmp of glibc on x86_64 (384 bytes): type, pid, line, id, user, host, exit,
# session, tv, addr_v6, unused
UTMP = struct.Struct("<hxxi32s4s32s256shhiii16s20s")
USER_PROCESS, DEAD_PROCESS = 7, 8
assert UTMP.size == 384


# The line the host's records give a session's pty: pts/N as inside, ":", and the first 6
# hex digits of the session id (session-helper/records.c, records_line()).
HOST_LINE = r"pts/\d+:[0-9a-f]{6}"

# struct lastlog of glibc: time (int32), line[32], host[256]; the user's record is at
# uid * 292
LASTLOG = struct.Struct("<i32s256s")
assert LASTLOG.size == 292


def host_line_rx(inside):
    """The host's line for the session's pts/N `inside`."""
    return rf"{re.escape(inside)}:[0-9a-f]{{6}}"


def utmp_records(path, offset=0):
    """[(type, pid, line, user, tv_sec)] of a utmp/wtmp file, from byte offset on."""
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read()
    out = []
    for i in range(0, len(data) - UTMP.size + 1, UTMP.size):
        t, pid, line, _id, user, _host, _e1, _e2, _sess, sec, _usec, _a, _u = \
            UTMP.unpack_from(data, i)
        nul = lambda b: b.split(b"\0", 1)[0].decode(errors="replace")
        out.append((t, pid, nul(line), nul(user), sec))
    return out


def login_pairs(path, user, offset=0):
    """[(login record, its logout record or None)] of user's logins in wtmp after offset; a
    logout is the DEAD_PROCESS record of the same pid and line after the login."""
    recs = utmp_records(path, offset)
    pairs = []
    for i, r in enumerate(recs):
        if r[0] == USER_PROCESS and r[3] == user:
            out = next((d for d in recs[i + 1:]
                        if d[0] == DEAD_PROCESS and d[1] == r[1] and d[2] == r[2]), None)
            pairs.append((r, out))
    return pairs


def utmp_entry(path, line):
    """The utmp record (as utmp_records) of line, or None; a utmp has one per line."""
    found = [r for r in utmp_records(path) if r[2] == line]
    return found[-1] if found else None


def lastlog_record(path, uid):
    """(time, line, host) of uid's lastlog record, or None where the file ends before it."""
    with open(path, "rb") as f:
        f.seek(uid * LASTLOG.size)
        data = f.read(LASTLOG.size)
    if len(data) < LASTLOG.size:
        return None
    t, line, host = LASTLOG.unpack(data)
    nul = lambda b: b.split(b"\0", 1)[0].decode(errors="replace")
    return t, nul(line), nul(host)


def dump(path):
    return subprocess.run(["utmpdump", path], capture_output=True, text=True).stdout


def last_of(path, user):
    """The lines of `last -w -f path user` that are user's logins."""
    out = subprocess.run(["last", "-w", "-f", path, user], capture_output=True,
                         text=True).stdout
    return [l for l in out.splitlines() if l.startswith(user + " ")]


def who_of(path):
    r = subprocess.run(["who", path], capture_output=True, text=True)
    return r.stdout + r.stderr


def wait_until(what, timeout=10, step=0.05):
    """what() once it is true, or its last (false) value after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = what()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(step)


def read_int(path, field=0):
    with open(path) as f:
        return int(f.read().split()[field])


def py(code, *args):
    """A shell word list that runs python code inside a session (no quoting trouble)."""
    b64 = base64.b64encode(code.encode()).decode()
    return (f"python3 -c \"import base64;exec(base64.b64decode('{b64}'))\" "
            + " ".join(str(a) for a in args))


# Waits (at most 90 s) until a line or EOF arrives on stdin: what ends a held session.
HOLD = """
import select, sys
print("HOLDING", flush=True)
select.select([0], [], [], 90)
"""

# Opens /dev/ptmx until it fails, at most 6000 (kernel.pty.max is 4096), and holds them.
PTY_HOG = """
import os, resource
s, h = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (h, h))
fds, err = [], 0
while len(fds) < 6000:
    try:
        fds.append(os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY))
    except OSError as e:
        err = e.errno
        break
print("HOG held=%d errno=%d" % (len(fds), err), flush=True)
""" + HOLD

# Tries to take a read lock on the login records, as glibc's readers do (F_RDLCK).
LOCKER = """
import fcntl, os
held = []
for name in ("/var/log/wtmp", "/var/log/lastlog"):
    try:
        fd = os.open(name, os.O_RDONLY)
        fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        held.append(fd)
        print("LOCK %s locked" % name, flush=True)
    except OSError as e:
        print("LOCK %s errno=%d" % (name, e.errno), flush=True)
""" + HOLD

# Forks up to 14 children; each raises its soft RLIMIT_NOFILE to the hard one and opens
# /dev/null until it fails (or argv[1] files, a safety cap) and holds them.
FILE_HOG = """
import os, resource, select, sys
cap = int(sys.argv[1])
s, h = resource.getrlimit(resource.RLIMIT_NOFILE)
print("LIMITS %d %d" % (s, h), flush=True)
r, w = os.pipe()
kids = []
for i in range(14):
    try:
        pid = os.fork()
    except OSError as e:
        print("FORK errno=%d" % e.errno, flush=True)
        break
    if pid == 0:
        os.close(r)
        resource.setrlimit(resource.RLIMIT_NOFILE, (h, h))
        n, err = 0, 0
        try:
            while n < cap:
                os.open("/dev/null", os.O_RDONLY)
                n += 1
        except OSError as e:
            err = e.errno
        os.write(w, b"%d %d\\n" % (n, err))
        select.select([0], [], [], 90)
        os._exit(0)
    kids.append(pid)
os.close(w)
got = b""
while got.count(b"\\n") < len(kids):
    chunk = os.read(r, 4096)
    if not chunk:
        break
    got += chunk
print("CHILDREN " + ";".join(got.decode().split("\\n")[:len(kids)]), flush=True)
""" + HOLD + """
for pid in kids:
    os.waitpid(pid, 0)
"""


def isolatectl_argv(cfg, user, cmd, service="sshd"):
    return [ISOLATECTL, "run", "-c", cfg, "--service", service, "--helper", HELPER,
            user.name, "--", "/bin/sh", "-c", cmd]


def caller_nofile(soft, hard):
    """preexec_fn: the RLIMIT_NOFILE the PAM caller (isolatectl) has at the join."""
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def policy(name, extra):
    return (f"policy {name} {{\n  network = host\n  private_tmp = true\n  tmp_size = 64M\n"
            f"{extra}\n}}\n")


def match(user, pol, services=None):
    svc = f'  services = {{"{services}"}}\n' if services else ""
    return f'match {{\n  users = {{"{user}"}}\n{svc}  policy = {pol}\n}}\n'


class LoginCase(unittest.TestCase):
    """A Sandbox with USERS, the config POLICIES + BODY, and a private sshd (and su) whose
    PAM stacks end with pam_isolate; every user and root may log in with the test's key."""

    USERS = ()
    POLICIES = BASE_POLICY
    BODY = ""
    ENV = {}  # PrivateEnv keyword arguments

    @classmethod
    def setUpClass(cls):
        require_root()
        require_built(PAM_MODULE, HELPER, INIT, ISOLATECTL)
        cls.sb = Sandbox()
        cls.addClassCleanup(cls.sb.close)
        cls.users = [cls.sb.user(n) for n in cls.USERS]
        cls.cfg = cls.sb.config(policies=cls.POLICIES, body=cls.BODY)
        su = ("auth sufficient pam_rootok.so\nauth required pam_deny.so\n"
              "account required pam_unix.so\nsession required pam_unix.so\n"
              f"session required {PAM_MODULE} config={cls.cfg} helper={HELPER}\n")
        cls.env = PrivateEnv({"sshd": sshd_stack(cls.cfg), "su": su, "su-l": "@include su\n"},
                             **cls.ENV)
        cls.addClassCleanup(cls.env.close)
        cls.srv = SshServer(cls.env, extra_env=sanitizer_env(BUILD, cls.env.workdir))
        cls.addClassCleanup(cls.srv.close)
        for name in cls.USERS + ("root",):
            cls.srv.authorize(name)
        cls.srv.start()

    def wait_logouts(self, user, offset, n=1, timeout=20):
        """user's n logins after offset in the host's wtmp, once each has its logout (or
        what is there after timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            pairs = login_pairs(self.env.wtmp, user, offset)
            if (len(pairs) >= n and all(o for _, o in pairs)) or time.monotonic() > deadline:
                return pairs
            time.sleep(0.1)

    def assertLoggedInAndOut(self, user, offset, line=None):
        """user's one login in the host's wtmp after offset and its logout, on the host's
        line for the session's pty `line` (pts/N inside)."""
        pairs = self.wait_logouts(user, offset)
        text = dump(self.env.wtmp)
        self.assertEqual(len(pairs), 1, f"{user}'s logins in the host's wtmp:\n{text}")
        login, logout = pairs[0]
        self.assertRegex(login[2], rf"^{host_line_rx(line) if line else HOST_LINE}$", text)
        self.assertIsNotNone(logout, f"no logout record for {user} on {login[2]}:\n{text}")
        return login, logout

    def wait_live(self, user, n=1, timeout=10):
        """user's n USER_PROCESS entries in the host's utmp, once there (the init copies
        them a moment after the monitor writes them)."""
        live = lambda: [r for r in utmp_records(self.env.utmp)
                        if r[0] == USER_PROCESS and r[3] == user]
        got = wait_until(lambda: len(live()) >= n and live(), timeout)
        self.assertEqual(len(got or []), n,
                         f"{user} live in the host's utmp:\n{dump(self.env.utmp)}")
        for r in got:
            self.assertRegex(r[2], rf"^{HOST_LINE}$", dump(self.env.utmp))
        return got

    def assertDeadInUtmp(self, line, timeout=10):
        entry = wait_until(lambda: (e := utmp_entry(self.env.utmp, line)) and
                           e[0] == DEAD_PROCESS and e, timeout)
        self.assertTrue(entry, f"{line} is not DEAD_PROCESS in the host's utmp:\n"
                               f"{dump(self.env.utmp)}")
        return entry

    def assertLineIsThisSessions(self, line):
        """The suffix of the host's line is the first 6 hex of a live session's id."""
        ids = {e[:6] for e in self.sb.registry_entries()}
        self.assertIn(line.rsplit(":", 1)[1], ids, f"{line}: not a live session's id")

    def assertClean(self):
        left = self.sb.wait_clean(10)
        self.assertEqual(left, {"inits": [], "leaves": [], "registry": []},
                         "a session left something behind")


class TestPtys(LoginCase):
    """Row 1: each session has a devpts instance of its own (pty_max, default 16): a user who
    opens ptys until it fails fills only that; root and other users still get ptys. The
    host's utmp, wtmp and lastlog get the login on pts/N:<session>; inside, who and last
    cannot read the records and w still runs."""

    USERS = ("isolate-ya", "isolate-yb", "isolate-yc")

    def test_pty_hog_fills_only_its_own_devpts(self):
        a, b = self.users[0], self.users[1]
        before = read_int("/proc/sys/kernel/pty/nr")
        with Held(self.srv.ssh_argv(a.name, "tty; " + py(PTY_HOG), tty=True)) as hog:
            m = hog.wait_for(r"^HOG held=(\d+) errno=(\d+)$")
            # the login's own pty is one of the instance's 16
            self.assertEqual((int(m[1]), int(m[2])), (DEFAULT_PTY_MAX - 1, errno.ENOSPC),
                             hog.out)
            self.assertRegex(hog.out, r"(?m)^/dev/pts/\d+$")
            self.assertGreaterEqual(read_int("/proc/sys/kernel/pty/nr") - before,
                                    DEFAULT_PTY_MAX, "kernel.pty.nr counts every instance")
            # root on the host still opens a pty
            master, slave = pty.openpty()
            try:
                self.assertTrue(os.ttyname(slave).startswith("/dev/pts/"))
            finally:
                os.close(master)
                os.close(slave)
            # and another user still logs in with one
            r = self.srv.ssh(b.name, "tty", tty=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertRegex(r.stdout.replace("\r", ""), r"(?m)^/dev/pts/\d+$")
            rc, out = hog.end()
            self.assertEqual(rc, 0, out)
        deadline = time.monotonic() + 10
        while read_int("/proc/sys/kernel/pty/nr") != before and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(read_int("/proc/sys/kernel/pty/nr"), before,
                         "the session's ptys are not all back")
        self.assertClean()

    def test_host_records_list_the_login_under_a_line_of_its_own(self):
        c = self.users[2]
        offset = os.path.getsize(self.env.wtmp)
        t0 = int(time.time())
        cmd = ("tty; echo WHO; who; echo WHORC=$?; echo LAST; last -w 2>&1; echo LASTRC=$?; "
               "echo W; w -h; echo WRC=$?; " + py(HOLD))
        with Held(self.srv.ssh_argv(c.name, cmd, tty=True)) as s:
            s.wait_for("^HOLDING$")
            inside = re.search(r"(?m)^/dev/(pts/\d+)$", s.out)[1]
            # while the session lives: the host's utmp has the login on a line of its own,
            # and who(1) outside lists it there
            (entry,) = self.wait_live(c.name)
            line = entry[2]
            self.assertRegex(line, rf"^{host_line_rx(inside)}$")
            self.assertLineIsThisSessions(line)
            self.assertRegex(who_of(self.env.utmp), rf"(?m)^{c.name}\s+{re.escape(line)}\s",
                             "who outside does not list the confined login")
            # lastlog: the login's time and line, as the host names it
            with self.subTest("lastlog"):
                if not os.path.exists("/var/log/lastlog"):
                    self.skipTest("the host has no /var/log/lastlog (so the env has none)")
                ll = wait_until(lambda: (r := lastlog_record(self.env.lastlog, c.uid)) and
                                r[1] == line and r)
                self.assertTrue(ll, f"{c.name}'s lastlog record, not on {line}: "
                                    f"{lastlog_record(self.env.lastlog, c.uid)}")
                self.assertLessEqual(t0 - 1, ll[0])
                self.assertLessEqual(ll[0], time.time() + 1)
                self.assertEqual(ll[2], "127.0.0.1")
            rc, out = s.end()
        self.assertEqual(rc, 0, out)
        who, last, w = re.search(r"(?ms)^WHO$\n(.*?)^WHORC=\d+$\n^LAST$\n(.*?)^LASTRC=\d+$\n"
                                 r"^W$\n(.*?)^WRC=", out).groups()
        # after logout: the host's utmp entry is dead, wtmp has login and logout on the line
        self.assertDeadInUtmp(line)
        self.assertNotIn(c.name, who_of(self.env.utmp))
        login, logout = self.assertLoggedInAndOut(c.name, offset, inside)
        self.assertEqual(login[2], line)
        # last(1) outside shows a logout time (not "still running": a second later)
        time.sleep(max(0, logout[4] + 1.1 - time.time()))
        mine = [l for l in last_of(self.env.wtmp, c.name) if f" {line} " in l]
        self.assertEqual(len(mine), 1, last_of(self.env.wtmp, c.name))
        self.assertRegex(mine[0],
                         rf"^{c.name}\s+{re.escape(line)}\s.*\d\d:\d\d - \d\d:\d\d\s+\(")
        # inside, the records are root's alone: who lists nothing, last cannot read wtmp,
        # and w still runs
        with self.subTest("who inside"):
            self.assertNotRegex(who, rf"(?m)^{c.name}\s",
                                f"who inside lists the login:\n{out}")
        with self.subTest("last inside"):
            self.assertNotIn("\nLASTRC=0\n", out, f"last read wtmp inside:\n{out}")
            self.assertIn("Permission denied", last, out)
        with self.subTest("w inside"):
            self.assertIn("\nWRC=0\n", out, "w failed inside")
        self.assertClean()


class TestLoginRecordsLock(LoginCase):
    """Row 6: inside a session a user cannot open, so cannot lock, wtmp or lastlog; another
    user's pty login meanwhile completes and gets its login and logout records."""

    USERS = ("isolate-wa", "isolate-wb")

    def test_user_cannot_lock_wtmp_and_other_logins_are_recorded(self):
        a, b = self.users
        offset = os.path.getsize(self.env.wtmp)
        with Held(self.srv.ssh_argv(a.name, py(LOCKER), tty=True)) as locker:
            locker.wait_for("^HOLDING$")
            r = self.srv.ssh(b.name, "tty", tty=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            line = re.search(r"(?m)^/dev/(pts/\d+)$", r.stdout.replace("\r", ""))[1]
            # B's records, written while A holds whatever it could get: on B's line of its
            # own (A has a pts/0 of its own devpts too)
            login, _ = self.assertLoggedInAndOut(b.name, offset, line)
            (a_live,) = self.wait_live(a.name)
            self.assertNotEqual(login[2], a_live[2])
            rc, out = locker.end()
        self.assertEqual(rc, 0, out)
        for name in ("/var/log/wtmp", "/var/log/lastlog"):
            self.assertRegex(out, rf"(?m)^LOCK {name} errno={errno.EACCES}$", out)
        self.assertLoggedInAndOut(a.name, offset)
        self.assertClean()


# Waits (at most 90 s) for a line on stdin, then reports what the user can do with the
# records in /var/log: open (EACCES: root's alone; ENOENT: not in the view) and lock.
PROBE_RECORDS = """
import fcntl, os, select, sys
print("WAITING", flush=True)
select.select([0], [], [], 90)
sys.stdin.readline()
for name in ("/var/log/wtmp", "/var/log/lastlog", "/var/log/btmp", "/var/log/wtmp.1"):
    try:
        fd = os.open(name, os.O_RDONLY)
    except OSError as e:
        print("OPEN %s errno=%d" % (name, e.errno), flush=True)
        continue
    try:
        fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        print("LOCK %s locked" % name, flush=True)
    except OSError as e:
        print("LOCK %s errno=%d" % (name, e.errno), flush=True)
"""


def sshd_monitors(user):
    """pids of the sshd monitors ("sshd: USER [priv]", sshd-session: since OpenSSH 9.8) of
    user's logins."""
    title_rx = re.compile(rf"^sshd(-session)?: {re.escape(user)} \[priv\]$")
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                title = f.read().split(b"\0", 1)[0].decode(errors="replace").strip()
        except OSError:
            continue
        if title_rx.match(title):
            pids.append(int(d))
    return pids


class TestLoginRecords(LoginCase):
    """The host's records of confined logins: two sessions, each with a pts/0 of its own,
    get different lines in the host's utmp and wtmp, so last(1) pairs each login with its
    own logout; a monitor killed before its logout record still leaves the login dead in
    utmp and ended in wtmp (the session's init writes the logout)."""

    USERS = ("isolate-ra", "isolate-rb", "isolate-rc", "isolate-rd")

    def test_two_sessions_pts0_are_told_apart(self):
        a, b = self.users[0], self.users[1]
        offset = os.path.getsize(self.env.wtmp)
        cmd = "tty; " + py(HOLD)
        with Held(self.srv.ssh_argv(a.name, cmd, tty=True)) as sa, \
                Held(self.srv.ssh_argv(b.name, cmd, tty=True)) as sb:
            sa.wait_for("^HOLDING$")
            sb.wait_for("^HOLDING$")
            # each session's first pty is pts/0 of its own devpts
            self.assertRegex(sa.out, r"(?m)^/dev/pts/0$")
            self.assertRegex(sb.out, r"(?m)^/dev/pts/0$")
            (ea,) = self.wait_live(a.name)
            (eb,) = self.wait_live(b.name)
            la, lb = ea[2], eb[2]
            self.assertRegex(la, rf"^{host_line_rx('pts/0')}$")
            self.assertRegex(lb, rf"^{host_line_rx('pts/0')}$")
            self.assertNotEqual(la, lb, "two sessions' pts/0 share a line on the host")
            self.assertLineIsThisSessions(la)
            self.assertLineIsThisSessions(lb)
            who = who_of(self.env.utmp)
            self.assertRegex(who, rf"(?m)^{a.name}\s+{re.escape(la)}\s", who)
            self.assertRegex(who, rf"(?m)^{b.name}\s+{re.escape(lb)}\s", who)
            # A logs out while B is still logged in
            rc, out = sa.end()
            self.assertEqual(rc, 0, out)
            login_a, logout_a = self.assertLoggedInAndOut(a.name, offset, "pts/0")
            self.assertEqual(login_a[2], la)
            self.assertDeadInUtmp(la)
            self.assertEqual(utmp_entry(self.env.utmp, lb)[:4],
                             (USER_PROCESS, eb[1], lb, b.name),
                             "A's logout touched B's utmp entry:\n" + dump(self.env.utmp))
            pairs_b = wait_until(lambda: login_pairs(self.env.wtmp, b.name, offset))
            self.assertEqual([(p[0][2], p[1]) for p in pairs_b], [(lb, None)],
                             "B's login, without a logout while still logged in:\n"
                             + dump(self.env.wtmp))
            time.sleep(max(0, logout_a[4] + 1.1 - time.time()))
            last_a = [l for l in last_of(self.env.wtmp, a.name) if f" {la} " in l]
            last_b = [l for l in last_of(self.env.wtmp, b.name) if f" {lb} " in l]
            self.assertEqual(len(last_a), 1, last_a)
            self.assertEqual(len(last_b), 1, last_b)
            self.assertRegex(last_a[0], r"\d\d:\d\d - \d\d:\d\d\s+\(", last_a[0])
            self.assertIn("still logged in", last_b[0])
            rc, out = sb.end()
        self.assertEqual(rc, 0, out)
        login_b, logout_b = self.assertLoggedInAndOut(b.name, offset, "pts/0")
        self.assertEqual(login_b[2], lb)
        self.assertDeadInUtmp(lb)
        time.sleep(max(0, logout_b[4] + 1.1 - time.time()))
        last_b = [l for l in last_of(self.env.wtmp, b.name) if f" {lb} " in l]
        self.assertEqual(len(last_b), 1, last_b)
        self.assertRegex(last_b[0], r"\d\d:\d\d - \d\d:\d\d\s+\(", last_b[0])
        self.assertClean()

    def test_killed_monitor_still_ends_the_login(self):
        c = self.users[2]
        offset = os.path.getsize(self.env.wtmp)
        with Held(self.srv.ssh_argv(c.name, "tty; " + py(HOLD), tty=True)) as s:
            s.wait_for("^HOLDING$")
            (entry,) = self.wait_live(c.name)
            line = entry[2]
            monitors = sshd_monitors(c.name)
            self.assertEqual(len(monitors), 1, f"sshd monitors of {c.name}: {monitors}")
            os.kill(monitors[0], signal.SIGKILL)
            # no logout record from the monitor: the session's init ends the login
            self.assertDeadInUtmp(line, timeout=10)
            pairs = self.wait_logouts(c.name, offset, timeout=10)
            self.assertEqual(len(pairs), 1, dump(self.env.wtmp))
            login, logout = pairs[0]
            self.assertEqual((login[1], login[2]), (entry[1], line))
            self.assertIsNotNone(logout, f"no logout on {line} in the host's wtmp:\n"
                                         + dump(self.env.wtmp))
            rc, out = s.end(timeout=20)
        self.assertNotEqual(rc, 0, out)  # the connection died with its monitor
        self.assertClean()

    # The session's lastlog starts as a copy of the user's host record (mounts.c): that
    # copy must not come back to the host at the end of a session without a pty login, its
    # line renamed once more ("pts/0:a727ca" -> "pts/0:a727ca:54b3aa", found in review).
    def test_session_without_pty_leaves_lastlog_alone(self):
        if not os.path.exists("/var/log/lastlog"):
            self.skipTest("the host has no /var/log/lastlog (so the env has none)")
        d = self.users[3]
        r = self.srv.ssh(d.name, "tty", tty=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        first = wait_until(lambda: (x := lastlog_record(self.env.lastlog, d.uid)) and
                           re.fullmatch(HOST_LINE, x[1]) and x)
        self.assertTrue(first, lastlog_record(self.env.lastlog, d.uid))
        self.assertClean()
        r = self.srv.ssh(d.name, "true")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertClean()
        self.assertEqual(lastlog_record(self.env.lastlog, d.uid), first)


class TestLogrotate(LoginCase):
    """/var/log is a directory of test files here: a logrotate (wtmp renamed wtmp.1, a new
    wtmp made) while a session is live changes nothing inside (wtmp and lastlog are still
    the session's own root-only files, wtmp.1 is not there), and the session's logout, and
    logins after the rotation, land in the new wtmp."""

    USERS = ("isolate-ga", "isolate-gb")
    ENV = {"var_log_dir": True}

    def rotate(self):
        os.rename(self.env.wtmp, self.env.wtmp + ".1")
        fd = os.open(self.env.wtmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o664)
        try:
            os.fchown(fd, 0, grp.getgrnam("utmp").gr_gid)
            os.fchmod(fd, 0o664)
        finally:
            os.close(fd)

    def test_rotation_is_followed_and_not_uncovered(self):
        a, b = self.users
        rotated = self.env.wtmp + ".1"
        offset = os.path.getsize(self.env.wtmp)
        cmd = ("tty; " + py(PROBE_RECORDS) + "; cat /var/log/wtmp >/dev/null; echo CAT=$?; "
               + py(HOLD))
        with Held(self.srv.ssh_argv(a.name, cmd, tty=True)) as s:
            s.wait_for("^WAITING$")
            (entry,) = self.wait_live(a.name)
            la = entry[2]
            pairs = wait_until(lambda: login_pairs(self.env.wtmp, a.name, offset))
            self.assertEqual([(p[0][2], p[1]) for p in pairs], [(la, None)],
                             dump(self.env.wtmp))
            self.rotate()
            s.send("go")
            s.wait_for("^HOLDING$")
            out = s.out
            for name, e in (("wtmp", errno.EACCES), ("lastlog", errno.EACCES),
                            ("btmp", errno.ENOENT), ("wtmp.1", errno.ENOENT)):
                self.assertRegex(out, rf"(?m)^OPEN /var/log/{re.escape(name)} errno={e}$", out)
            self.assertNotIn("locked", out)
            self.assertRegex(out, r"(?m)^CAT=1$", out)
            self.assertIn("Permission denied", out)
            # B's login after the rotation: login and logout in the new wtmp
            r = self.srv.ssh(b.name, "tty", tty=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            inside = re.search(r"(?m)^/dev/(pts/\d+)$", r.stdout.replace("\r", ""))[1]
            login_b, _ = self.assertLoggedInAndOut(b.name, 0, inside)
            rc, out = s.end()
        self.assertEqual(rc, 0, out)
        self.assertDeadInUtmp(la)
        # A's logout in the new wtmp, its login in the rotated one, no logout there
        logout = wait_until(lambda: [r for r in utmp_records(self.env.wtmp)
                                     if r[0] == DEAD_PROCESS and r[2] == la])
        self.assertEqual([(r[1], r[2]) for r in logout], [(entry[1], la)],
                         "A's logout is not in the new wtmp:\n" + dump(self.env.wtmp))
        self.assertEqual(login_pairs(rotated, a.name, offset)[0][1], None, dump(rotated))
        self.assertEqual(login_pairs(self.env.wtmp, a.name), [], dump(self.env.wtmp))
        self.assertEqual(os.path.getsize(rotated), offset + UTMP.size, dump(rotated))
        last_b = [l for l in last_of(self.env.wtmp, b.name) if f" {login_b[2]} " in l]
        self.assertEqual(len(last_b), 1, last_b)
        self.assertClean()


class TestNofile(LoginCase):
    """Row 2: RLIMIT_NOFILE is lowered at the join to nofile (default fs.file-max /
    (4 * pids_max), at least 1024): a user's forked children opening files until EMFILE
    hold at most pids_max * nofile of the host's file table; root's su and other users'
    logins keep working; the files are back afterwards.

    The join only lowers, and root here may lack CAP_SYS_RESOURCE to raise the caller's
    hard limit: pids_max is 16, or the first power of two above it that derives a nofile
    under the hard limit the callers (isolatectl, sshd) inherit from this process.

    The share takes the largest pids_max of the config, and a policy without one gives the
    floor (0e8870d): the derived case has a config of its own (cfg_files), whose only
    policy sets pids_max; the others' config has a policy without it."""

    USERS = ("isolate-fa", "isolate-fb", "isolate-fc", "isolate-fd")
    BODY = match(USERS[2], "n4096") + match(USERS[3], "nmax")

    @classmethod
    def setUpClass(cls):
        cls.HARD = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        file_max = read_int("/proc/sys/fs/file-max")
        cls.PIDS_MAX = 16
        while file_max // (4 * cls.PIDS_MAX) >= cls.HARD and cls.PIDS_MAX < 4096:
            cls.PIDS_MAX *= 2
        cls.POLICIES = (BASE_POLICY + policy("n4096", "  nofile = 4096")
                        + policy("nmax", "  nofile = max"))
        super().setUpClass()
        cls.cfg_files = cls.sb.config(policies=policy("files", f"  pids_max = {cls.PIDS_MAX}"),
                                      default_policy="files", name="files.conf")

    def derived(self):
        return max(NOFILE_FLOOR, read_int("/proc/sys/fs/file-max") // (4 * self.PIDS_MAX))

    def limits_inside(self, user, soft, hard, extra="", cfg=None):
        r = self.sb.run(user, "echo $(ulimit -Sn) $(ulimit -Hn)" + extra, cfg or self.cfg,
                        preexec_fn=caller_nofile(soft, hard))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout

    def test_derived_nofile_bounds_the_file_table(self):
        a, b = self.users[0], self.users[1]
        file_max, n = read_int("/proc/sys/fs/file-max"), self.derived()
        self.assertLess(n, self.HARD, "the derived nofile would not lower anything here")
        out = self.limits_inside(a, self.HARD, self.HARD,
                                 f"; (ulimit -Hn {n + 1}) 2>/dev/null && echo raised || echo denied",
                                 cfg=self.cfg_files)
        self.assertEqual(out.split(), [str(n), str(n), "denied"], out)
        before = read_int("/proc/sys/fs/file-nr")
        # each child would stop at file-max / 32 (14 of them: under half the table)
        cap = file_max // 32
        argv = isolatectl_argv(self.cfg_files, a, py(FILE_HOG, cap))
        with Held(argv, preexec_fn=caller_nofile(self.HARD, self.HARD)) as hog:
            m = hog.wait_for(r"^CHILDREN (.*)$")
            hog.wait_for("^HOLDING$")
            during = read_int("/proc/sys/fs/file-nr")
            kids = [tuple(map(int, k.split())) for k in m[1].split(";") if k]
            self.assertGreaterEqual(len(kids), 12, hog.out)  # pids_max 16, less a few
            for files, err in kids:
                self.assertEqual(err, errno.EMFILE, hog.out)
                self.assertGreater(files, n - 64, hog.out)
                self.assertLessEqual(files, n, hog.out)
            self.assertLessEqual(during - before, self.PIDS_MAX * n, hog.out)
            self.assertLess(during, file_max // 2)
            # root can still su to a second user, who can still log in over ssh
            r = self.env.run(["su", "-", b.name, "-c", "true"],
                             env=dict(os.environ, **sanitizer_env(BUILD, self.env.workdir)))
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            r = self.srv.ssh(b.name, "echo in")
            self.assertEqual((r.returncode, r.stdout.strip()), (0, "in"), r.stderr)
            rc, out = hog.end()
        self.assertEqual(rc, 0, out)
        deadline = time.monotonic() + 10
        while read_int("/proc/sys/fs/file-nr") > before + 5000 and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertLessEqual(read_int("/proc/sys/fs/file-nr"), before + 5000,
                             "the session's files are not back")
        self.assertClean()

    def test_explicit_nofile(self):
        if self.HARD <= 4096:
            self.skipTest(f"the callers' hard RLIMIT_NOFILE is {self.HARD}, not above 4096")
        out = self.limits_inside(self.users[2], self.HARD, self.HARD,
                                 "; (ulimit -Hn 4097) 2>/dev/null && echo raised || echo denied")
        self.assertEqual(out.split(), ["4096", "4096", "denied"], out)

    def test_nofile_max_leaves_the_callers(self):
        out = self.limits_inside(self.users[3], self.HARD // 4, self.HARD // 2)
        self.assertEqual(out.split(), [str(self.HARD // 4), str(self.HARD // 2)], out)

    def test_without_pids_max_the_floor(self):
        out = self.limits_inside(self.users[1], self.HARD, self.HARD)
        self.assertEqual(out.split(), [str(NOFILE_FLOOR)] * 2, out)


class TestMaxSessions(unittest.TestCase):
    """Row 7: max_sessions bounds a user's live sessions over all policies; one more is
    refused with a message naming the user and max_sessions; other users are not affected;
    concurrent starts never exceed it."""

    USERS = ("isolate-ma", "isolate-mb", "isolate-mc")

    @classmethod
    def setUpClass(cls):
        require_root()
        require_built(HELPER, INIT, ISOLATECTL)
        cls.sb = Sandbox()
        cls.addClassCleanup(cls.sb.close)
        cls.a, cls.b, cls.c = (cls.sb.user(n) for n in cls.USERS)
        cls.cfg = cls.sb.config(
            policies=(BASE_POLICY + policy("cap2", "  max_sessions = 2")
                      + policy("cap3", "  max_sessions = 3")),
            body=(match(cls.a.name, "cap2", "sshd") + match(cls.c.name, "cap3")))

    HOLD_CMD = "echo up; exec timeout 90 head -n 1 >/dev/null"

    def held(self, user, service="sshd"):
        return Held(isolatectl_argv(self.cfg, user, self.HOLD_CMD, service))

    def assertRefused(self, r, user):
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("max_sessions", r.stderr)
        self.assertIn(user.name, r.stderr)

    def assertClean(self):
        left = self.sb.wait_clean(10)
        self.assertEqual(left, {"inits": [], "leaves": [], "registry": []},
                         "a session left something behind")

    def test_one_more_session_is_refused(self):
        # one session under the default policy (service login), one under cap2: cap2's
        # bound counts both
        with self.held(self.a, "login") as s1, self.held(self.a) as s2:
            s1.wait_for("^up$")
            s2.wait_for("^up$")
            r = self.sb.run(self.a, "echo in", self.cfg)
            self.assertRefused(r, self.a)
            self.assertNotIn("in", r.stdout.split())
            r = self.sb.run(self.b, "echo in", self.cfg)
            self.assertEqual((r.returncode, r.stdout.strip()), (0, "in"), r.stderr)
            rc, out = s1.end()
            self.assertEqual(rc, 0, out)
            deadline = time.monotonic() + 5
            while len(self.sb.registry_entries()) > 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            r = self.sb.run(self.a, "echo in", self.cfg)
            self.assertEqual((r.returncode, r.stdout.strip()), (0, "in"), r.stderr)
        self.assertClean()

    def test_concurrent_starts_never_exceed_it(self):
        sessions = [self.held(self.c) for _ in range(6)]
        try:
            started, refused = 0, []
            for s in sessions:
                try:
                    s.wait_for(r"^up$", 60)
                    started += 1
                except AssertionError:
                    if not s.eof:
                        raise
                    refused.append(s)
            self.assertEqual(started, 3, "\n--\n".join(s.out for s in sessions))
            for s in refused:
                rc, out = s.end()
                self.assertNotEqual(rc, 0, out)
                self.assertIn("max_sessions", out)
                self.assertIn(self.c.name, out)
        finally:
            for s in sessions:
                s.__exit__()
        self.assertClean()


class TestLandlockDev(LoginCase):
    """Row 9: with landlock_read_write = {"$HOME/work", "/tmp"} the user writes there and
    to /dev/null, not to /dev/shm (the monitor's rules name device nodes, not /dev); a pty
    login under that policy works and gets its login and logout records."""

    USERS = ("isolate-la",)
    POLICIES = BASE_POLICY + policy("ll", '  landlock_read_write = {"$HOME/work", "/tmp"}')
    BODY = match(USERS[0], "ll")

    WRITER = """
import os
for p in ("/dev/shm/x", os.path.expanduser("~/x"), os.path.expanduser("~/work/x"),
          "/tmp/x", "/dev/null"):
    try:
        with open(p, "w") as f:
            f.write("x")
        print("W %s ok" % p, flush=True)
    except OSError as e:
        print("W %s errno=%d" % (p, e.errno), flush=True)
"""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        u = cls.users[0]
        os.makedirs(os.path.join(u.home, "work"), exist_ok=True)
        os.chown(os.path.join(u.home, "work"), u.uid, u.gid)

    def test_writes_only_where_the_policy_says(self):
        u = self.users[0]
        r = self.srv.ssh(u.name, py(self.WRITER))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        expect = {"/dev/shm/x": f"errno={errno.EACCES}", f"{u.home}/x": f"errno={errno.EACCES}",
                  f"{u.home}/work/x": "ok", "/tmp/x": "ok", "/dev/null": "ok"}
        got = dict(re.findall(r"(?m)^W (\S+) (\S+)$", r.stdout))
        self.assertEqual(got, expect, r.stdout)
        self.assertClean()

    def test_pty_login_under_landlock(self):
        u = self.users[0]
        offset = os.path.getsize(self.env.wtmp)
        r = self.srv.ssh(u.name, "tty", tty=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        line = re.search(r"(?m)^/dev/(pts/\d+)$", r.stdout.replace("\r", ""))[1]
        self.assertLoggedInAndOut(u.name, offset, line)
        self.assertClean()


if __name__ == "__main__":
    unittest.main()
