"""Issue 16: `isolatectl status`: the backend, what the kernel has against what the config asks
for, the config's state, live sandboxes and users, the last denials; text and --json."""

import json
import os
import subprocess

from harness import Held, HELPER, ISOLATECTL, SandboxTestCase

POLICIES = """
policy test {
  network = host
  memory_max = 512M
  pids_max = 256
  scope = user
}
policy confined {
  apparmor_profile = "isolate-test-profile"
  lsm_required = false
}
"""


def status(cfg, *extra):
    r = subprocess.run([ISOLATECTL, "status", "-c", cfg, *extra], capture_output=True,
                       text=True)
    return r


def apparmor_on():
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            return f.read().startswith("Y")
    except OSError:
        return False


class TestStatus(SandboxTestCase):
    USERS = ("isolate-st1", "isolate-st2")

    def test_live_sandbox_and_backend_as_the_session_records_them(self):
        cfg = self.sb.config(policies=POLICIES)
        before = json.loads(status(cfg, "--json").stdout)
        self.assertEqual(before["sandboxes"]["live"], 0)
        argv = [ISOLATECTL, "run", "-c", cfg, "--helper", HELPER, self.u1.name, "--",
                "/bin/sh", "-c", "echo READY; read x"]
        with Held(argv) as a:
            a.wait_for("READY")
            r = status(cfg, "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            st = json.loads(r.stdout)
            self.assertEqual(st["sandboxes"]["live"], 1)
            self.assertEqual(st["sandboxes"]["users"], 1)
            self.assertEqual([s["user"] for s in st["sandboxes"]["shown"]], [self.u1.name])
            self.assertEqual(st["sandboxes"]["shown"][0]["scope"], "user")
            lst = json.loads(subprocess.run([ISOLATECTL, "list", "-c", cfg, "--json"],
                                            capture_output=True, text=True).stdout)
            self.assertEqual(st["backend"], lst[0]["cgroup_backend"],
                             "status names the backend the session was made with")
            text = status(cfg).stdout
            self.assertIn("sandboxes: 1 live, 1 user, 0 lingering", text)
            self.assertIn(f"{lst[0]['id']} {self.u1.name} policy test scope user logins 1", text)
            a.end()
        self.assertClean()
        self.assertEqual(json.loads(status(cfg, "--json").stdout)["sandboxes"]["live"], 0)

    def test_needs_against_the_kernel(self):
        cfg = self.sb.config(policies=POLICIES)
        st = json.loads(status(cfg, "--json").stdout)
        pol = {p["name"]: {n["what"]: n for n in p["needs"]} for p in st["config"]["policies"]}
        self.assertTrue(pol["test"]["pids_max"]["ok"], "this host has the pids controller")
        aa = pol["confined"]["apparmor_profile"]
        self.assertEqual(aa["ok"], apparmor_on())
        text = status(cfg).stdout
        self.assertIn("apparmor_profile: AppArmor " + ("ok" if apparmor_on() else "MISSING"),
                      text)
        with open("/proc/self/mountinfo") as f:
            v2 = any(" - cgroup2 " in l for l in f)
        self.assertEqual(st["cgroup2_mount"] is not None, v2)

    def test_invalid_config_is_shown_not_hidden(self):
        cfg = self.sb.config(policies=POLICIES, body="bogus_key = 1\n", name="bad.conf")
        r = status(cfg, "--json")
        self.assertEqual(r.returncode, 1)
        st = json.loads(r.stdout)
        self.assertFalse(st["config"]["valid"])
        self.assertTrue(st["config"]["errors"])
        self.assertIn("bad.conf:", st["config"]["errors"][0])
        text = status(cfg).stdout
        self.assertIn("INVALID", text)
        self.assertIn("every non-root login is denied", text)

    def test_last_denials_from_a_log_file(self):
        cfg = self.sb.config(policies=POLICIES)
        log = os.path.join(self.sb.dir, "auth.log")
        lines = ["Dec  6 05:00:00 h sshd[1]: Accepted publickey for x"]
        lines += [f"Dec  6 05:00:0{i} h isolate[{i}]: user=u{i} service=sshd rhost=- tty=- "
                  f"policy=test session=- outcome=denied duration=1.00ms: reason {i}"
                  for i in range(7)]
        lines += ["Dec  6 05:01:00 h isolate[9]: user=u9 service=sshd rhost=- tty=- policy=test "
                  "session=abc outcome=confined duration=1.00ms: ok",
                  "Dec  6 05:02:00 h isolate[10]: user=u10 service=sshd rhost=- tty=- "
                  "policy=test session=- outcome=fail-open duration=1.00ms: helper gone"]
        with open(log, "w") as f:
            f.write("\n".join(lines) + "\n")
        st = json.loads(status(cfg, "--json", "--log", log).stdout)
        self.assertEqual(st["denials"]["source"], log)
        got = st["denials"]["lines"]
        self.assertEqual(len(got), 5, "the last five")
        self.assertTrue(got[-1].endswith("helper gone"))
        self.assertIn("reason 6", got[-2])
        self.assertFalse(any("outcome=confined" in l or "Accepted" in l for l in got))
        missing = json.loads(status(cfg, "--json", "--log", log + ".none").stdout)
        self.assertIsNone(missing["denials"]["source"])
