"""Issue 16: `isolatectl apply [--dry-run]`: an edited config's caps and egress lists reach
live sandboxes without a new login. A user's next allocation above a lowered memory cap
fails inside the login that was already open; a connect a shortened egress_allow no longer
lists is refused; --dry-run prints the same change and changes nothing."""

import os
import socket
import subprocess
import threading

from harness import Held, HELPER, ISOLATECTL, PROBE, SandboxTestCase

# the held login runs each line it is given and says how it ended
RUNNER = "echo READY; while read t c; do sh -c \"$c\"; echo \"DONE $t $?\"; done"
ALLOC = ("python3 -c 'b = bytearray(200 * 1024 * 1024); "
         "b[::4096] = b\"x\" * len(b[::4096]); print(\"ALLOCATED\")'")


def policy(memory="512M", egress=None):
    line = f"egress_allow = {{{egress}}}" if egress is not None else ""
    return f"""
policy test {{
  network = host
  memory_max = {memory}
  swap_max = 0
  pids_max = 256
  {line}
}}
"""


def user_memory_cap(sb, uid):
    for root in sb.cgroup_dirs():
        for f in ("memory.limit_in_bytes", "memory.max"):
            try:
                with open(os.path.join(root, f"user-{uid}", f)) as fh:
                    return fh.read().strip()
            except OSError:
                pass
    return None


def apply(cfg, *extra):
    return subprocess.run([ISOLATECTL, "apply", "-c", cfg, *extra], capture_output=True,
                          text=True)


class TestApply(SandboxTestCase):
    USERS = ("isolate-ap1", "isolate-ap2")

    def held(self, cfg):
        return Held([ISOLATECTL, "run", "-c", cfg, "--helper", HELPER, self.u1.name, "--",
                     "/bin/sh", "-c", RUNNER])

    def run_in(self, h, cmd, n):
        """Runs cmd in the held login as command n; (its output, exit status)."""
        start = len(h.out)
        h.send(f"c{n} {cmd}")
        m = h.wait_for(rf"^DONE c{n} (\d+)$", timeout=60)
        return h.out[start:m.start()], int(m.group(1))

    def test_lower_memory_cap_reaches_an_open_login(self):
        cfg = self.sb.config(policies=policy("512M"))
        with self.held(cfg) as h:
            h.wait_for("READY")
            out, st = self.run_in(h, ALLOC, 0)
            self.assertIn("ALLOCATED", out, "under 512M the allocation fits")
            before = user_memory_cap(self.sb, self.u1.uid)
            self.sb.config(policies=policy("64M"))  # the admin edits the config
            r = apply(cfg, "--dry-run")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(f"user {self.u1.name} (uid {self.u1.uid}), 1 sandbox: "
                          "memory_max 512M -> 64M", r.stdout)
            self.assertIn("would apply", r.stdout)
            self.assertEqual(user_memory_cap(self.sb, self.u1.uid), before,
                             "--dry-run changes nothing")
            r = apply(cfg)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("memory_max 512M -> 64M", r.stdout)
            self.assertIn("namespaces, seccomp", r.stdout)
            self.assertEqual(int(user_memory_cap(self.sb, self.u1.uid)), 64 << 20)
            out, st = self.run_in(h, ALLOC, 1)
            self.assertNotIn("ALLOCATED", out, "the same login's next allocation fails at 64M")
            self.assertNotEqual(st, 0)
            h.end()
        self.assertClean()

    def test_cap_below_usage_is_refused_and_nothing_changes(self):
        cfg = self.sb.config(policies=policy("512M"))
        with self.held(cfg) as h:
            h.wait_for("READY")
            h.send("c0 python3 -c 'import time; b = bytearray(96 << 20); "
                   "b[::4096] = b\"x\" * len(b[::4096]); print(\"HOLDING\", flush=True); "
                   "time.sleep(60)' &")
            h.wait_for("HOLDING")
            before = user_memory_cap(self.sb, self.u1.uid)
            self.sb.config(policies=policy("16M"))
            r = apply(cfg)
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn("not applied", r.stdout)
            self.assertEqual(user_memory_cap(self.sb, self.u1.uid), before)
            h.end()
        self.assertClean()

    def test_shortened_egress_list_refuses_at_once(self):
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.2", 0))
        srv.listen(16)
        port = srv.getsockname()[1]
        self.addCleanup(srv.close)

        def serve():
            try:
                while True:
                    srv.accept()[0].close()
            except OSError:
                pass
        threading.Thread(target=serve, daemon=True).start()
        cfg = self.sb.config(policies=policy(egress=f'"127.0.0.2:{port}/tcp"'))
        probe = f"{PROBE} connect 127.0.0.2:{port}"
        with self.held(cfg) as h:
            h.wait_for("READY")
            out, st = self.run_in(h, probe, 0)
            self.assertEqual(st, 0, out)
            self.sb.config(policies=policy(egress='"127.0.0.3:1/tcp"'))
            r = apply(cfg, "--dry-run")
            self.assertIn("egress_allow: 1 entry", r.stdout)
            out, st = self.run_in(h, probe, 1)
            self.assertEqual(st, 0, "--dry-run changed the filter: " + out)
            r = apply(cfg)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            out, st = self.run_in(h, probe, 2)
            self.assertNotEqual(st, 0, out)
            self.assertIn("EPERM", out)
            h.end()
        self.assertClean()

    def test_invalid_config_applies_nothing(self):
        cfg = self.sb.config(policies=policy(), body="bogus = 1\n")
        r = apply(cfg)
        self.assertEqual(r.returncode, 1)
        self.assertIn("nothing applied", r.stderr)
