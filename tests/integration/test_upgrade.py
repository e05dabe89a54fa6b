"""Issue 16, item 3: upgrades under live sessions. The build of the previous release (N-1,
built here from git) and this build (N) talk to each other in both directions the package
upgrade makes: a sandbox opened by N-1 (its module, helper and init) is joined, closed and
listed by N's module, helper and isolatectl and leaves nothing behind; an sshd that loaded
N-1's pam_isolate.so before the upgrade opens and closes sessions through N's helper.

The PAM caller is pamtester in a private mount namespace with the test's own /etc/pam.d
(sshd.py's PrivateEnv), as in test_pam_su.py; each stack names its module and helper."""

import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import (BASE_POLICY, BUILD, HELPER, INIT, ISOLATECTL, PAM_MODULE, ROOT, Held,
                     Sandbox, require_built, require_root)
from sshd import PrivateEnv, sanitizer_env

# N-1: the tree before the wire protocol and the registry got their versions, i.e. the
# parent of the commit "Versioned wire protocol and registry (issue 16, ...)". Its sessions
# are the live ones an upgrade to this build finds.
N_MINUS_1 = "ce91fd5"
NO_HISTORY = ("no git history: this tree (a shallow clone or a tarball) lacks commit "
              f"{N_MINUS_1}, the build N-1 that the upgrade starts from")

# a checkout owned by another user than root is no tree without history
GIT = ["git", "-c", "safe.directory=*", "-C", ROOT]
SERVICES = ["old-login", "new-login", "isolatectl"]
SCOPED = BASE_POLICY.replace("private_tmp = true", "private_tmp = true\n  scope = user\n"
                             "  linger = no")


def n_minus_1_commit():
    """The full hash of N-1, or SkipTest when this tree has no git history holding it."""
    if not shutil.which("git"):
        raise unittest.SkipTest(NO_HISTORY)
    r = subprocess.run(GIT + ["rev-parse", "--verify", "--quiet", N_MINUS_1 + "^{commit}"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise unittest.SkipTest(NO_HISTORY)
    return r.stdout.strip()


def build_n_minus_1(commit):
    """Builds N-1 (`git archive | tar -x`, `make B=build all`) in a root-owned directory
    under /var/lib (a session's /tmp is its own); returns that directory."""
    d = tempfile.mkdtemp(prefix="isolate-n-1-", dir="/var/lib")
    try:
        os.chmod(d, 0o755)
        archive = subprocess.run(GIT + ["archive", commit], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", d], input=archive.stdout, check=True)
        # a release build whatever make check was given (SANITIZE=1 reaches a sub-make
        # through MAKEFLAGS): N-1 is what an installed release was
        env = {k: v for k, v in os.environ.items()
               if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "SANITIZE")}
        r = subprocess.run(["make", "-C", d, "-j2", "B=build", "all"], capture_output=True,
                           text=True, timeout=900, env=env)
        if r.returncode != 0:
            raise AssertionError(f"building N-1 ({commit}) failed:\n{r.stdout[-3000:]}"
                                 f"\n{r.stderr[-3000:]}")
    except BaseException:
        shutil.rmtree(d, ignore_errors=True)
        raise
    return d


class TestUpgradeUnderLiveSessions(unittest.TestCase):
    USERS = ("isolate-up1",)

    @classmethod
    def setUpClass(cls):
        require_root()
        require_built(PAM_MODULE, HELPER, INIT, ISOLATECTL)
        commit = n_minus_1_commit()
        cls.old_dir = build_n_minus_1(commit)
        cls.addClassCleanup(shutil.rmtree, cls.old_dir, True)
        old = os.path.join(cls.old_dir, "build")
        cls.OLD_MODULE = os.path.join(old, "pam_isolate.so")
        cls.OLD_HELPER = os.path.join(old, "isolate-helper")
        cls.OLD_CTL = os.path.join(old, "isolatectl")
        cls.sb = Sandbox()
        cls.addClassCleanup(cls.sb.close)
        cls.u1 = cls.sb.user(cls.USERS[0])
        cls.env = PrivateEnv({})
        cls.addClassCleanup(cls.env.close)
        cls.hook_log = os.path.join(cls.env.workdir, "hook.log")
        cls.hook = os.path.join(cls.env.workdir, "hook.sh")
        # runs after pam_isolate, so inside the sandbox: says where it is and, given a flag
        # file, holds the open until the file exists (the login stays open meanwhile)
        with open(cls.hook, "w") as f:
            f.write("#!/bin/sh\n"
                    f'echo "$PAM_SERVICE $PAM_TYPE pidns=$(readlink /proc/self/ns/pid)" '
                    f">> {cls.hook_log}\n"
                    'if [ "$PAM_TYPE" = open_session ] && [ -n "$1" ]; then\n'
                    '  while [ ! -e "$1" ]; do sleep 0.05; done\nfi\n')
        os.chmod(cls.hook, 0o755)
        cls.run_env = dict(os.environ, **sanitizer_env(BUILD, cls.env.workdir))

    def setUp(self):
        if os.path.exists(self.hook_log):
            os.unlink(self.hook_log)
        self.mark = self.env.syslog.mark()
        self.flag = os.path.join(self.env.workdir, "release-" + self.id().rsplit(".", 1)[1])

    def stack(self, service, module, helper, cfg, hold=False):
        self.env.write_pam(service, "auth required pam_permit.so\n"
                                    "account required pam_permit.so\n"
                                    "session required pam_unix.so\n"
                                    f"session required {module} config={cfg} helper={helper}\n"
                                    f"session optional pam_exec.so {self.hook}"
                                    f"{' ' + self.flag if hold else ''}\n")

    def pamtester(self, service):
        return self.env.run(["pamtester", "-v", service, self.u1.name, "open_session",
                             "close_session"], env=self.run_env)

    def hook_lines(self, service=None):
        try:
            with open(self.hook_log) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return []
        return [l for l in lines if service is None or l.startswith(service + " ")]

    def pidns(self, service, pam_type="open_session"):
        for l in self.hook_lines(service):
            if l.split()[1] == pam_type:
                return re.search(r"pidns=(\S+)", l).group(1)
        self.fail(f"no {pam_type} of {service} inside a session: {self.hook_lines()}")

    def wait_hook(self, service, timeout=30):
        deadline = time.monotonic() + timeout
        while not self.hook_lines(service) and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.pidns(service)

    def module_line(self, service, outcome, timeout=10):
        return self.env.syslog.wait_for(
            rf"pam_isolate\({service}:session\): user={re.escape(self.u1.name)} "
            rf".*outcome={outcome}\b", timeout, self.mark)

    def records(self):
        """{id: text} of the registry's session records."""
        d = os.path.join(self.sb.runtime_dir, "sessions")
        out = {}
        for name in self.sb.registry_entries():
            if re.fullmatch(r"[0-9a-f]+", name):
                with open(os.path.join(d, name)) as f:
                    out[name] = f.read()
        return out

    def assertClean(self):
        left = self.sb.wait_clean(10)
        self.assertEqual(left, {"inits": [], "leaves": [], "registry": []},
                         "the sessions left something behind")

    def test_sandbox_of_n_minus_1_joined_closed_and_ended_by_n(self):
        """A user-scope sandbox built by N-1 (module, helper, init) while its login stays
        open; after the upgrade N's helper reads its N-1 registry record and hands N's
        login to N-1's init, and N's module closes that login through the N-1 init; the N-1
        login then logs out, the sandbox ends, and a new login of N leaves nothing behind."""
        cfg = self.sb.config(policies=SCOPED, services=SERVICES)
        self.stack("old-login", self.OLD_MODULE, self.OLD_HELPER, cfg, hold=True)
        self.stack("new-login", PAM_MODULE, HELPER, cfg)
        old = self.env.popen(["pamtester", "-v", "old-login", self.u1.name, "open_session",
                              "close_session"], env=self.run_env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        try:
            old_ns = self.wait_hook("old-login")
            recs = self.records()
            self.assertEqual(len(recs), 1, recs)
            (sid, text), = recs.items()
            self.assertNotIn("format=", text, "N-1 writes records without a format line")

            # "the upgrade": from here on every new login runs N
            r = subprocess.run([ISOLATECTL, "list", "-c", cfg], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(sid, r.stdout, "N's isolatectl lists the N-1 session")

            r = self.pamtester("new-login")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr + self.env.syslog.dump())
            self.assertIn("session has successfully been closed", r.stdout + r.stderr)
            self.assertEqual(self.pidns("new-login"), old_ns,
                             "N's login joined the sandbox of N-1's init")
            self.assertEqual(self.pidns("new-login", "close_session"), old_ns)
            line = self.module_line("new-login", "closed")
            self.assertIsNotNone(line, self.env.syslog.dump())
            self.assertIsNone(self.env.syslog.wait_for(r"outcome=close-failed", 0, self.mark))
            self.assertEqual(list(self.records()), [sid], "the sandbox lives on for N-1's login")
        finally:
            open(self.flag, "w").close()
            out, _ = old.communicate(timeout=60)
        self.assertEqual(old.returncode, 0, out)
        self.assertIn("session has successfully been closed", out)
        self.assertClean()

        # a new login after the upgrade: a sandbox of N's, in the current format, gone at logout
        self.mark = self.env.syslog.mark()
        os.unlink(self.hook_log)
        self.stack("new-login", PAM_MODULE, HELPER, cfg, hold=False)
        r = self.pamtester("new-login")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # a sandbox of its own: another session id, a pid namespace not the host's (not
        # compared with N-1's: that one is gone, and the kernel reuses a freed
        # namespace's inode number)
        line = self.module_line("new-login", "closed")
        self.assertIsNotNone(line, self.env.syslog.dump())
        self.assertNotEqual(re.search(r" session=(\S+)", line).group(1), sid,
                            "the login after N-1's sandbox ended got a sandbox of its own")
        self.assertNotEqual(self.pidns("new-login"), os.readlink("/proc/self/ns/pid"),
                            "the login after the upgrade is in a pid namespace of its own")
        self.assertClean()

    def test_login_of_n_minus_1_ended_by_isolatectl_of_n(self):
        """A login-scope session of N-1 (its isolatectl run, helper and init) is listed and
        killed by N's isolatectl, which reads its N-1 record; nothing is left."""
        cfg = self.sb.config(services=SERVICES)
        with Held([self.OLD_CTL, "run", "-c", cfg, "--service", "isolatectl", "--helper",
                   self.OLD_HELPER, self.u1.name, "--", "/bin/sh", "-c",
                   "echo READY; read x"]) as held:
            held.wait_for("READY")
            recs = self.records()
            self.assertEqual(len(recs), 1, recs)
            sid = next(iter(recs))
            r = subprocess.run([ISOLATECTL, "list", "-c", cfg], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(sid, r.stdout)
            r = subprocess.run([ISOLATECTL, "kill", "-c", cfg, sid], capture_output=True,
                               text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            held.end(timeout=30)
        self.assertClean()

    def test_module_of_n_minus_1_with_helper_of_n(self):
        """An sshd that loaded N-1's pam_isolate.so before the upgrade keeps it; the helper
        it runs is now N's: the session opens confined, closes, and leaves nothing. The
        record N's helper wrote says its format, and N-1's isolatectl lists it."""
        cfg = self.sb.config(services=SERVICES)
        self.stack("old-login", self.OLD_MODULE, HELPER, cfg, hold=True)
        old = self.env.popen(["pamtester", "-v", "old-login", self.u1.name, "open_session",
                              "close_session"], env=self.run_env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        try:
            ns = self.wait_hook("old-login")
            self.assertNotEqual(ns, os.readlink("/proc/self/ns/pid"), "confined")
            recs = self.records()
            self.assertEqual(len(recs), 1, recs)
            self.assertTrue(next(iter(recs.values())).startswith("format=1\n"), recs)
            # and a downgrade: N-1's isolatectl reads the record N wrote (its format line is
            # a key N-1 does not know, which it ignores)
            r = subprocess.run([self.OLD_CTL, "list", "-c", cfg], capture_output=True,
                               text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(next(iter(recs)), r.stdout)
        finally:
            open(self.flag, "w").close()
            out, _ = old.communicate(timeout=60)
        self.assertEqual(old.returncode, 0, out)
        self.assertIn("session has successfully been closed", out)
        self.assertEqual(self.pidns("old-login", "close_session"), ns)
        self.assertIsNotNone(self.module_line("old-login", "closed"), self.env.syslog.dump())
        self.assertClean()


class TestVersionsOfANewerRelease(unittest.TestCase):
    """What this build does with a newer release's message or registry record: refused whole,
    with both versions named and what to do; never a crash, never a misread."""

    @classmethod
    def setUpClass(cls):
        require_root()
        require_built(HELPER, INIT, ISOLATECTL)
        cls.sb = Sandbox()
        cls.addClassCleanup(cls.sb.close)
        cls.u1 = cls.sb.user("isolate-up2")
        cls.cfg = cls.sb.config(services=SERVICES)

    def test_helper_of_a_newer_protocol(self):
        """A helper that answers in protocol version 99: the login is denied, and the error
        names the helper, its version and ours, and says to finish the upgrade."""
        helper = os.path.join(self.sb.dir, "isolate-helper-v99")
        with open(helper, "w") as f:
            f.write("#!/usr/bin/python3\n"
                    "import socket, struct\n"
                    "s = socket.socket(fileno=3)\n"
                    "s.recv(1 << 18)\n"
                    "body = struct.pack('<HHI', 6, 0, 4) + struct.pack('<I', 0)\n"
                    "s.send(struct.pack('<IHHI', 0x4c4f5349, 99, 3, 12 + len(body)) + body)\n")
        os.chmod(helper, 0o755)
        r = self.sb.run(self.u1, "echo INSIDE", self.cfg, service="isolatectl", helper=helper)
        self.assertNotEqual(r.returncode, 0)
        self.assertNotIn("INSIDE", r.stdout)
        self.assertIn(f"the helper {helper} speaks protocol version 99, and this caller reads "
                      "versions 1 to ", r.stderr)
        self.assertIn("newer isolate release than this one: finish the upgrade", r.stderr)

    def test_record_of_a_newer_registry_format(self):
        """A registry record of format 99 (a newer release's, left by a downgrade): isolatectl
        list and a login refuse, naming the record, its format and ours and the fix; once
        the record is gone, both work again."""
        d = os.path.join(self.sb.runtime_dir, "sessions")
        os.makedirs(d, 0o700, exist_ok=True)
        path = os.path.join(d, "99aa99aa99aa99aa")
        with open(path, "w") as f:
            f.write("format=99\nid=99aa99aa99aa99aa\nuser=someone\ninit_pid=1\n"
                    "a line no release yet knows\n")
        os.chmod(path, 0o600)
        want = (f"session record {d}/99aa99aa99aa99aa has format 99, and this isolate reads "
                "formats 1 to ")
        try:
            r = subprocess.run([ISOLATECTL, "list", "-c", self.cfg], capture_output=True,
                               text=True)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn(want, r.stderr)
            self.assertIn("reinstall that release, or end the session", r.stderr)
            # explain of a user-scope policy looks for a live sandbox to join: it names the
            # record too, in its text and in --json
            scoped = self.sb.config(services=SERVICES, name="scoped.conf",
                                    policies=BASE_POLICY.replace("network = host",
                                                                 "network = host\n  scope = user"))
            for extra in ([], ["--json"]):
                r = subprocess.run([ISOLATECTL, "explain", "-c", scoped, "--service", "isolatectl"]
                                   + extra + [self.u1.name], capture_output=True, text=True)
                self.assertIn(want, r.stdout, r.stderr)
            r = self.sb.run(self.u1, "echo INSIDE", self.cfg, service="isolatectl")
            self.assertNotEqual(r.returncode, 0)
            self.assertNotIn("INSIDE", r.stdout)
            self.assertIn(want, r.stderr)
        finally:
            os.unlink(path)
        r = self.sb.run(self.u1, "echo INSIDE", self.cfg, service="isolatectl")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("INSIDE", r.stdout)
        left = self.sb.wait_clean(10)
        self.assertEqual(left, {"inits": [], "leaves": [], "registry": []})


if __name__ == "__main__":
    unittest.main()
