"""Issue 15: egress_allow, the destinations a session of a network = host policy reaches,
enforced by cgroup BPF on the session's cgroup in the cgroup2 hierarchy (on this v1-hybrid
host a leaf of ours under /sys/fs/cgroup/unified), through isolatectl run (the helper's
login path).

Listeners on loopback only: 127.0.0.2, 127.0.0.3 and ::1, ports picked free. A probe run
inside the session tries each destination and prints what connect()/sendto() returned; the
same probe under a policy without the key reaches all of them, so a refusal is the
filter's doing.

egress_log (TestEgressLog, and the sshd class): the session's init syslogs each refusal;
those tests run isolatectl in a PrivateEnv (sshd.py), whose /dev/log is the test's listener,
so the init (made in a copy of that mount namespace) logs there."""

import json
import os
import re
import socket
import subprocess
import threading
import time
import unittest

from harness import (BUILD, HELPER, INIT, ISOLATECTL, PAM_MODULE, Held, Sandbox,
                     SandboxTestCase, require_built, require_root)
from sshd import PrivateEnv, SshServer, sanitizer_env
from test_pam_sshd import sshd_stack

PROBE = r"""
import ctypes, errno, json, socket, sys
out = {}
for name, fam, kind, addr in json.loads(sys.argv[1]):
    s = socket.socket(getattr(socket, fam), getattr(socket, kind))
    s.settimeout(5)
    try:
        if kind == "SOCK_STREAM":
            s.connect(tuple(addr))
            out[name] = s.recv(64).decode()
        else:
            s.sendto(name.encode(), tuple(addr))
            out[name] = "sent"
    except OSError as e:
        out[name] = errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()
# the programs cannot be taken away from inside: bpf(2) itself is refused
libc = ctypes.CDLL(None, use_errno=True)
r = libc.syscall(321, 9, None, 0)  # bpf(BPF_PROG_DETACH, ...)
out["bpf"] = errno.errorcode.get(ctypes.get_errno(), "ok") if r < 0 else "ok"
print(json.dumps(out))
"""


def policy(egress, scope="login", extra=""):
    line = f"egress_allow = {{{egress}}}" if egress is not None else ""
    return f"""
policy test {{
  network = host
  scope = {scope}
  {line}
  {extra}
}}
"""


class Listeners:
    """TCP listeners that answer with their own name, and UDP sockets that keep what they
    receive; closed by close()."""

    def __init__(self):
        self.socks, self.got = [], {}
        self.tcp = {}
        for name, fam, host in (("v4a", socket.AF_INET, "127.0.0.2"),
                                ("v4a2", socket.AF_INET, "127.0.0.2"),
                                ("v4b", socket.AF_INET, "127.0.0.3"),
                                ("v6a", socket.AF_INET6, "::1"),
                                ("v6b", socket.AF_INET6, "::1")):
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, 0))
            s.listen(16)
            self.socks.append(s)
            self.tcp[name] = (host, s.getsockname()[1])
            threading.Thread(target=self._serve, args=(s, name), daemon=True).start()
        self.udp = {}
        for name, host in (("u_a", "127.0.0.2"), ("u_b", "127.0.0.3")):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((host, 0))
            s.settimeout(0.5)
            self.socks.append(s)
            self.udp[name] = (host, s.getsockname()[1])

    def _serve(self, s, name):
        try:
            while True:
                c, _ = s.accept()
                c.sendall(name.encode())
                c.close()
        except OSError:
            pass

    def received(self, name):
        s = self.socks[5 + list(self.udp).index(name)]
        try:
            return s.recv(64).decode()
        except OSError:
            return None

    def close(self):
        for s in self.socks:
            s.close()


class TestEgress(SandboxTestCase):
    USERS = ("isolate-eg1", "isolate-eg2")

    def setUp(self):
        if not os.path.exists("/sys/fs/cgroup/unified/cgroup.procs") and \
                not os.path.exists("/sys/fs/cgroup/cgroup.procs"):
            self.skipTest("no cgroup2 hierarchy mounted: cgroup BPF has nowhere to attach")
        self.l = Listeners()
        self.addCleanup(self.l.close)
        t = self.l.tcp
        self.targets = [
            ("v4a", "AF_INET", "SOCK_STREAM", list(t["v4a"])),
            ("v4a2", "AF_INET", "SOCK_STREAM", list(t["v4a2"])),
            ("v4b", "AF_INET", "SOCK_STREAM", list(t["v4b"])),
            ("v6a", "AF_INET6", "SOCK_STREAM", list(t["v6a"])),
            ("v6b", "AF_INET6", "SOCK_STREAM", list(t["v6b"])),
            ("mapped_a", "AF_INET6", "SOCK_STREAM", ["::ffff:127.0.0.2", t["v4a"][1]]),
            ("mapped_b", "AF_INET6", "SOCK_STREAM", ["::ffff:127.0.0.3", t["v4b"][1]]),
            ("u_a", "AF_INET", "SOCK_DGRAM", list(self.l.udp["u_a"])),
            ("u_b", "AF_INET", "SOCK_DGRAM", list(self.l.udp["u_b"])),
        ]
        # only 127.0.0.2:<v4a port>/tcp, [::1]:<v6a port>, 127.0.0.2:<u_a port>/udp
        self.allow = (f'"127.0.0.2:{t["v4a"][1]}/tcp", "[::1]:{t["v6a"][1]}", '
                      f'"127.0.0.2:{self.l.udp["u_a"][1]}/udp"')

    def probe(self, user, cfg):
        r = self.sb.run(user, ["/usr/bin/python3", "-c", PROBE, json.dumps(self.targets)], cfg)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout.strip().splitlines()[-1])

    def test_without_the_key_everything_is_reached(self):
        got = self.probe(self.u1, self.sb.config(policies=policy(None)))
        self.assertEqual({k: got[k] for k in ("v4a", "v4a2", "v4b", "v6a", "v6b", "mapped_a",
                                               "mapped_b", "u_a", "u_b")},
                         {"v4a": "v4a", "v4a2": "v4a2", "v4b": "v4b", "v6a": "v6a",
                          "v6b": "v6b", "mapped_a": "v4a", "mapped_b": "v4b", "u_a": "sent",
                          "u_b": "sent"})
        self.assertEqual(self.l.received("u_b"), "u_b")
        self.assertClean()

    def test_only_the_listed_destinations(self):
        got = self.probe(self.u1, self.sb.config(policies=policy(self.allow)))
        # TCP: the listed address and port only; IPv6 alike; v4-mapped follow the v4 entries
        self.assertEqual(got["v4a"], "v4a")
        self.assertEqual(got["v4a2"], "EPERM")   # same address, another port
        self.assertEqual(got["v4b"], "EPERM")    # another address, same port
        self.assertEqual(got["v6a"], "v6a")
        self.assertEqual(got["v6b"], "EPERM")
        self.assertEqual(got["mapped_a"], "v4a")
        self.assertEqual(got["mapped_b"], "EPERM")
        # UDP: the listed one arrives, the other is refused at sendto
        self.assertEqual(got["u_a"], "sent")
        self.assertEqual(self.l.received("u_a"), "u_a")
        self.assertEqual(got["u_b"], "EPERM")
        self.assertIsNone(self.l.received("u_b"))
        # and the session cannot reach bpf(2) to take the programs away
        self.assertEqual(got["bpf"], "EPERM")
        self.assertClean()

    def test_empty_list_reaches_nothing(self):
        got = self.probe(self.u1, self.sb.config(policies=policy("")))
        for k in ("v4a", "v4a2", "v4b", "v6a", "v6b", "mapped_a", "mapped_b", "u_a", "u_b"):
            self.assertEqual(got[k], "EPERM", k)
        self.assertClean()

    def test_a_joining_login_is_filtered_too(self):
        cfg = self.sb.config(policies=policy(self.allow, scope="user"))
        with Held([ISOLATECTL, "run", "-c", cfg, "--helper", HELPER, self.u1.name, "--",
                   "/bin/sh", "-c", "readlink /proc/self/ns/pid; echo READY; read x"]) as first:
            first.wait_for("READY")
            pidns = first.out.split()[0]
            r = self.sb.run(self.u1, ["/bin/sh", "-c", "readlink /proc/self/ns/pid; exec "
                                      "/usr/bin/python3 -c \"$0\" \"$1\"", PROBE,
                                      json.dumps(self.targets)], cfg)
            self.assertEqual(r.returncode, 0, r.stderr)
            lines = r.stdout.strip().splitlines()
            self.assertEqual(lines[0], pidns, "the second login joined the first's sandbox")
            got = json.loads(lines[-1])
            self.assertEqual((got["v4a"], got["v4b"], got["v6b"], got["u_b"]),
                             ("v4a", "EPERM", "EPERM", "EPERM"))
        self.assertClean(timeout=10)

    def test_unified_leaf_is_removed_with_the_session(self):
        cfg = self.sb.config(policies=policy(self.allow))
        with Held([ISOLATECTL, "run", "-c", cfg, "--helper", HELPER, self.u1.name, "--",
                   "/bin/sh", "-c", "cat /proc/self/cgroup; echo READY; read x"]) as h:
            h.wait_for("READY")
            leaves = [l for l in self.sb.session_leaves() if "/unified/" in l or
                      l.startswith("/sys/fs/cgroup/user-")]
            if os.path.exists("/sys/fs/cgroup/unified/cgroup.procs"):
                self.assertTrue([l for l in leaves if "/unified/" in l],
                                f"no session leaf in the unified hierarchy: {leaves}")
        self.assertClean()


# ---- egress_log ------------------------------------------------------------------------------

REFUSED = re.compile(r"<(\d+)>.*isolate-init\[\d+\]: session ([0-9a-f]{16}): egress refused: "
                     r"(.*)$")
SUPPRESSED = re.compile(r"^suppressed (\d+) more \(at most 10 lines a second per session\)$")

# connects (TCP) or sends (UDP) to each [kind, family, address, port]; prints the errnos and
# the time the whole took
FLOOD = r"""
import errno, json, socket, sys, time
todo, count = json.loads(sys.argv[1]), int(sys.argv[2])
got, t = [], time.monotonic()
for _ in range(count):
    for kind, fam, addr, port in todo:
        s = socket.socket(getattr(socket, fam),
                          socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM)
        try:
            if kind == "tcp":
                s.connect((addr, port))
            else:
                s.sendto(b"x", (addr, port))
            r = "ok"
        except OSError as e:
            r = errno.errorcode.get(e.errno, str(e.errno))
        finally:
            s.close()
        if len(got) < len(todo):
            got.append(r)
print(json.dumps({"errnos": got, "elapsed": time.monotonic() - t}))
"""


class TestEgressLog(SandboxTestCase):
    """egress_log = true (the default): one line per refusal from the session's init, with the
    session id, destination, process and policy; a flood is cut to 10 lines a second plus a
    count; egress_log = false logs nothing. The user reaches none of the init's fds."""

    USERS = ("isolate-eg4", "isolate-eg5")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            if not have_cgroup2():
                raise unittest.SkipTest("no cgroup2 hierarchy mounted: cgroup BPF has nowhere "
                                        "to attach")
            cls.env = PrivateEnv({})
            cls.l = Listeners()
        except BaseException:
            if getattr(cls, "env", None):
                cls.env.close()
            cls.sb.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.l.close()
        cls.env.close()
        super().tearDownClass()

    def setUp(self):
        self.mark = self.env.syslog.mark()
        t = self.l.tcp
        self.allow = f'"127.0.0.2:{t["v4a"][1]}/tcp"'

    def run_in(self, user, cfg, argv, **kw):
        return self.env.run([ISOLATECTL, "run", "-c", cfg, "--helper", HELPER, user.name,
                             "--"] + argv, **kw)

    def flood(self, user, cfg, todo, count=1):
        r = self.run_in(user, cfg, ["/usr/bin/python3", "-c", FLOOD, json.dumps(todo),
                                    str(count)])
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout.strip().splitlines()[-1])

    def session_ids(self):
        """The session of each login since setUp: the helper's decision line, or for a login
        that joined by ticket (no helper ran) the sandbox init's line."""
        return [m.group(1) or m.group(2)
                for m in (re.search(r"isolate\[\d+\]: .* session=([0-9a-f]{16}) "
                                    r"outcome=(?:confined|joined)|isolate-init\[\d+\]: "
                                    r"session ([0-9a-f]{16}): a login joined by ticket", l)
                          for l in self.env.syslog.lines()[self.mark:]) if m]

    def refusals(self):
        """(priority, session, text) of each egress line since setUp."""
        return [(int(m.group(1)), m.group(2), m.group(3))
                for m in map(REFUSED.search, self.env.syslog.lines()[self.mark:]) if m]

    def test_each_refusal_is_one_line(self):
        t, u = self.l.tcp, self.l.udp
        cfg = self.sb.config(policies=policy(self.allow))
        got = self.flood(self.u1, cfg, [["tcp", "AF_INET", *t["v4a"]],
                                         ["tcp", "AF_INET", *t["v4b"]],
                                         ["udp", "AF_INET", *u["u_b"]],
                                         ["tcp", "AF_INET6", *t["v6b"]]])
        self.assertEqual(got["errnos"], ["ok", "EPERM", "EPERM", "EPERM"])
        self.assertClean()
        sid = self.session_ids()
        self.assertEqual(len(sid), 1, self.env.syslog.dump())
        who = (rf' \(pid \d+ uid {self.u1.uid} comm "python3"\): '
               r"not in policy test's egress_allow$")
        want = [rf"^127\.0\.0\.3:{t['v4b'][1]}/tcp" + who,
                rf"^127\.0\.0\.3:{u['u_b'][1]}/udp" + who,
                rf"^\[::1\]:{t['v6b'][1]}/tcp" + who]
        lines = self.refusals()
        self.assertEqual(len(lines), 3, self.env.syslog.dump())
        for (prio, session, text), rx in zip(lines, want):
            self.assertEqual(prio, 10 * 8 + 5, "facility authpriv, level notice")
            self.assertEqual(session, sid[0])
            self.assertRegex(text, rx)

    def test_a_flood_is_cut_to_the_rate_limit_and_counted(self):
        cfg = self.sb.config(policies=policy(self.allow))
        got = self.flood(self.u1, cfg, [["tcp", "AF_INET", *self.l.tcp["v4b"]]], 1000)
        self.assertEqual(got["errnos"], ["EPERM"])
        self.assertClean()
        lines = [text for _, _, text in self.refusals()]
        counts = [int(m.group(1)) for m in map(SUPPRESSED.match, lines) if m]
        logged = len(lines) - len(counts)
        # every refusal is a line or counted in one (the ring's overflow included)
        self.assertEqual(logged + sum(counts), 1000, "\n".join(lines))
        self.assertTrue(counts, "\n".join(lines))
        # at most 10 lines a window of a second, each window that cut some ends in a count
        self.assertLessEqual(logged, 10 * (len(counts) + 1), "\n".join(lines))
        if got["elapsed"] < 0.3:  # all in one window (not so on a starved host)
            self.assertEqual((logged, counts), (10, [990]), "\n".join(lines))

    def test_each_second_logs_again(self):
        # three bursts of 15, 1.5 s apart: each its own window, 10 lines and a count of 5
        burst = r"""
import socket, sys, time
for b in range(3):
    if b:
        time.sleep(1.5)
    for _ in range(15):
        s = socket.socket()
        try:
            s.connect(("127.0.0.3", int(sys.argv[1])))
        except PermissionError:
            pass
        s.close()
"""
        cfg = self.sb.config(policies=policy(self.allow))
        r = self.run_in(self.u1, cfg, ["/usr/bin/python3", "-c", burst,
                                       str(self.l.tcp["v4b"][1])])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertClean()
        kinds = ["count" if SUPPRESSED.match(t) else "line" for _, _, t in self.refusals()]
        self.assertEqual(kinds, (["line"] * 10 + ["count"]) * 3, self.env.syslog.dump())
        counts = [int(m.group(1)) for m in map(SUPPRESSED.match,
                                                (t for _, _, t in self.refusals())) if m]
        self.assertEqual(counts, [5, 5, 5])

    def test_egress_log_false_logs_nothing(self):
        cfg = self.sb.config(policies=policy(self.allow, extra="egress_log = false"))
        got = self.flood(self.u1, cfg, [["tcp", "AF_INET", *self.l.tcp["v4b"]],
                                         ["udp", "AF_INET", *self.l.udp["u_b"]]], 20)
        self.assertEqual(got["errnos"], ["EPERM", "EPERM"])
        self.assertClean()
        self.assertEqual(len(self.session_ids()), 1, self.env.syslog.dump())
        self.assertEqual(self.refusals(), [])

    def test_a_joining_logins_refusals_reach_the_sandboxs_init(self):
        cfg = self.sb.config(policies=policy(self.allow, scope="user"))
        argv = self.env.nsenter() + [ISOLATECTL, "run", "-c", cfg, "--helper", HELPER,
                                     self.u2.name, "--", "/bin/sh", "-c", "echo READY; read x"]
        with Held(argv, cwd="/") as first:
            first.wait_for("READY")
            got = self.flood(self.u2, cfg, [["tcp", "AF_INET", *self.l.tcp["v4b"]]])
            self.assertEqual(got["errnos"], ["EPERM"])
            deadline = time.monotonic() + 5
            while not self.refusals() and time.monotonic() < deadline:
                time.sleep(0.05)
        self.assertClean(timeout=10)
        sid = self.session_ids()
        self.assertEqual(len(sid), 2, self.env.syslog.dump())
        self.assertEqual(sid[0], sid[1], "the second login joined the first's sandbox")
        lines = self.refusals()
        self.assertEqual([(s, t.split(" (")[0]) for _, s, t in lines],
                         [(sid[0], f"127.0.0.3:{self.l.tcp['v4b'][1]}/tcp")],
                         self.env.syslog.dump())

    def test_the_init_holds_the_log_and_the_user_cannot_reach_it(self):
        cfg = self.sb.config(policies=policy(self.allow))
        probe = r"""
import ctypes, errno, json, os
libc = ctypes.CDLL(None, use_errno=True)
def err():
    return errno.errorcode.get(ctypes.get_errno(), "?")
out = {"proc1": os.path.exists("/proc/1")}
try:
    os.listdir("/proc/1/fd")
    out["fd_dir"] = "ok"
except OSError as e:
    out["fd_dir"] = errno.errorcode[e.errno]
pidfd = libc.syscall(434, 1, 0)  # pidfd_open(1): the init, pid 1 here
out["pidfd_open"] = "ok" if pidfd >= 0 else err()
for fd in (31, 32):  # its egress log: the ring and the drop count
    r = libc.syscall(438, pidfd, fd, 0) if pidfd >= 0 else -1  # pidfd_getfd
    out[f"getfd{fd}"] = "ok" if r >= 0 else err()
print(json.dumps(out))
print("READY", flush=True)
input()
"""
        argv = self.env.nsenter() + [ISOLATECTL, "run", "-c", cfg, "--helper", HELPER,
                                     self.u1.name, "--", "/usr/bin/python3", "-c", probe]
        with Held(argv, cwd="/") as h:
            h.wait_for("READY")
            got = json.loads([l for l in h.out.splitlines() if l.startswith("{")][-1])
            # hidden by hidepid, and refused by the kernel's ptrace check (the init is root)
            self.assertEqual(got, {"proc1": False, "fd_dir": "ENOENT", "pidfd_open": "ok",
                                   "getfd31": "EPERM", "getfd32": "EPERM"})
            inits = self.sb.init_processes()
            self.assertEqual(len(inits), 1)
            fds = {}
            for name in os.listdir(f"/proc/{inits[0]}/fd"):
                fds[int(name)] = os.readlink(f"/proc/{inits[0]}/fd/{name}")
            self.assertEqual((fds.get(31), fds.get(32)), ("anon_inode:bpf-map",) * 2, fds)
            # maps only: no program fd, with which one could detach the filter
            self.assertNotIn("anon_inode:bpf-prog", fds.values())
            h.send("")
        self.assertClean()


def have_cgroup2():
    return (os.path.exists("/sys/fs/cgroup/unified/cgroup.procs") or
            os.path.exists("/sys/fs/cgroup/cgroup.procs"))


class TestEgressSshd(unittest.TestCase):
    """sshd's forwarding runs in the session (the unprivileged sshd process joined it), so
    ssh -L and ssh -W obey the list: an allowed target answers, a refused one does not,
    through a real sshd."""

    USERS = ("isolate-eg3",)

    @classmethod
    def setUpClass(cls):
        require_root()
        require_built(PAM_MODULE, HELPER, INIT)
        if not have_cgroup2():
            raise unittest.SkipTest("no cgroup2 hierarchy mounted: cgroup BPF has nowhere "
                                    "to attach")
        cls.l = Listeners()
        cls.addClassCleanup(cls.l.close)
        cls.sb = Sandbox()
        cls.addClassCleanup(cls.sb.close)
        cls.u = cls.sb.user(cls.USERS[0])
        cls.cfg = cls.sb.config(policies=policy(f'"127.0.0.2:{cls.l.tcp["v4a"][1]}/tcp"'))
        cls.env = PrivateEnv({"sshd": sshd_stack(cls.cfg)})
        cls.addClassCleanup(cls.env.close)
        cls.srv = SshServer(cls.env, extra_env=sanitizer_env(BUILD, cls.env.workdir))
        cls.addClassCleanup(cls.srv.close)
        cls.srv.authorize(cls.u.name)
        cls.srv.start()

    def assertClean(self):
        left = self.sb.wait_clean(5)
        self.assertEqual(left, {"inits": [], "leaves": [], "registry": []})

    def forward(self, target):
        """What a client reading from an ssh -L forward to target gets (b"" if refused)."""
        return self.srv.local_forward(self.u.name, target[0], target[1])

    def stdio_forward(self, target):
        """ssh -W target: (exit status, what came back)."""
        r = subprocess.run(self.srv.ssh_argv(self.u.name, None,
                                             extra=["-W", f"{target[0]}:{target[1]}"]),
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        return r.returncode, r.stdout

    def test_local_forward(self):
        self.assertEqual(self.forward(self.l.tcp["v4a"]), b"v4a")
        mark = len(self.srv.log)
        self.assertEqual(self.forward(self.l.tcp["v4b"]), b"")
        self.assertIsNotNone(self.srv.wait_log(r"connect to 127\.0\.0\.3 port \d+ failed: Operation "
                                               r"not permitted",
                                               5, mark), "\n".join(self.srv.log[mark:]))
        self.assertEqual(self.forward(self.l.tcp["v4a2"]), b"")
        self.assertClean()

    def test_a_refused_forward_is_logged(self):
        # the session's init logs what sshd's forwarding was refused, naming sshd's process
        mark = self.env.syslog.mark()
        target = self.l.tcp["v4b"]
        self.assertEqual(self.forward(target), b"")
        line = self.env.syslog.wait_for(r"isolate-init\[\d+\]: session [0-9a-f]{16}: egress "
                                        r"refused: ", 5, mark)
        self.assertIsNotNone(line, self.env.syslog.dump())
        self.assertRegex(line, rf'egress refused: 127\.0\.0\.3:{target[1]}/tcp \(pid \d+ uid '
                               rf'{self.u.uid} comm "sshd"\): not in policy test\'s '
                               r"egress_allow$")
        self.assertClean()

    def test_stdio_forward(self):
        self.assertEqual(self.stdio_forward(self.l.tcp["v4a"]), (0, b"v4a"))
        rc, out = self.stdio_forward(self.l.tcp["v4b"])
        self.assertNotEqual(rc, 0)
        self.assertEqual(out, b"")
        self.assertClean()


if __name__ == "__main__":
    unittest.main()
