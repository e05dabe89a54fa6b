"""Issue 6: the same pam_isolate.so confines `su - USER` (the PAM caller is su) and a
pamtester open/close cycle. Both run in a private mount namespace with the test's own
/etc/pam.d and /dev/log (sshd.py's PrivateEnv); nothing on the host's /etc changes."""

import os
import re
import time
import unittest

from harness import (BASE_POLICY, BUILD, HELPER, INIT, PAM_MODULE, ROOT, Sandbox, require_built,
                     require_root)
from sshd import PrivateEnv, sanitizer_env
from test_pam_sshd import HOST_PIDNS, PROBE, processes_of, probe

# The release build (make all), which make integration builds also under SANITIZE=1: a setuid
# su started by a user ignores LD_PRELOAD, so an ASan-built module cannot load into it.
RELEASE = os.path.join(ROOT, "build")
RELEASE_MODULE = os.path.join(RELEASE, "pam_isolate.so")
RELEASE_HELPER = os.path.join(RELEASE, "isolate-helper")
RELEASE_INIT = os.path.join(RELEASE, "isolate-init")


def session_lines(config, helper=HELPER, after="", module=PAM_MODULE):
    return ("session required pam_unix.so\n"
            f"session required {module} config={config} helper={helper}\n"
            f"{after}")


def su_stack(config, helper=HELPER):
    return ("auth sufficient pam_rootok.so\n"
            "auth required pam_deny.so\n"
            "account required pam_unix.so\n" + session_lines(config, helper))


class TestSuAndPamtester(unittest.TestCase):
    USERS = ("isolate-su1", "isolate-su2")

    @classmethod
    def setUpClass(cls):
        require_root()
        require_built(PAM_MODULE, HELPER, INIT)
        cls.sb = Sandbox()
        cls.addClassCleanup(cls.sb.close)
        cls.u1, cls.u2 = (cls.sb.user(n) for n in cls.USERS)
        cls.cfg = cls.sb.config(
            policies=BASE_POLICY,
            body=f'match {{\n users = {{"{cls.u2.name}"}}\n exempt = true\n}}\n')
        cls.env = PrivateEnv({})
        cls.addClassCleanup(cls.env.close)
        cls.hook_log = os.path.join(cls.env.workdir, "hook.log")
        cls.hook = os.path.join(cls.env.workdir, "hook.sh")
        with open(cls.hook, "w") as f:
            f.write("#!/bin/sh\n"
                    f'echo "$PAM_SERVICE $PAM_TYPE $PAM_USER pidns=$(readlink /proc/self/ns/pid) '
                    f'$(grep ^Seccomp: /proc/self/status)" >> {cls.hook_log}\n')
        os.chmod(cls.hook, 0o755)
        # su and pamtester load the module; a SANITIZE=1 module needs the ASan runtime first
        cls.run_env = dict(os.environ, **sanitizer_env(BUILD, cls.env.workdir))

    def run_in_env(self, argv):
        return self.env.run(argv, env=self.run_env)

    def tearDown(self):
        for name in os.listdir(self.env.workdir):
            if name.startswith(("asan", "ubsan")):
                with open(os.path.join(self.env.workdir, name)) as f:
                    self.fail(f"sanitizer report from su/pamtester:\n{f.read()}")

    def setUp(self):
        hook = f"session optional pam_exec.so {self.hook}\n"
        self.env.write_pam("su", su_stack(self.cfg))
        self.env.write_pam("su-l", "@include su\n")
        self.env.write_pam("pamtester", "auth required pam_permit.so\n"
                                        "account required pam_permit.so\n"
                                        + session_lines(self.cfg, after=hook))
        if os.path.exists(self.hook_log):
            os.unlink(self.hook_log)
        self.mark = self.env.syslog.mark()

    def module_line(self, service, user, outcome, timeout=10):
        return self.env.syslog.wait_for(
            rf"pam_isolate\({service}:session\): user={re.escape(user)} .*outcome={outcome}\b",
            timeout, self.mark)

    def assertClean(self, user):
        deadline = time.monotonic() + 5
        while processes_of(user.uid) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(processes_of(user.uid), [])
        left = self.sb.wait_clean(5)
        self.assertEqual(left, {"inits": [], "leaves": [], "registry": []},
                         "the session left something behind")

    def hook_lines(self):
        with open(self.hook_log) as f:
            return f.read().splitlines()

    # ---- su ---------------------------------------------------------------------------------

    def test_su_login_is_confined(self):
        r = self.run_in_env(["su", "-", self.u1.name, "-c",
                             PROBE + "; id -un; echo home=$HOME"])
        self.assertEqual(r.returncode, 0, r.stderr)
        p = probe(r.stdout)
        self.assertNotEqual(p.get("pidns"), HOST_PIDNS, r.stdout)
        self.assertNotEqual(p.get("mntns"), self.env.mntns, r.stdout)
        self.assertEqual(p.get("Seccomp"), "2", r.stdout)
        self.assertEqual(p.get("NoNewPrivs"), "1", r.stdout)
        self.assertEqual(p.get("CapBnd"), "0000000000000000", r.stdout)
        self.assertIn(f"home={self.u1.home}", r.stdout)
        line = self.module_line("su-l", self.u1.name, "confined")
        self.assertIsNotNone(line, self.env.syslog.dump())
        self.assertRegex(line, r"service=su-l rhost=- policy=test session=\S+ outcome=confined")
        self.assertIsNotNone(self.module_line("su-l", self.u1.name, "closed"))
        self.assertClean(self.u1)

    def test_su_without_dash_and_exit_status(self):
        r = self.run_in_env(["su", self.u1.name, "-c", "readlink /proc/self/ns/pid; exit 7"])
        self.assertEqual(r.returncode, 7, r.stderr)
        self.assertNotEqual(r.stdout.strip(), HOST_PIDNS)
        self.assertIsNotNone(self.module_line("su", self.u1.name, "confined"))
        self.assertClean(self.u1)

    def test_su_logout_ends_background_processes(self):
        r = self.run_in_env(["su", "-", self.u1.name, "-c",
                          "nohup sleep 779 >/dev/null 2>&1 </dev/null & sleep 0.2; "
                          "kill -0 $! && echo left-running"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("left-running", r.stdout)
        self.assertClean(self.u1)

    def test_su_exempt_user_is_untouched(self):
        r = self.run_in_env(["su", "-", self.u2.name, "-c", PROBE])
        self.assertEqual(r.returncode, 0, r.stderr)
        p = probe(r.stdout)
        self.assertEqual(p.get("pidns"), HOST_PIDNS, r.stdout)
        self.assertEqual(p.get("Seccomp"), "0", r.stdout)
        self.assertIsNotNone(self.module_line("su-l", self.u2.name, "exempt"))

    def test_su_refused_when_the_helper_is_missing(self):
        self.env.write_pam("su", su_stack(self.cfg, helper="/nonexistent/helper"))
        r = self.run_in_env(["su", "-", self.u1.name, "-c", "echo LOGGED-IN"])
        self.assertNotEqual(r.returncode, 0)
        self.assertNotIn("LOGGED-IN", r.stdout)
        line = self.module_line("su-l", self.u1.name, "denied")
        self.assertIsNotNone(line, self.env.syslog.dump())
        self.assertIn("cannot run the helper /nonexistent/helper", line)

    def su_under_fd_limits(self, config_text, name, su_args):
        """Writes config_text as a root-owned config, puts the release module in a su stack
        where the invoking user needs no password (test only), and runs `su SU_ARGS` as u2
        under each fd limit from 5 to 24. Returns (nofile, rc, stdout, stderr) per limit."""
        require_built(RELEASE_MODULE, RELEASE_HELPER, RELEASE_INIT)
        path = os.path.join(self.sb.dir, name)
        with open(path, "w") as f:
            f.write(config_text)
        os.chmod(path, 0o644)
        self.env.write_pam("su", "auth sufficient pam_permit.so\n"
                                 "account required pam_permit.so\n" +
                           session_lines(path, helper=RELEASE_HELPER, module=RELEASE_MODULE))
        outputs = []
        for nofile in range(5, 25):
            r = self.env.run(["setpriv", f"--reuid={self.u2.uid}", f"--regid={self.u2.gid}",
                              "--init-groups", "--", "sh", "-c",
                              f"ulimit -n {nofile}; exec su {su_args} -c "
                              "'grep ^Seccomp: /proc/self/status'"])
            outputs.append((nofile, r.returncode, r.stdout, r.stderr))
        return outputs

    def test_user_cannot_fail_su_open_on_purpose(self):
        """fail = open, and a user running su with a tiny descriptor limit makes the setup
        fail on purpose: su runs PAM with that user's real uid, so fail = open must not
        apply and no unconfined shell comes out (found by an attacker review). It runs the
        release build (RELEASE): under SANITIZE=1 too, it must not skip."""
        with open(self.cfg) as f:
            text = f.read().replace("fail = closed", "fail = open")
        outputs = self.su_under_fd_limits(text, "open-su.conf", self.u1.name)
        unconfined = [o for o in outputs if re.search(r"Seccomp:\s+0", o[2])]
        self.assertEqual(unconfined, [], "an unconfined shell came out of a forced failure")
        self.assertIsNone(self.env.syslog.wait_for(r"outcome=fail-open\b", 1, self.mark),
                          self.env.syslog.dump())
        # at least one limit made the setup fail, and the log says why it was refused
        refused = self.env.syslog.wait_for(r"fail = open does not apply", 5, self.mark)
        self.assertIsNotNone(refused, [o[:2] for o in outputs])

    def test_user_cannot_su_to_a_confined_root_unconfined(self):
        """`ulimit -n 5; su -` to root, where the config confines root (no exempt_users) and
        says fail = closed: the helper fails before it can say the fail mode, and the rescue
        rule that lets root in unconfined must not apply, since the caller runs with the
        invoking user's real uid (found by an outside review). Release build, like above."""
        with open(self.cfg) as f:
            text = f.read().replace('exempt_users = {"root"}', "exempt_users = {}")
        self.assertIn("exempt_users = {}", text)
        outputs = self.su_under_fd_limits(text, "root-confined.conf", "- root")
        unconfined = [o[:3] for o in outputs if re.search(r"Seccomp:\s+0", o[2])]
        self.assertEqual(unconfined, [], "an unconfined root shell came out of a forced failure")
        self.assertIsNone(self.env.syslog.wait_for(r"outcome=fail-open-root\b", 1, self.mark),
                          self.env.syslog.dump())
        refused = self.env.syslog.wait_for(r"letting root in unconfined does not apply", 5,
                                           self.mark)
        self.assertIsNotNone(refused, [o[:2] for o in outputs])
        # and without a limit of the user's, root's su is confined as the config says
        r = self.env.run(["setpriv", f"--reuid={self.u2.uid}", f"--regid={self.u2.gid}",
                          "--init-groups", "--", "su", "-", "root", "-c",
                          "grep ^Seccomp: /proc/self/status"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"Seccomp:\s+2")

    # ---- pamtester --------------------------------------------------------------------------

    def test_pamtester_open_close_cycle(self):
        """pamtester is the PAM caller: after open_session it is in the sandbox, and a
        pam_exec placed after pam_isolate runs inside it at open and at close."""
        r = self.run_in_env(["pamtester", "-v", "pamtester", self.u1.name, "open_session",
                          "close_session"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("successfully opened a session", r.stdout + r.stderr)
        self.assertIn("session has successfully been closed", r.stdout + r.stderr)
        lines = self.hook_lines()
        self.assertEqual([l.split()[1] for l in lines], ["open_session", "close_session"], lines)
        open_ns = re.search(r"pidns=(\S+)", lines[0]).group(1)
        close_ns = re.search(r"pidns=(\S+)", lines[1]).group(1)
        self.assertNotEqual(open_ns, HOST_PIDNS)
        self.assertEqual(open_ns, close_ns, "close ran in the same session")
        for l in lines:
            self.assertIn("Seccomp:\t2", l)
        self.assertIsNotNone(self.module_line("pamtester", self.u1.name, "confined"))
        line = self.module_line("pamtester", self.u1.name, "closed")
        self.assertIsNotNone(line, self.env.syslog.dump())
        self.assertClean(self.u1)

    def test_pamtester_broken_config_is_a_session_error(self):
        bad = os.path.join(self.sb.dir, "broken-su.conf")
        with open(bad, "w") as f:
            f.write('services = {"pamtester"\n')
        os.chmod(bad, 0o644)
        self.env.write_pam("pamtester", "auth required pam_permit.so\n"
                                        "account required pam_permit.so\n"
                                        f"session required {PAM_MODULE} config={bad} "
                                        f"helper={HELPER}\n")
        r = self.run_in_env(["pamtester", "pamtester", self.u1.name, "open_session"])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Cannot make/remove an entry for the specified session", r.stderr)
        line = self.module_line("pamtester", self.u1.name, "denied")
        self.assertIsNotNone(line, self.env.syslog.dump())
        self.assertIn("invalid config", line)

    def test_pamtester_service_not_configured_is_ignored(self):
        self.env.write_pam("other-svc", "auth required pam_permit.so\n"
                                        "account required pam_permit.so\n"
                                        "session required pam_permit.so\n"
                                        f"session required {PAM_MODULE} config={self.cfg} "
                                        f"helper={HELPER} debug\n")
        r = self.run_in_env(["pamtester", "other-svc", self.u1.name, "open_session"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIsNotNone(self.env.syslog.wait_for(
            r"pam_isolate\(other-svc:session\): .*outcome=ignored", 5, self.mark))
        self.assertEqual(self.sb.registry_entries(), [])

    def test_odd_input_is_refused_not_crashed_on(self):
        """Names that do not fit are refused (a cut name would be someone else), control
        characters never reach the log as such, and the caller survives all of it."""
        cases = [("a" * 300, [], "user name too long"),
                 (self.u1.name, ["-I", "rhost=" + "h" * 300], "remote host name too long"),
                 ("bad\nname\x1b[2J", [], "control characters")]
        for user, extra, why in cases:
            with self.subTest(why=why):
                mark = self.env.syslog.mark()
                r = self.run_in_env(["pamtester", *extra, "pamtester", user, "open_session"])
                self.assertEqual(r.returncode, 1, r.stderr)  # 1: a PAM error, not a crash
                self.assertIn("Cannot make/remove an entry", r.stderr)
                line = self.env.syslog.wait_for(r"pam_isolate\(pamtester:session\).*denied", 5,
                                                mark)
                self.assertIsNotNone(line, self.env.syslog.dump())
                self.assertIn(why, line)
                self.assertNotIn("\x1b", line)
        self.assertEqual(self.sb.registry_entries(), [])
        # a long tty is only recorded: cut, and the login goes on
        r = self.run_in_env(["pamtester", "-I", "tty=/dev/" + "t" * 200, "pamtester",
                             self.u1.name, "open_session", "close_session"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertClean(self.u1)

    def test_pamtester_setcred_is_ignored_and_auth_refused(self):
        self.env.write_pam("pamtester", "auth required pam_permit.so\n"
                                        f"auth optional {PAM_MODULE}\n")
        r = self.run_in_env(["pamtester", "pamtester", self.u1.name, "setcred"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.env.write_pam("pamtester", f"auth sufficient {PAM_MODULE}\n"
                                        "auth required pam_deny.so\n")
        r = self.run_in_env(["pamtester", "pamtester", self.u1.name, "authenticate"])
        self.assertNotEqual(r.returncode, 0)
        self.assertIsNotNone(self.env.syslog.wait_for(
            r"is a session module; remove it from the auth stack", 5, self.mark))


if __name__ == "__main__":
    unittest.main()
