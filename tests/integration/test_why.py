"""Issue 17: `isolatectl why` ties the kernel's seccomp records to isolate's sessions.

Through a real sshd (sshd.py) whose session stack runs pam_loginuid before pam_isolate, two
users log in under a policy that denies @numa with seccomp_action = errno-log and run
numactl --show (its calls, get_mempolicy and set_mempolicy, are in @memory: allowed) and
migratepages (migrate_pages, in @numa: refused). `isolatectl why USER` must name the
syscall, the group, the policy, the config line and the lines to paste; one user's refusal
never shows under the other's `why`. Records are read where this host has them: /dev/kmsg
(no auditd here); the test skips only when kmsg cannot be read or the kernel does not log
seccomp's errno action."""

import json
import os
import re
import shutil
import subprocess
import time
import unittest

from harness import BASE_POLICY, BUILD, HELPER, INIT, ISOLATECTL, PAM_MODULE, Sandbox, \
    require_built, require_root
from sshd import PrivateEnv, SshServer, sanitizer_env

POLICIES = BASE_POLICY + """
policy numa_off {
  seccomp_action = errno-log
  syscalls_deny = { @numa }
}
policy quiet {
  syscalls_deny = { @numa }
}
policy trial {
  seccomp_action = log
}
"""


def sshd_stack(config):
    return ("account required pam_unix.so\n"
            "session required pam_loginuid.so\n"
            "session required pam_unix.so\n"
            f"session required {PAM_MODULE} config={config} helper={HELPER}\n")


def kernel_prints_seccomp_records():
    """Whether this kernel prints a seccomp audit record for a refusal of a filter loaded with
    SECCOMP_FILTER_FLAG_LOG, found out without isolate: a child loads such a filter that
    refuses getppid, calls it, and kmsg is searched for the record of its pid."""
    import ctypes
    import struct
    if os.uname().machine != "x86_64":
        return True  # the probe's numbers are x86_64's: elsewhere the test itself tells
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    os.lseek(fd, 0, os.SEEK_END)
    pid = os.fork()
    if pid == 0:
        try:
            # ld nr; jeq getppid (110, x86_64) ? ret ERRNO|EPERM : ret ALLOW
            insns = [(0x20, 0, 0, 0), (0x15, 0, 1, 110), (0x06, 0, 0, 0x00050001),
                     (0x06, 0, 0, 0x7fff0000)]
            raw = b"".join(struct.pack("HBBI", *i) for i in insns)
            buf = ctypes.create_string_buffer(raw)
            prog = struct.pack("HxxxxxxP", len(insns), ctypes.addressof(buf))
            pbuf = ctypes.create_string_buffer(prog)
            libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
            if libc.syscall(317, 1, 2, pbuf) != 0:  # seccomp(SET_MODE_FILTER, FLAG_LOG)
                os._exit(2)
            libc.syscall(110)
            os._exit(0)
        except BaseException:
            os._exit(3)
    _, st = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(st) != 0:
        os.close(fd)
        return False
    deadline = time.monotonic() + 3
    try:
        while time.monotonic() < deadline:
            try:
                rec = os.read(fd, 8192).decode(errors="replace")
            except BlockingIOError:
                time.sleep(0.1)
                continue
            except BrokenPipeError:
                continue
            if "type=1326" in rec and f" pid={pid} " in rec:
                return True
        return False
    finally:
        os.close(fd)


def host_logs_errno():
    """Why the kernel could not give us the records, or None."""
    try:
        fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.close(fd)
    except OSError as e:
        return f"/dev/kmsg is not readable here: {e}"
    try:
        with open("/proc/sys/kernel/seccomp/actions_logged") as f:
            if "errno" not in f.read().split():
                return "kernel.seccomp.actions_logged lacks errno: the kernel drops these records"
    except OSError as e:
        return f"no /proc/sys/kernel/seccomp/actions_logged: {e}"
    if os.path.exists("/run/auditd.pid"):
        return None  # auditd takes the records: /var/log/audit/audit.log, which why reads too
    # audit's printk allowance (printk_ratelimit: 10 records in 5 s) may be spent by the
    # tests before this one (seccomp kills are logged by default): ask again after it refills
    for _ in range(3):
        if kernel_prints_seccomp_records():
            return None
        time.sleep(5.5)
    return ("this kernel prints no seccomp audit record to kmsg for a logged refusal "
            "(no CONFIG_AUDIT?), and no auditd runs")


class TestWhy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_root()
        require_built(PAM_MODULE, HELPER, INIT, ISOLATECTL)
        for tool in ("numactl", "migratepages"):
            if not shutil.which(tool):
                raise unittest.SkipTest(f"{tool} is not installed (apt-get install numactl; "
                                        "make deps installs it)")
        reason = host_logs_errno()
        if reason:
            raise unittest.SkipTest(reason)
        cls.sb = Sandbox()
        cls.addClassCleanup(cls.sb.close)
        cls.u1 = cls.sb.user("isolate-w1")
        cls.u2 = cls.sb.user("isolate-w2")
        cls.u3 = cls.sb.user("isolate-w3")
        cls.u4 = cls.sb.user("isolate-w4")
        cls.cfg = cls.sb.config(
            policies=POLICIES,
            body=(f'match {{\n users = {{"{cls.u1.name}", "{cls.u2.name}"}}\n'
                  f' policy = numa_off\n}}\n'
                  f'match {{\n users = {{"{cls.u3.name}"}}\n policy = quiet\n}}\n'
                  f'match {{\n users = {{"{cls.u4.name}"}}\n policy = trial\n}}\n'))
        cls.env = PrivateEnv({"sshd": sshd_stack(cls.cfg)})
        cls.addClassCleanup(cls.env.close)
        cls.srv = SshServer(cls.env, extra_env=sanitizer_env(BUILD, cls.env.workdir))
        cls.addClassCleanup(cls.srv.close)
        for u in (cls.u1, cls.u2, cls.u3, cls.u4):
            cls.srv.authorize(u.name)
        cls.srv.start()
        cls.since = str(int(time.time()) - 1)
        # each user's refusal, spaced: the kernel prints at most ~10 audit records per 5 s
        cls.out = {}
        for u in (cls.u1, cls.u2, cls.u3):
            r = cls.srv.ssh(u.name, "numactl --show >/dev/null && echo show-ok; "
                                    "migratepages $$ 0 0; echo migrate=$?")
            cls.out[u.name] = r
            time.sleep(1)

    def why(self, *args, expect=0):
        r = subprocess.run([ISOLATECTL, "why", "-c", self.cfg, "--since", self.since, *args],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, expect, r.stdout + r.stderr)
        return r.stdout

    def why_json(self, user, want=1, timeout=10.0):
        """The user's refusals, waiting for the kernel's audit thread to print them."""
        deadline = time.monotonic() + timeout
        while True:
            doc = json.loads(self.why("--json", user))
            if len(doc["denials"]) >= want or time.monotonic() > deadline:
                return doc
            time.sleep(0.3)

    def test_sessions_ran_and_were_refused(self):
        for u in (self.u1, self.u2, self.u3):
            r = self.out[u.name]
            self.assertIn("show-ok", r.stdout, r.stdout + r.stderr)  # @memory is allowed
            self.assertNotIn("migrate=0", r.stdout, r.stdout + r.stderr)  # @numa is not

    def test_why_names_syscall_group_policy_line_and_fix(self):
        doc = self.why_json(self.u1.name)
        self.assertIn("/dev/kmsg", doc["sources"])
        mine = [d for d in doc["denials"] if d["syscall"] == "migrate_pages"]
        self.assertTrue(mine, json.dumps(doc, indent=1))
        d = mine[0]
        self.assertEqual(d["user"], self.u1.name)
        self.assertEqual(d["policy"], "numa_off")
        self.assertEqual(d["group"], "@numa")
        self.assertEqual(d["action"], "errno EPERM")
        self.assertEqual(d["comm"], "migratepages")
        self.assertEqual(d["exe"], "/usr/bin/migratepages")
        # pam_loginuid ran before pam_isolate: tied by the audit session, not guessed
        self.assertEqual(d["tied_by"], "audit-session")
        self.assertRegex(d["decided_by"],
                         re.escape(self.cfg) + r":\d+: syscalls_deny = \{ @numa \}")
        self.assertIn("policy numa_off denies @numa", d["decided_by"])
        # the smallest change: @numa without migrate_pages, and migrate_pages allowed
        lines = d["fix"].split("\n")
        self.assertEqual(lines[0], "syscalls_deny = { mbind, move_pages, "
                                   "set_mempolicy_home_node }")
        self.assertEqual(lines[1], "syscalls_allow = { migrate_pages }")
        with open(self.cfg) as f:
            text = f.read()
        self.assertIn("syscalls_deny = { @numa }", text)
        # no syscall of @memory refused: numactl --show is not in the list
        self.assertFalse([x for x in doc["denials"]
                          if x["syscall"] in ("get_mempolicy", "set_mempolicy")], doc)

    def test_text_output(self):
        self.why_json(self.u1.name)
        out = self.why(self.u1.name)
        self.assertRegex(out, rf"user {self.u1.name}  session [0-9a-f]{{16}}  policy numa_off")
        self.assertIn("syscall   migrate_pages (@numa)", out)
        self.assertIn("action    errno EPERM", out)
        self.assertIn("to allow  in policy numa_off:", out)
        self.assertIn("syscalls_allow = { migrate_pages }", out)

    def test_other_users_refusals_do_not_show(self):
        d1 = self.why_json(self.u1.name)
        d2 = self.why_json(self.u2.name)
        self.assertTrue(d2["denials"], d2)
        self.assertEqual({d["user"] for d in d1["denials"]}, {self.u1.name})
        self.assertEqual({d["user"] for d in d2["denials"]}, {self.u2.name})
        s1 = {d["session"] for d in d1["denials"]}
        s2 = {d["session"] for d in d2["denials"]}
        self.assertFalse(s1 & s2)
        # by session id: only that session's
        sid = next(iter(s2))
        by_id = json.loads(self.why("--json", sid))
        self.assertEqual({d["session"] for d in by_id["denials"]}, {sid})

    def test_errno_without_log_records_nothing(self):
        """seccomp_action = errno (the default): the kernel logs nothing, as documented."""
        self.why_json(self.u1.name)  # the others' records have arrived by now
        doc = json.loads(self.why("--json", self.u3.name))
        self.assertEqual(doc["denials"], [], doc)
        out = self.why(self.u3.name)
        self.assertIn("no refusals found", out)

    def test_suggest_from_log_mode_then_errno_without_refusal(self):
        """Log mode: the trial's session uses calls outside the default (strace -f true,
        migratepages); suggest proposes exactly those, the config with the diff applied
        passes check, and the same workload then runs under errno-log without a refusal."""
        workload = ("strace -f -o /dev/null true; echo strace=$?; "
                    "migratepages $$ 0 0; echo migrate=$?")
        since = str(int(time.time()) - 1)
        r = self.srv.ssh(self.u4.name, workload)
        self.assertIn("migrate=0", r.stdout, r.stdout + r.stderr)  # log: allowed
        # what the kernel logged for the trial's sessions, by name
        deadline = time.monotonic() + 10
        while True:
            doc = json.loads(self.why("--json", "--all", self.u4.name))
            used = {d["syscall"] for d in doc["denials"] if not d["by_design"]
                    and d["action"] == "log (allowed)"}
            if "migrate_pages" in used or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        self.assertIn("migrate_pages", used, doc)
        out = subprocess.run([ISOLATECTL, "suggest", "-c", self.cfg, "--since", since, "trial"],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        proposed = set(re.findall(r"^# used: (\S+) ", out.stdout, re.M))
        self.assertEqual(proposed, used, out.stdout)
        self.assertIn("+  syscalls_allow = {", out.stdout)
        self.assertRegex(out.stdout, r"\+  syscalls_allow = \{[^}]*migrate_pages")
        # applied with patch(1), then errno-log instead of log: check accepts it
        with open(self.cfg) as f:
            original = f.read()
        self.addCleanup(self._restore, original)
        p = subprocess.run(["patch", self.cfg], input=out.stdout, capture_output=True,
                           text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        with open(self.cfg) as f:
            text = f.read()
        self.assertIn("policy trial {\n  syscalls_allow = {", text)
        with open(self.cfg, "w") as f:
            f.write(text.replace("policy trial {\n", "policy trial {\n  seccomp_action = "
                                 "errno-log\n").replace("  seccomp_action = log\n", ""))
        c = subprocess.run([ISOLATECTL, "check", "-c", self.cfg, "--pam-dir",
                            os.path.join(self.env.workdir, "no-pam")],
                           capture_output=True, text=True)
        self.assertIn(": OK,", c.stdout + c.stderr, c.stdout + c.stderr)
        since2 = str(int(time.time()) + 1)
        time.sleep(1.2)  # --since has whole seconds: nothing of the first run
        r = self.srv.ssh(self.u4.name, workload)
        self.assertIn("strace=0", r.stdout, r.stdout + r.stderr)
        self.assertIn("migrate=0", r.stdout, r.stdout + r.stderr)
        time.sleep(2)  # the kernel's audit thread prints asynchronously
        after = subprocess.run([ISOLATECTL, "why", "-c", self.cfg, "--since", since2, "--json",
                                self.u4.name], capture_output=True, text=True, timeout=60)
        self.assertEqual(json.loads(after.stdout)["denials"], [], after.stdout)

    def _restore(self, text):
        with open(self.cfg, "w") as f:
            f.write(text)

    def test_bad_input(self):
        r = subprocess.run([ISOLATECTL, "why", "-c", self.cfg, "no-such-user-xyz"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no such user or session", r.stderr)
        r = subprocess.run([ISOLATECTL, "why", "-c", self.cfg, "--since", "yesterday-ish"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("bad --since", r.stderr)



AUDIT_GET, AUDIT_SET, AUDIT_STATUS_ENABLED = 1000, 1001, 1


def _audit_request(msg_type, body=b""):
    """One request on the audit netlink socket; the AUDIT_GET reply's body, or b"" for an
    acknowledged AUDIT_SET. OSError when the kernel refuses."""
    import socket
    import struct
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 9)
    try:
        s.bind((0, 0))
        s.send(struct.pack("=IHHII", 16 + len(body), msg_type, 5, 1, 0) + body)  # REQUEST|ACK
        while True:
            d = s.recv(8192)
            _, t, _, _, _ = struct.unpack("=IHHII", d[:16])
            if t == 2:  # NLMSG_ERROR: the ack (0) or the error
                err = struct.unpack("=i", d[16:20])[0]
                if err:
                    raise OSError(-err, os.strerror(-err))
                if msg_type == AUDIT_SET:
                    return b""
            elif t == msg_type:
                return d[16:]
    finally:
        s.close()


def audit_enabled():
    import struct
    return struct.unpack("=II", _audit_request(AUDIT_GET)[:8])[1]


def audit_set_enabled(value):
    import struct
    _audit_request(AUDIT_SET, struct.pack("=8I", AUDIT_STATUS_ENABLED, value, 0, 0, 0, 0, 0, 0))


def landlock_abi():
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.syscall(444, None, 0, 1)  # landlock_create_ruleset(NULL, 0, VERSION)


LL_POLICIES = BASE_POLICY + """
policy ll_box {
  landlock_read_write = {"$HOME", "/tmp"}
}
"""


class TestWhyLandlock(unittest.TestCase):
    """Two users log in through sshd under a policy whose Landlock ruleset lets them write
    their home and /tmp alone; each creates a file in /dev/shm (writable to all, not in the
    ruleset). The kernel logs Landlock refusals only while audit is enabled (no auditd here:
    the test enables it for its own run and puts it back), and only for what runs after an
    exec because isolate's restrict_self asks for it (LOG_NEW_EXEC_ON, ABI 7). `why USER`
    names the right, the path, the policy's landlock_read_write line and the line to paste,
    tied by the audit session of the event's syscall record; the other user's never shows."""

    @classmethod
    def setUpClass(cls):
        require_root()
        require_built(PAM_MODULE, HELPER, INIT, ISOLATECTL)
        abi = landlock_abi()
        if abi < 7:
            raise unittest.SkipTest(f"Landlock ABI {abi}: audit records need ABI 7 (Linux 6.15)")
        try:
            fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
            os.close(fd)
        except OSError as e:
            raise unittest.SkipTest(f"/dev/kmsg is not readable here: {e}")
        if not os.path.exists("/run/auditd.pid"):
            try:
                before = audit_enabled()
                if before == 0:
                    # last of the cleanups: audit's printk allowance is spent by the logins'
                    # records; the next test that reads kmsg gets a fresh one
                    cls.addClassCleanup(time.sleep, 5.5)
                    audit_set_enabled(1)
                    cls.addClassCleanup(audit_set_enabled, 0)
            except OSError as e:
                raise unittest.SkipTest(f"audit cannot be enabled here: {e}")
        cls.sb = Sandbox()
        cls.addClassCleanup(cls.sb.close)
        cls.u1 = cls.sb.user("isolate-wl1")
        cls.u2 = cls.sb.user("isolate-wl2")
        cls.cfg = cls.sb.config(
            policies=LL_POLICIES,
            body=(f'match {{\n users = {{"{cls.u1.name}", "{cls.u2.name}"}}\n'
                  f' policy = ll_box\n}}\n'))
        cls.env = PrivateEnv({"sshd": sshd_stack(cls.cfg)})
        cls.addClassCleanup(cls.env.close)
        cls.srv = SshServer(cls.env, extra_env=sanitizer_env(BUILD, cls.env.workdir))
        cls.addClassCleanup(cls.srv.close)
        for u in (cls.u1, cls.u2):
            cls.srv.authorize(u.name)
        cls.srv.start()
        cls.since = str(int(time.time()) - 1)
        # Both at once, the refusal 5.5 s after the login: audit's printk allows ~10 records
        # per 5 s and a login writes several (USER_ACCT, LOGIN, USER_START, ...); a refusal is
        # three or four (1423, 1424 the first time, 1300, 1327).
        from concurrent.futures import ThreadPoolExecutor
        cmd = ("sleep 5.5; echo x > /dev/shm/why-ll-$(id -un) 2>/dev/null; echo write=$?; "
               "echo y > $HOME/why-ok && echo home-ok")
        with ThreadPoolExecutor(2) as ex:
            futs = {u.name: ex.submit(cls.srv.ssh, u.name, cmd) for u in (cls.u1, cls.u2)}
            cls.out = {name: f.result() for name, f in futs.items()}

    def why(self, *args):
        r = subprocess.run([ISOLATECTL, "why", "-c", self.cfg, "--since", self.since, *args],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout

    def landlock_denials(self, user, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            doc = json.loads(self.why("--json", user))
            mine = [d for d in doc["denials"] if d["source"] == "landlock"]
            if mine or time.monotonic() > deadline:
                return doc, mine
            time.sleep(0.3)

    def test_writes_were_refused(self):
        for u in (self.u1, self.u2):
            r = self.out[u.name]
            self.assertIn("write=1", r.stdout, r.stdout + r.stderr)
            self.assertIn("home-ok", r.stdout, r.stdout + r.stderr)

    def test_why_names_right_path_line_and_fix(self):
        doc, mine = self.landlock_denials(self.u1.name)
        self.assertTrue(mine, json.dumps(doc, indent=1))
        d = mine[0]
        self.assertEqual(d["user"], self.u1.name)
        self.assertEqual(d["policy"], "ll_box")
        self.assertEqual(d["tied_by"], "audit-session")
        self.assertEqual(d["denied"], "fs.make_reg")
        self.assertEqual(d["object"], "/dev/shm")
        self.assertEqual(d["action"], "refused EACCES")
        self.assertRegex(d["landlock_domain"], r"^[0-9a-f]+$")
        self.assertRegex(d["decided_by"], re.escape(self.cfg) +
                         r':\d+: landlock_read_write = \{"\$HOME", "/tmp"\}')
        self.assertEqual(d["fix"], 'landlock_read_write = { "$HOME", "/tmp", "/dev/shm" }')
        self.assertIsNone(d["fix_where"])
        out = self.why(self.u1.name)
        self.assertIn("denied    landlock: fs.make_reg on /dev/shm", out)
        self.assertIn("to allow  in policy ll_box:", out)

    def test_other_users_refusal_does_not_show(self):
        _, d1 = self.landlock_denials(self.u1.name)
        _, d2 = self.landlock_denials(self.u2.name)
        self.assertTrue(d1 and d2, (d1, d2))
        self.assertEqual({d["user"] for d in d1}, {self.u1.name})
        self.assertEqual({d["user"] for d in d2}, {self.u2.name})
        self.assertFalse({d["session"] for d in d1} & {d["session"] for d in d2})

    def test_fix_passes_check(self):
        _, mine = self.landlock_denials(self.u1.name)
        self.assertTrue(mine)
        with open(self.cfg) as f:
            text = f.read()
        patched = text.replace('landlock_read_write = {"$HOME", "/tmp"}', mine[0]["fix"])
        self.assertNotEqual(patched, text)
        path = self.cfg + ".fixed"
        with open(path, "w") as f:
            f.write(patched)
        r = subprocess.run([ISOLATECTL, "check", "-c", path], capture_output=True, text=True,
                           timeout=60)
        os.unlink(path)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
