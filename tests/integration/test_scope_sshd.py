"""Issue 14: scope = user and linger through a real OpenSSH sshd (loopback, private mount
namespace: sshd.py), and the safety of a login joining a sandbox where the user's code
already runs.

test_scope.py checks the same rules through `isolatectl run`; here every login is a real
ssh login (key authentication, ptys allocated by the sshd monitor after the join, agent
forwarding), and `su` through its own PAM stack. Each test asserts what a user (or the
admin) observes: the same pid namespace and /tmp in two logins, a tmux session started in
one login attached from another through a pty, jobs surviving a logout while another login
is open or the sandbox lingers, and nothing left (processes, cgroups, registry, mounts)
once the sandbox ends.

The join-safety tests (TestJoinSafety) let the user's processes attack what a joining login
brings into the sandbox as root: the sshd monitor's transient children and the PAM session
modules stacked after pam_isolate (a pam_exec here), while logins join."""

import collections
import contextlib
import fcntl
import json
import os
import pty
import re
import select
import shutil
import stat
import struct
import subprocess
import termios
import time
import unittest

from harness import (BUILD, HELPER, INIT, ISOLATECTL, PAM_MODULE, Held, Sandbox, require_built,
                     require_root)
from sshd import PrivateEnv, SshServer, sanitizer_env
from test_pam_sshd import HOST_PIDNS, processes_of, sshd_stack
from test_pam_su import su_stack

# One policy, user scope; each test writes it with its own linger.
SCOPED = """
policy test {
  network = host
  hostname = "%%u-session"
  private_tmp = true
  tmp_size = 64M
  scope = user
  linger = %s
}
"""

# escape sequences a shell writes to its pty (bracketed paste, title): not output
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]")
TERM_ENV = dict(os.environ, TERM="xterm", LANG="C")
TMUX = "/usr/bin/tmux"

# ---- programs the user runs inside the sandbox (python3 of the host, seen inside) ---------

# Signals and traces every process of the sandbox's pid namespace that is not visibly the
# user's own, until STOPFILE exists or DURATION seconds have passed; writes a JSON report.
#
# A process that is root when probed may be the user's a moment later: sshd's post-auth
# child switches to the user for good right after the join (and is then hidden by hidepid
# all the same, not being dumpable). So the signals that do not undo themselves are kept for
# processes root for their whole life: the init (pid 1) and the root hook's processes, whose
# pids the hook writes to KNOWN. Every other root-looking process gets SIGSTOP (and SIGCONT
# when it turns out to have become the user's), ptrace and the /proc files.
ATTACKER = r'''
import ctypes, errno, json, os, signal, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long
PTRACE_ATTACH, PTRACE_DETACH, PTRACE_SEIZE = 16, 17, 0x4206
OK_ERRNOS = {errno.EPERM, errno.EACCES, errno.ENOENT, errno.ESRCH}
duration, stopfile, report, known_file = float(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
me, self_pid = os.getuid(), os.getpid()
targets, killed_at, granted, unexpected, raced = set(), set(), [], [], []
attempts = rounds = 0

def note(pid, what, err):
    global attempts
    attempts += 1
    if err is None:
        granted.append((pid, what))
    elif err not in OK_ERRNOS:
        unexpected.append((pid, what, errno.errorcode.get(err, str(err))))

def signal_(pid, sig):
    try:
        os.kill(pid, sig)
        return None
    except OSError as e:
        return e.errno

def pidfd_signal(pid, sig):
    try:
        fd = os.pidfd_open(pid)
    except OSError as e:
        return e.errno
    try:
        signal.pidfd_send_signal(fd, sig)
        return None
    except OSError as e:
        return e.errno
    finally:
        os.close(fd)

def last_pid():
    try:
        with open("/proc/sys/kernel/ns_last_pid") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 4096

def known_root():
    pids = {1}
    try:
        with open(known_file) as f:
            pids |= {int(l.split()[0]) for l in f if l.strip()}
    except OSError:
        pass
    return pids

def stop(pid, how):
    err = how(pid, signal.SIGSTOP)
    if err is None and signal_(pid, 0) is None:
        os.kill(pid, signal.SIGCONT)  # it became ours meanwhile (setuid): not a finding
        raced.append(pid)
        return
    note(pid, f"SIGSTOP {how.__name__}", err)

def attack(pid, known):
    # the user's own processes that /proc shows: not targets
    try:
        if os.stat(f"/proc/{pid}").st_uid == me:
            return
    except OSError:
        pass
    err = signal_(pid, 0)
    if err == errno.ESRCH:
        return  # no such process
    if err is None:
        # signal 0 allowed: a process with our uid that /proc hides (the sshd child of a
        # login is not dumpable); never one that is root for good
        if pid in known:
            note(pid, "kill 0", None)
        return
    targets.add(pid)
    note(pid, "kill 0", err)
    stop(pid, signal_)
    stop(pid, pidfd_signal)
    if pid in known:
        killed_at.add(pid)
        note(pid, "SIGKILL", signal_(pid, signal.SIGKILL))
        note(pid, "SIGKILL pidfd", pidfd_signal(pid, signal.SIGKILL))
    for req in (PTRACE_ATTACH, PTRACE_SEIZE):
        r = libc.ptrace(req, pid, None, None)
        e = None if r == 0 else ctypes.get_errno()
        if e is None:
            libc.ptrace(PTRACE_DETACH, pid, None, None)
        note(pid, f"ptrace {req}", e)
    for path, how in ((f"/proc/{pid}/mem", "open"), (f"/proc/{pid}/environ", "open"),
                      (f"/proc/{pid}/root", "readlink"), (f"/proc/{pid}/fd", "listdir")):
        try:
            if how == "open":
                os.close(os.open(path, os.O_RDWR if path.endswith("mem") else os.O_RDONLY))
            elif how == "readlink":
                os.readlink(path)
            else:
                os.listdir(path)
            note(pid, f"{how} {path}", None)
        except OSError as e:
            note(pid, f"{how} {path}", e.errno)

deadline = time.monotonic() + duration
while time.monotonic() < deadline and not os.path.exists(stopfile):
    known = known_root()
    for pid in range(1, last_pid() + 32):
        if pid != self_pid:
            attack(pid, known)
    rounds += 1
    if rounds == 1:
        print("ATTACKING", flush=True)
with open(report, "w") as f:
    json.dump({"targets": sorted(targets), "killed_at": sorted(killed_at), "granted": granted,
               "unexpected": unexpected, "raced": raced, "attempts": attempts,
               "rounds": rounds}, f)
'''

# Watches /tmp: every ssh-* directory that appears (sshd's agent socket directory) is moved
# away and replaced by a symlink to TARGET, after the /tmp was sown with such symlinks.
AGENT_RACER = r'''
import json, os, secrets, sys, time
target, stopfile, report = sys.argv[1], sys.argv[2], sys.argv[3]
for _ in range(64):
    os.symlink(target, "/tmp/ssh-" + secrets.token_hex(5))
known, swapped = set(os.listdir("/tmp")), []
print("RACING", flush=True)
deadline = time.monotonic() + 30
while not os.path.exists(stopfile) and time.monotonic() < deadline:
    for name in os.listdir("/tmp"):
        if name in known or not name.startswith("ssh-"):
            continue
        known.add(name)
        p = "/tmp/" + name
        try:
            inside = os.listdir(p)
            os.rename(p, "/tmp/moved-" + name)
            os.symlink(target, p)
            swapped.append([name, inside])
        except OSError:
            pass
with open(report, "w") as f:
    json.dump({"swapped": swapped}, f)
'''

# Creates and removes things in /tmp, /var/tmp and /dev/shm (symlinks to root's files and to
# TARGET among them, under the names sshd and tmux use) and forks, as fast as it can, until
# STOPFILE.
CHURN = r'''
import json, os, random, shutil, signal, sys, time
stopfile, report, target = sys.argv[1], sys.argv[2], sys.argv[3]
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children reaped by the kernel
uid = os.getuid()
prefixes = ["ssh-", f"tmux-{uid}", ".X11-unix", "sshauth.", f"krb5cc_{uid}", "agent.", "pam"]
links = ["/etc", "/etc/shadow", "/root", "/", "/proc/1/root", "/run", target,
         target + "/secret", target + "/agent.5"]
dirs = ["/tmp", "/var/tmp", "/dev/shm"]
ops = forks = 0
deadline = time.monotonic() + 60
print("CHURNING", flush=True)
while not os.path.exists(stopfile) and time.monotonic() < deadline:
    p = os.path.join(random.choice(dirs), random.choice(prefixes) + str(random.randrange(50)))
    try:
        k = random.randrange(6)
        if k == 0:
            os.symlink(random.choice(links), p)
        elif k == 1:
            os.mkdir(p, 0o777)
            os.symlink(random.choice(links), os.path.join(p, "agent.%d" % random.randrange(200)))
        elif k == 2:
            os.mkfifo(p)
        elif k == 3:  # not blocking on a fifo of its own
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK, 0o666)
            os.write(fd, b"x")
            os.close(fd)
        elif k == 4:
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p)
            else:
                os.unlink(p)
        else:
            os.rename(p, p + ".r")
        ops += 1
    except OSError:
        pass
    if random.random() < 0.3:
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        forks += 1
with open(report, "w") as f:
    json.dump({"ops": ops, "forks": forks}, f)
'''


def mount_table(pid):
    """Counter of (mount point, fs type, source) of the mount namespace of pid."""
    c = collections.Counter()
    with open(f"/proc/{pid}/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            c[(fields[4], fields[sep + 1], fields[sep + 2])] += 1
    return c


def ns_holders(kind, link):
    """Host pids whose namespace `kind` is `link` ("mnt:[N]")."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{d}/ns/{kind}") == link:
                    out.append(int(d))
    return out


def tree_state(path):
    """{relative path: (uid, gid, mode, size, mtime_ns, content or link)} of a tree."""
    out = {}
    for root, dirs, files in os.walk(path):
        for name in [""] + dirs + files:
            p = os.path.join(root, name) if name else root
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    extra = f.read()
            elif stat.S_ISLNK(st.st_mode):
                extra = os.readlink(p)
            else:
                extra = None
            out[os.path.relpath(p, path)] = (st.st_uid, st.st_gid, st.st_mode, st.st_size,
                                             st.st_mtime_ns, extra)
    return out


def owners_and_modes(paths):
    """{path: (uid, gid, mode)}: what a chown or chmod through a symlink would change (their
    contents and times are not ours to watch: the host may add a user meanwhile)."""
    out = {}
    for p in paths:
        st = os.lstat(p)
        out[p] = (st.st_uid, st.st_gid, st.st_mode)
    return out


class Login(Held):
    """An interactive ssh login (ssh -tt, a login shell on a pty allocated by the monitor),
    commands sent as lines. Markers are written as arithmetic (MARK-$((6*7))) so that the
    pty's echo of the command never matches the pattern of its output."""

    def __init__(self, srv, user, extra=(), env=None):
        super().__init__(srv.ssh_argv(user.name, None, tty=True, extra=extra),
                         env=env or TERM_ENV)
        self.n = 0

    def run(self, command, timeout=30):
        """Runs command; returns its output (the text between two markers)."""
        self.n += 1
        a, b = 1000 + self.n, 2000 + self.n
        self.send(f"echo BEGIN-$(({a}+0)); {command}; echo END-$(({b}+0))")
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(rf"(?ms)^BEGIN-{a}\n(.*?)^END-{b}\s*$", ANSI.sub("", self.out))
            if m:
                return m.group(1)
            if self.eof or time.monotonic() > deadline:
                raise AssertionError(f"login never finished {command!r}:\n{self.out[-3000:]}")
            self._read(min(0.5, deadline - time.monotonic()))

    def logout(self, timeout=30):
        if self.p.returncode is None and not self.p.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.send("exit")
        return self.end(timeout)

    def __exit__(self, *exc):
        if self.p.returncode is None:
            self.logout(timeout=15)


class ScopeSshdCase(unittest.TestCase):
    """One Sandbox, one private sshd (and su) whose stacks load pam_isolate, users s1 and s2.
    Each test writes its own config (the policy with the test's linger) into the stacks."""

    USERS = ("isolate-ss1", "isolate-ss2")

    @classmethod
    def setUpClass(cls):
        require_root()
        require_built(PAM_MODULE, HELPER, INIT)
        cls.sb = Sandbox()
        cls.addClassCleanup(cls.sb.close)
        cls.u1, cls.u2 = (cls.sb.user(n) for n in cls.USERS)
        cls.env = PrivateEnv({})
        cls.addClassCleanup(cls.env.close)
        cls.srv = SshServer(cls.env, extra_env=sanitizer_env(BUILD, cls.env.workdir))
        cls.addClassCleanup(cls.srv.close)
        for u in cls.USERS:
            cls.srv.authorize(u)
        cls.srv.start()
        cls.run_env = dict(os.environ, **sanitizer_env(BUILD, cls.env.workdir))
        # programs the user runs inside: a root-owned directory the sandbox sees (not /tmp)
        cls.bin = os.path.join(cls.env.workdir, "bin")
        os.mkdir(cls.bin, 0o755)
        for name, text in (("attacker.py", ATTACKER), ("agent_racer.py", AGENT_RACER),
                           ("churn.py", CHURN)):
            with open(os.path.join(cls.bin, name), "w") as f:
                f.write(text)
            os.chmod(os.path.join(cls.bin, name), 0o755)

    def setUp(self):
        self.cfg = self.use_config("no")
        self.mark = self.env.syslog.mark()
        self.log_mark = len(self.srv.log)
        self.mounts_before = {"host": mount_table("self"),
                              "sshd": mount_table(self.env.holder.pid)}

    def tearDown(self):
        # whatever a failed test left: every sandbox of the test users ends
        for u in (self.u1, self.u2):
            subprocess.run([ISOLATECTL, "kill", "-c", self.cfg, u.name], capture_output=True,
                           timeout=30)
        for u in (self.u1, self.u2):
            deadline = time.monotonic() + 5
            while processes_of(u.uid) and time.monotonic() < deadline:
                time.sleep(0.05)
        self.sb.wait_clean(5)
        for name in os.listdir(self.env.workdir):
            if name.startswith(("asan", "ubsan")):
                with open(os.path.join(self.env.workdir, name)) as f:
                    self.fail(f"sanitizer report from sshd or su:\n{f.read()}")

    # ---- setup helpers ---------------------------------------------------------------------

    def use_config(self, linger, after=""):
        cfg = self.sb.config(policies=SCOPED % linger, name=f"scope-{linger}.conf")
        self.env.write_pam("sshd", sshd_stack(cfg, after=after))
        self.env.write_pam("su", su_stack(cfg))
        self.env.write_pam("su-l", "@include su\n")
        self.cfg = cfg
        return cfg

    def login(self, user, extra=(), env=None):
        lg = Login(self.srv, user, extra, env)
        self.addCleanup(lg.__exit__)
        self.assertEqual(lg.run("true").strip(), "", lg.out)  # the shell is up
        return lg

    def ssh(self, user, command, **kw):
        kw.setdefault("env", TERM_ENV)
        return self.srv.ssh(user.name, command, **kw)

    def script_path(self, name):
        return os.path.join(self.bin, name)

    def home_path(self, user, name):
        return os.path.join(user.home, name)

    def wait_file(self, path, timeout=15, log=None):
        """The text of path once it exists; log: the output of the program that writes it,
        shown when it never does."""
        deadline = time.monotonic() + timeout
        while not os.path.exists(path):
            if time.monotonic() > deadline:
                text = ""
                with contextlib.suppress(OSError), open(log or os.devnull) as f:
                    text = f.read()[-3000:]
                raise AssertionError(f"{path} never appeared: {text}")
            time.sleep(0.05)
        time.sleep(0.1)  # written by now (a few bytes)
        with open(path) as f:
            return f.read()

    def stop_file(self, user, name):
        """A path in the user's home: when the test creates it, the user's program stops."""
        path = self.home_path(user, name)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        self.addCleanup(lambda: os.path.exists(path) or open(path, "w").close())
        return path

    # ---- what a user and the admin observe -------------------------------------------------

    def listed(self, user):
        """isolatectl list --json rows of user."""
        r = subprocess.run([ISOLATECTL, "list", "-c", self.cfg, "--json"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return [row for row in json.loads(r.stdout) if row["user"] == user.name]

    def wait_logins(self, user, n, timeout=5):
        deadline = time.monotonic() + timeout
        while True:
            rows = self.listed(user)
            if len(rows) == 1 and rows[0].get("logins") == n:
                return rows[0]
            if time.monotonic() > deadline:
                self.fail(f"expected one sandbox with {n} logins open: {rows}")
            time.sleep(0.05)

    def sessions_confined(self, user, service="sshd", count=1, timeout=10):
        """The session ids of the pam_isolate lines outcome=confined (through the helper) or
        joined (by ticket) of user since setUp."""
        deadline = time.monotonic() + timeout
        rx = re.compile(rf"pam_isolate\({service}:session\): user={re.escape(user.name)} "
                        r".*session=(\S+) outcome=(?:confined|joined)")
        while True:
            ids = [rx.search(l).group(1) for l in self.env.syslog.lines()[self.mark:]
                   if rx.search(l)]
            if len(ids) >= count or time.monotonic() > deadline:
                return ids
            time.sleep(0.05)

    def assertNothingLeft(self, user, mntns=None, timeout=5):
        """No process of user on the host, no init, session cgroup or registry file of ours,
        no sandbox in `isolatectl list`, no mount added to the host's or sshd's namespace,
        and (mntns: as seen inside) the sandbox's mount namespace gone with its mounts."""
        deadline = time.monotonic() + timeout
        while processes_of(user.uid) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(processes_of(user.uid), [], "a process of the user outlived it")
        left = self.sb.wait_clean(timeout)
        self.assertEqual(left, {"inits": [], "leaves": [], "registry": []},
                         "the sandbox left something behind")
        self.assertEqual(self.listed(user), [])
        for name, pid in (("host", "self"), ("sshd", self.env.holder.pid)):
            added = mount_table(pid) - self.mounts_before[name]
            self.assertEqual(dict(added), {}, f"mounts added to the {name} mount namespace")
        if mntns:
            self.assertEqual(ns_holders("mnt", mntns), [],
                             "a process still holds the sandbox's mount namespace")

    def sshd_errors(self):
        return [l for l in self.srv.log[self.log_mark:]
                if re.search(r"\b(error|fatal)\b|failed", l, re.I)]


def ns_of(text, kind="pid"):
    m = re.search(rf"NS{kind.upper()}=({kind}:\[\d+\])", text)
    return m.group(1) if m else None


NS = "echo NSPID=$(readlink /proc/self/ns/pid) NSMNT=$(readlink /proc/self/ns/mnt)"


class TestSharedSandbox(ScopeSshdCase):
    def setUp(self):
        super().setUp()
        if not os.access(TMUX, os.X_OK):
            self.skipTest(f"{TMUX} is not installed")

    def attach_and_type(self, user, session, keys, done_path, timeout=20):
        """`tmux attach -t SESSION` over ssh through a real pty (80x24, TERM=xterm): waits
        for tmux's status line, types keys + Enter, waits for done_path, detaches (C-b d).
        Returns (ssh exit status, everything the terminal showed)."""
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        p = subprocess.Popen(self.srv.ssh_argv(user.name, f"{TMUX} attach -t {session}",
                                               tty=True),
                             stdin=slave, stdout=slave, stderr=slave, env=TERM_ENV,
                             start_new_session=True)
        os.close(slave)
        seen = b""

        def read_until(pred, secs):
            nonlocal seen
            end = time.monotonic() + secs
            while not pred() and time.monotonic() < end:
                if select.select([master], [], [], 0.2)[0]:
                    try:
                        seen += os.read(master, 65536)
                    except OSError:
                        return

        try:
            read_until(lambda: f"[{session}]".encode() in seen, timeout)
            self.assertIn(f"[{session}]".encode(), seen, "no tmux status line: not attached")
            time.sleep(0.3)
            os.write(master, keys.encode() + b"\r")
            read_until(lambda: os.path.exists(done_path), timeout)
            time.sleep(0.2)
            os.write(master, b"\x02d")  # C-b d: detach
            read_until(lambda: p.poll() is not None, timeout)
            rc = p.wait(timeout)
            read_until(lambda: False, 0.3)
            return rc, seen.decode(errors="replace")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            os.close(master)

    def test_tmux_of_one_login_attached_from_another(self):
        """Two ssh logins of one user share one sandbox: the second sees the first one's
        tmux session (its socket is in the shared private /tmp), attaches to it through a
        pty and runs a command in its window, in the same pid namespace."""
        one = self.login(self.u1)
        out = one.run(f"{TMUX} new -d -s work && {TMUX} ls; {NS}")
        self.assertRegex(out, r"(?m)^work: 1 windows", out)
        ns1, mnt1 = ns_of(out), ns_of(out, "mnt")
        self.assertIsNotNone(ns1, out)
        self.assertNotEqual(ns1, HOST_PIDNS)

        r = self.ssh(self.u1, f"{TMUX} ls; {NS}")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"(?m)^work: 1 windows", "login 2 does not see the tmux")
        self.assertEqual(ns_of(r.stdout), ns1, "login 2 is in another pid namespace")
        self.assertEqual(ns_of(r.stdout, "mnt"), mnt1)

        mark = self.home_path(self.u1, "mark")
        rc, screen = self.attach_and_type(
            self.u1, "work", "echo MARK-$((6*7)) $(readlink /proc/self/ns/pid) > ~/mark.tmp "
                             "&& mv ~/mark.tmp ~/mark", mark)
        self.assertEqual(rc, 0, screen[-2000:])
        self.assertIn("[detached (from session work)]", screen)
        with open(mark) as f:
            self.assertEqual(f.read().split(), ["MARK-42", ns1],
                             "the command typed in login 2 ran in login 1's tmux window")
        self.assertEqual(os.stat(mark).st_uid, self.u1.uid)

        # the admin's view: all three logins went to one sandbox, where one is still open
        ids = self.sessions_confined(self.u1, count=3)
        self.assertEqual(len(ids), 3, self.env.syslog.dump())
        self.assertEqual(len(set(ids)), 1, f"one sandbox for all three logins: {ids}")
        # the later logins through sshd's own PAM stack joined by ticket, no helper ran
        by_ticket = [l for l in self.env.syslog.lines()[self.mark:]
                     if re.search(rf"pam_isolate\(sshd:session\): user={re.escape(self.u1.name)} "
                                  r".*outcome=joined .*by ticket", l)]
        self.assertEqual(len(by_ticket), 2, self.env.syslog.dump())
        self.assertEqual(self.wait_logins(self.u1, 1)["scope"], "user")
        # the tmux session survived the logins that attached to it
        self.assertRegex(one.run(f"{TMUX} ls"), r"(?m)^work: ")
        one.logout()
        self.assertNothingLeft(self.u1, mnt1)
        self.assertEqual(self.sshd_errors(), [])

    def test_linger_keeps_tmux_then_everything_goes(self):
        """linger = 3s: a tmux started in a login outlives its logout and is listed at the
        next login; the linger starts over at each last logout; when it expires, the user has
        no process left, and the sandbox no cgroup, registry file or mount."""
        self.use_config("3s")
        r = self.ssh(self.u1, f"{TMUX} new -d -s keep && {NS}", tty=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.replace("\r", "")
        ns1, mnt1 = ns_of(out), ns_of(out, "mnt")
        self.assertIsNotNone(ns1, out)
        t_first = time.monotonic()
        time.sleep(0.3)
        rows = self.listed(self.u1)
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual((rows[0]["logins"], rows[0]["lingering"]), (0, True), rows)
        self.assertTrue(any("tmux" in cmd for _, cmd in processes_of(self.u1.uid)),
                        "the tmux server did not survive the logout")

        time.sleep(max(0, t_first + 1.5 - time.monotonic()))
        r = self.ssh(self.u1, f"{TMUX} ls; {NS}")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"(?m)^keep: 1 windows", "the next login does not see it")
        self.assertEqual(ns_of(r.stdout), ns1, "the next login did not rejoin the sandbox")
        t_last = time.monotonic()

        # past the first logout's 3 s, but within the last one's: still there
        time.sleep(max(0, max(t_first + 3.8, t_last + 1.5) - time.monotonic()))
        self.assertLess(time.monotonic(), t_last + 2.8, "the test itself was too slow")
        self.assertTrue(any("tmux" in cmd for _, cmd in processes_of(self.u1.uid)),
                        "the linger did not start over at the last logout")
        self.assertEqual(len(self.listed(self.u1)), 1)

        # expiry: everything goes
        self.assertNothingLeft(self.u1, mnt1, timeout=6)


class TestLogins(ScopeSshdCase):
    def test_logout_kills_nothing_while_another_login_is_open(self):
        """linger = no: login A runs a background sleep, login B starts one too and logs
        out: both still run (seen from A); when A, the last login, logs out, nothing of the
        user is left."""
        a = self.login(self.u1)
        out = a.run(f"nohup sleep 1000 >/dev/null 2>&1 </dev/null & echo APID=$! ; {NS}")
        apid = re.search(r"APID=(\d+)", out).group(1)
        ns_a, mnt_a = ns_of(out), ns_of(out, "mnt")
        r = self.ssh(self.u1, f"nohup sleep 1001 >/dev/null 2>&1 </dev/null & echo BPID=$!; {NS}")
        self.assertEqual(r.returncode, 0, r.stderr)
        bpid = re.search(r"BPID=(\d+)", r.stdout).group(1)
        self.assertEqual(ns_of(r.stdout), ns_a)
        self.wait_logins(self.u1, 1)  # B's session is closed
        time.sleep(0.3)
        out = a.run(f"kill -0 {apid} && kill -0 {bpid} && echo BOTH-ALIVE-$((1+1))")
        self.assertIn("BOTH-ALIVE-2", out, "a logout killed a job while another login is open")
        cmds = [cmd for _, cmd in processes_of(self.u1.uid)]
        self.assertIn("sleep 1000", cmds)
        self.assertIn("sleep 1001", cmds)
        a.logout()
        self.assertNothingLeft(self.u1, mnt_a)

    def test_other_user_gets_a_sandbox_of_its_own(self):
        """Another user's login under the same policy does not join: another pid namespace,
        another /tmp, none of the first user's processes visible."""
        one = self.login(self.u1)
        out = one.run(f"touch /tmp/s1-was-here; nohup sleep 1002 >/dev/null 2>&1 </dev/null & "
                      f"{NS}")
        ns1 = ns_of(out)
        r = self.ssh(self.u2, f"{NS}; echo TMP:; ls -A /tmp; echo PS:; "
                     "ps -e -o user:32=,args=; echo SIGNAL:; "
                     f"pkill -u {self.u1.name} sleep; echo rc=$?")
        self.assertEqual(r.returncode, 0, r.stderr)
        ns2 = ns_of(r.stdout)
        self.assertNotIn(ns2, (ns1, HOST_PIDNS, None), r.stdout)
        tmp = r.stdout.split("TMP:\n")[1].split("PS:\n")[0]
        self.assertNotIn("s1-was-here", tmp)
        ps = r.stdout.split("PS:\n")[1].split("SIGNAL:\n")[0]
        users = {line.split()[0] for line in ps.splitlines() if line.strip()}
        self.assertEqual(users, {self.u2.name}, "the other user sees processes not its own")
        self.assertNotIn("sleep 1002", ps)
        self.assertIn("rc=1", r.stdout, "pkill found a process of the other user")
        self.assertIn("sleep 1002", [c for _, c in processes_of(self.u1.uid)])
        ids1 = self.sessions_confined(self.u1)
        ids2 = self.sessions_confined(self.u2)
        self.assertTrue(ids1 and ids2 and not set(ids1) & set(ids2), (ids1, ids2))
        self.assertIn("s1-was-here", one.run("ls /tmp"))
        one.logout()
        self.assertNothingLeft(self.u1)
        self.assertNothingLeft(self.u2)

    def test_su_joins_the_ssh_login_and_ends_cleanly(self):
        """root's `su - USER -c ...` (pam_isolate in su's stack) while an ssh login of the
        user is open joins that login's sandbox: same pid namespace, same /tmp, its jobs
        visible; su ends cleanly and the ssh login, and its job, go on."""
        one = self.login(self.u1)
        out = one.run("touch /tmp/from-ssh; nohup sleep 1003 >/dev/null 2>&1 </dev/null & "
                      f"echo JOB=$!; {NS}")
        job, ns1, mnt1 = re.search(r"JOB=(\d+)", out).group(1), ns_of(out), ns_of(out, "mnt")
        su = Held(self.env.nsenter() + ["su", "-", self.u1.name, "-c",
                                        f"{NS}; ls /tmp; pgrep -x sleep; echo SU-READY; read x"],
                  cwd="/", env=self.run_env)
        self.addCleanup(su.__exit__)
        su.wait_for(r"SU-READY", 30)
        self.assertEqual(ns_of(su.out), ns1, "su did not join the ssh login's sandbox")
        self.assertEqual(ns_of(su.out, "mnt"), mnt1)
        self.assertIn("from-ssh", su.out)
        self.assertRegex(su.out, rf"(?m)^{job}$", "su does not see the ssh login's job")
        row = self.wait_logins(self.u1, 2)
        self.assertEqual(row["scope"], "user")
        rc, text = su.end()
        self.assertEqual(rc, 0, text)
        self.assertEqual(self.sessions_confined(self.u1, "su-l"), self.sessions_confined(self.u1),
                         self.env.syslog.dump())
        self.assertIsNotNone(self.env.syslog.wait_for(
            rf"pam_isolate\(su-l:session\): user={self.u1.name} .*outcome=closed", 10,
            self.mark), self.env.syslog.dump())
        self.wait_logins(self.u1, 1)
        out = one.run(f"kill -0 {job} && echo ALIVE-$((3+4)); ls /tmp; {NS}")
        self.assertIn("ALIVE-7", out, "su's logout killed the ssh login's job")
        self.assertIn("from-ssh", out)
        self.assertEqual(ns_of(out), ns1)
        one.logout()
        self.assertNothingLeft(self.u1, mnt1)


class TestJoinSafety(ScopeSshdCase):
    """A login joining a sandbox brings root processes into it (DESIGN.md, "What runs as
    root in a shared sandbox"); the user's processes already in it gain nothing from them."""

    def start_agent(self):
        """An ssh-agent of the test's (by pid) holding a key of its own; the env for ssh -A."""
        d = os.path.join(self.env.workdir, "agent")
        os.makedirs(d, 0o700, exist_ok=True)
        sock = os.path.join(d, "agent.sock")
        key = os.path.join(d, "forwarded_ed25519")
        if not os.path.exists(key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                            "isolate-forwarded-key", "-f", key], check=True, capture_output=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(sock)
        agent = subprocess.Popen(["ssh-agent", "-D", "-a", sock], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def stop():
            agent.kill()
            agent.wait()
        self.addCleanup(stop)
        deadline = time.monotonic() + 10
        while not os.path.exists(sock):
            self.assertLess(time.monotonic(), deadline, "ssh-agent did not start")
            time.sleep(0.02)
        env = dict(TERM_ENV, SSH_AUTH_SOCK=sock)
        r = subprocess.run(["ssh-add", key], env=env, capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        return env

    def make_target(self):
        """A root-owned directory the sandbox sees (below the test's work directory, not in
        /tmp): a secret file and root-owned files agent.1 ... agent.2000, one of them named
        as sshd's agent socket (agent.<pid of the sshd child in the sandbox>) will be."""
        target = os.path.join(self.env.workdir, "target")
        shutil.rmtree(target, ignore_errors=True)
        os.mkdir(target, 0o755)
        os.chmod(target, 0o755)
        with open(os.path.join(target, "secret"), "w") as f:
            f.write("root's own\n")
        os.chmod(os.path.join(target, "secret"), 0o644)
        for i in range(1, 2001):
            open(os.path.join(target, f"agent.{i}"), "w").close()
        return target

    def test_agent_socket_symlinks_gain_nothing(self):
        """OpenSSH 9.2 (session.c auth_input_request_forwarding) makes the forwarded agent's
        socket in the post-auth child, which has already switched to the user for good
        (do_setusercontext -> permanently_set_uid, so its temporarily_use_uid is a no-op):
        mkdtemp("/tmp/ssh-XXXXXXXXXX"), then bind "agent.<pid>" in it; the same child
        unlinks the socket and removes the directory at logout (do_cleanup ->
        auth_sock_cleanup_proc). The monitor, root, does nothing in /tmp. With isolate the
        joining login's child works in the sandbox's /tmp, which the user controls.

        So the user, in login 1, sows /tmp with ssh-* symlinks to a root-owned directory and
        swaps every ssh-* directory that appears for such a symlink, while login 2 forwards
        an agent (its bind and its cleanup then go through the symlink, to root-owned files
        named agent.N). The root-owned directory must stay as it was, login 2 must work (the
        agent through it may fail), and a third login, with the symlinks still there, gets
        a working agent in a directory of its own."""
        env = self.start_agent()
        target = self.make_target()
        before = tree_state(target)
        one = self.login(self.u1)
        stop = self.stop_file(self.u1, "stop-racer")
        report = self.home_path(self.u1, "racer.json")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(report)
        out = one.run(f"python3 {self.script_path('agent_racer.py')} {target} {stop} "
                      f"{report} > ~/racer.out 2>&1 & sleep 0.1; "
                      "for i in $(seq 100); do grep -q RACING ~/racer.out && break; sleep 0.05; "
                      f"done; cat ~/racer.out; {NS}")
        self.assertIn("RACING", out)
        mnt1 = ns_of(out, "mnt")

        r = self.ssh(self.u1, "echo SOCK=$SSH_AUTH_SOCK; sleep 1; ls -la /tmp | grep ' ssh-' "
                     "| grep -v ' -> ' ; ssh-add -l; echo AGENT-RC=$?; echo LOGIN-OK",
                     extra=["-A"], env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("LOGIN-OK", r.stdout)
        # SOCK= empty: the racer swapped the directory between mkdtemp and bind, and sshd's
        # bind through the symlink failed (as the user): forwarding off, safely
        self.assertRegex(r.stdout, r"SOCK=(/tmp/ssh-\w{10}/agent\.\d+)?\n", r.stdout + r.stderr)
        sock2 = re.search(r"SOCK=(\S*)", r.stdout).group(1)
        if sock2:
            self.assertLessEqual(int(sock2.rsplit(".", 1)[1]), 2000)
        time.sleep(0.5)  # login 2's cleanup, through the symlink

        open(stop, "w").close()
        racer = json.loads(self.wait_file(report, log=report.replace(".json", ".out")))
        swapped = [name for name, _ in racer["swapped"]]
        self.assertTrue(swapped, f"the racer never swapped an agent directory: {racer}")
        if sock2:
            self.assertIn(sock2.split("/")[2], swapped,
                          f"the racer never swapped login 2's agent directory: {racer}")
        self.assertEqual(tree_state(target), before,
                         "sshd changed a root-owned directory through the user's symlinks")

        # with the sown symlinks still in /tmp, a later login's agent works
        r = self.ssh(self.u1, "echo SOCK=$SSH_AUTH_SOCK; stat -c 'DIR=%U %a %F' "
                     "$(dirname $SSH_AUTH_SOCK); ssh-add -l; ls /tmp | grep -c '^ssh-'",
                     extra=["-A"], env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"DIR={self.u1.name} 700 directory", r.stdout)
        self.assertIn("isolate-forwarded-key (ED25519)", r.stdout, "agent forwarding broke")
        self.assertEqual(tree_state(target), before)
        one.logout()
        self.assertNothingLeft(self.u1, mnt1)
        self.assertEqual(tree_state(target), before)

    def test_user_cannot_signal_or_trace_root_processes_of_a_join(self):
        """The user's process signals (0, SIGSTOP; SIGKILL for the processes root for good),
        with kill and pidfd_send_signal, ptraces (ATTACH, SEIZE) and opens
        /proc/PID/{mem,environ,root,fd} of every process of the sandbox's pid namespace that
        is not visibly its own, in a loop, while logins join; the joining logins run a
        pam_exec after pam_isolate whose root script stays a second inside the sandbox.
        Every attempt on a root process fails (EPERM, or not visible), the script and the
        init (pid 1) among the targets, and the logins work."""
        hook_log = os.path.join(self.env.workdir, "hook-pids")
        hook = os.path.join(self.env.workdir, "hook-root.sh")
        with open(hook, "w") as f:
            f.write("#!/bin/sh\n"
                    f'echo "$$ $(id -u) $(readlink /proc/self/ns/pid)" >> {hook_log}\n'
                    "sleep 1\n")
        os.chmod(hook, 0o755)
        open(hook_log, "w").close()  # the hook appends; the attacker reads it
        os.chmod(hook_log, 0o644)
        one = self.login(self.u1)
        out = one.run(NS)
        ns1, mnt1 = ns_of(out), ns_of(out, "mnt")
        stop = self.stop_file(self.u1, "stop-attacker")
        report = self.home_path(self.u1, "attack.json")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(report)
        out = one.run(f"python3 {self.script_path('attacker.py')} 20 {stop} {report} {hook_log} "
                      "> ~/attack.out 2>&1 & sleep 0.1; for i in $(seq 100); do "
                      "grep -q ATTACKING ~/attack.out && break; sleep 0.05; done; "
                      "cat ~/attack.out")
        self.assertIn("ATTACKING", out)
        # from now on, every login runs a root script inside the sandbox at open
        self.use_config("no", after=f"session required pam_exec.so type=open_session {hook}\n")
        results = []
        for tty in (False, True, False):
            r = self.ssh(self.u1, f"{NS}; echo JOINED-$((5*5))", tty=tty)
            results.append(r)
        open(stop, "w").close()
        attack = json.loads(self.wait_file(report, log=report.replace(".json", ".out")))
        self.assertEqual(attack["granted"], [], f"the user reached a root process: {attack}")
        self.assertEqual(attack["unexpected"], [], attack)
        with open(hook_log) as f:
            hooks = [l.split() for l in f.read().splitlines()]
        self.assertEqual(len(hooks), 3, hooks)
        for pid, uid, ns in hooks:
            self.assertEqual((uid, ns), ("0", ns1), "the hook ran as root in the sandbox")
        self.assertIn(1, attack["killed_at"], attack)
        missed = [int(p) for p, _, _ in hooks if int(p) not in attack["killed_at"]]
        self.assertEqual(missed, [], f"the attacker never tried the root hook: {attack}")
        self.assertGreater(attack["rounds"], 10, attack)
        for r in results:
            self.assertEqual(r.returncode, 0, r.stderr + "\n".join(self.srv.log[self.log_mark:]))
            out = r.stdout.replace("\r", "")
            self.assertIn("JOINED-25", out)
            self.assertEqual(ns_of(out), ns1)
        self.assertEqual(one.run("echo STILL-$((8*8))").strip(), "STILL-64")
        one.logout()
        self.assertNothingLeft(self.u1, mnt1)

    def test_joins_while_the_user_churns_tmp_and_forks(self):
        """The user's process creates and removes symlinks (to /etc, /etc/shadow, /root,
        /proc/1/root, a root-owned test directory...), directories, fifos and files under
        the names sshd and tmux use in /tmp, /var/tmp and /dev/shm, and forks, as fast as it
        can, while ten logins join in sequence (plain, pty, agent forwarding): every login
        works and lands in the same sandbox, the test directory is unchanged and no owner or
        mode of /etc, /etc/shadow, /etc/passwd, /root changed, and nothing is left after the
        last logout."""
        env = self.start_agent()
        target = self.make_target()
        before = tree_state(target)
        watched = ["/etc", "/etc/shadow", "/etc/passwd", "/root"]
        host_before = owners_and_modes(watched)
        one = self.login(self.u1)
        out = one.run(NS)
        ns1, mnt1 = ns_of(out), ns_of(out, "mnt")
        stop = self.stop_file(self.u1, "stop-churn")
        report = self.home_path(self.u1, "churn.json")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(report)
        out = one.run(f"python3 {self.script_path('churn.py')} {stop} {report} {target} "
                      "> ~/churn.out 2>&1 & sleep 0.1; for i in $(seq 100); do "
                      "grep -q CHURNING ~/churn.out && break; sleep 0.05; done; cat ~/churn.out")
        self.assertIn("CHURNING", out)
        for i in range(10):
            kind = ("plain", "pty", "agent")[i % 3]
            with self.subTest(login=i, kind=kind):
                r = self.ssh(self.u1, f"{NS}; id -un; echo OK-$(({i}*{i}+1)); "
                             "[ -n \"$SSH_AUTH_SOCK\" ] && ssh-add -l",
                             tty=kind == "pty", extra=["-A"] if kind == "agent" else [],
                             env=env if kind == "agent" else TERM_ENV, timeout=30)
                out = r.stdout.replace("\r", "")
                self.assertIn(f"OK-{i * i + 1}", out, r.stderr)
                self.assertEqual(ns_of(out), ns1, out)
                self.assertRegex(out, rf"(?m)^{self.u1.name}$")
                if kind == "agent":
                    # the churn may take the agent's directory name: the login still works
                    self.assertEqual(r.returncode in (0, 1, 2), True, r.stderr)
                else:
                    self.assertEqual(r.returncode, 1, r.stderr)  # the [ -n ] test
        open(stop, "w").close()
        churn = json.loads(self.wait_file(report, log=report.replace(".json", ".out")))
        self.assertGreater(churn["ops"], 100, churn)
        self.assertGreater(churn["forks"], 20, churn)
        self.assertEqual(one.run("echo STILL-$((9*9))").strip(), "STILL-81")
        one.logout()
        self.assertNothingLeft(self.u1, mnt1)
        self.assertEqual(tree_state(target), before,
                         "a root-owned directory changed through the user's symlinks")
        self.assertEqual(owners_and_modes(watched), host_before)


if __name__ == "__main__":
    unittest.main()
