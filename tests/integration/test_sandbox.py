"""Issue 3: the sandbox core, seen from inside a session started with `isolatectl run`."""

import os
import re
import select
import shutil
import subprocess
import tempfile
import time
import unittest

import cgroup_layout
from harness import BASE_POLICY, FAULT_HELPER, HELPER, ISOLATECTL, SandboxTestCase, own_cgroups


EXIT_REFUSED = 125


def host_ns(kind):
    return os.readlink(f"/proc/self/ns/{kind}")


def read_line_within(stream, timeout):
    """One line from a child's pipe, or None if none came within timeout seconds. Reads a
    byte at a time, so that what follows the line stays for communicate()."""
    fd = stream.fileno()
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        byte = os.read(fd, 1)
        if not byte:
            return None
        data += byte
    return data.decode()


class TestView(SandboxTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cfg = cls.sb.config()
        cls.cfg_none = cls.sb.config(
            policies="policy offline {\n network = none\n}\n", default_policy="offline",
            name="none.conf")

    def run_in(self, cmd, cfg=None, user=None, **kw):
        r = self.sb.run(user or self.u1, cmd, cfg or self.cfg, **kw)
        return r

    def test_only_session_processes_visible(self):
        host = subprocess.Popen(["sleep", "100"])
        try:
            r = self.run_in(f"ps -e -o pid=,comm=; kill {host.pid}; echo kill=$?")
            self.assertEqual(r.returncode, 0, r.stderr)
            lines = [l.split() for l in r.stdout.splitlines() if not l.startswith("kill=")]
            pids = [int(l[0]) for l in lines]
            self.assertLessEqual(len(pids), 6, r.stdout)
            self.assertNotIn(host.pid, pids)
            # every process listed is one of the session's: its own small pid namespace
            self.assertTrue(all(p < 20 for p in pids), r.stdout)
            self.assertIn("ps", [l[1] for l in lines])
            self.assertRegex(r.stdout, r"kill=[1-9]")
            self.assertIsNone(host.poll(), "the host process was killed from inside")
        finally:
            host.kill()
            host.wait()
        self.assertClean()

    def test_namespaces_differ(self):
        kinds = ["mnt", "uts", "ipc", "cgroup", "pid", "net"]
        script = "; ".join(f"readlink /proc/self/ns/{k}" for k in kinds)
        r = self.run_in(script)
        self.assertEqual(r.returncode, 0, r.stderr)
        inside = dict(zip(kinds, r.stdout.split()))
        for k in ["mnt", "uts", "ipc", "cgroup", "pid"]:
            self.assertNotEqual(inside[k], host_ns(k), k)
        self.assertEqual(inside["net"], host_ns("net"), "network = host keeps the host's net")
        r = self.run_in(script + "; ip -o link", cfg=self.cfg_none)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.split()
        self.assertNotEqual(out[5], host_ns("net"))
        links = re.findall(r"^\d+: (\S+?):", r.stdout, re.M)
        self.assertEqual(links, ["lo"])
        self.assertIn("UP", r.stdout.split("lo:")[1].split("\n")[0])

    def test_hostname(self):
        r = self.run_in("hostname")
        self.assertEqual(r.stdout.strip(), f"{self.u1.name}-session")
        self.assertEqual(os.uname().nodename, subprocess.check_output(["hostname"], text=True).strip())

    def test_proc_and_sys_read_only(self):
        for path in ["/proc/sys/kernel/hostname", "/proc/self/oom_score_adj",
                     "/proc/self/comm", "/sys/kernel/mm/transparent_hugepage/enabled"]:
            r = self.run_in(f"echo 1 > {path}")
            self.assertNotEqual(r.returncode, 0, path)
            self.assertIn("Read-only file system", r.stderr, path)
        for cfg in (self.cfg, self.cfg_none):
            r = self.run_in("touch /sys/x; mkdir /sys/fs/cgroup/x", cfg=cfg)
            self.assertEqual(r.stderr.count("Read-only file system"), 2, r.stderr)

    def test_sensitive_proc_files_masked(self):
        r = self.run_in("for f in /proc/kcore /proc/keys /proc/timer_list; do "
                        "printf '%s:' $f; head -c 64 $f | wc -c; done")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split(), ["/proc/kcore:0", "/proc/keys:0",
                                            "/proc/timer_list:0"])

    def test_cgroup_tree_rooted_at_session(self):
        """Every cgroup hierarchy the session sees is rooted at its own cgroup, whatever the
        host's layout: the session's processes only, and none of the host's tree above it
        (the cgroup the tests run in, the sandbox's cgroup root, the user's cgroup)."""
        above = {self.sb.cgroup_name, f"user-{self.u1.uid}"}
        above |= {part for path in own_cgroups().values() for part in path.split("/") if part}
        r = self.run_in("cat /proc/self/cgroup; echo ---; "
                        "for f in /sys/fs/cgroup/cgroup.procs /sys/fs/cgroup/*/cgroup.procs; do "
                        "[ -e \"$f\" ] && echo \"$f\" $(cat \"$f\"); done; echo ---; "
                        "find /sys/fs/cgroup -type d; echo ---; "
                        "cat /sys/fs/cgroup/cgroup.controllers 2>/dev/null; echo self=$$")
        self.assertEqual(r.returncode, 0, r.stderr)
        own, procs, dirs, controllers = r.stdout.split("---\n")
        for line in own.splitlines():
            self.assertEqual(line.split(":", 2)[2], "/", line)
        self_pid = int(r.stdout.rsplit("self=", 1)[1])
        listed = {}
        for line in procs.splitlines():
            path, *pids = line.split()
            listed[path] = [int(p) for p in pids]
        if cgroup_layout.unified():
            self.assertEqual(list(listed), ["/sys/fs/cgroup/cgroup.procs"])
            self.assertIn("memory", controllers.split())
            self.assertIn("pids", controllers.split())
        else:
            for ctl in ("memory", "pids"):
                name = os.path.basename(cgroup_layout.hierarchy(ctl))
                self.assertIn(f"/sys/fs/cgroup/{name}/cgroup.procs", listed, ctl)
        for path, pids in listed.items():
            self.assertIn(self_pid, pids, path)
            self.assertTrue(all(p < 20 for p in pids), f"{path}: {pids}")
        # the names looked for do exist on the host, above the session's cgroup
        self.assertTrue(any(os.path.isdir(os.path.join(d, f"user-{self.u1.uid}"))
                            for d in self.sb.cgroup_dirs()), "no user cgroup on the host")
        shown = {os.path.basename(d) for d in dirs.split()} & above
        self.assertEqual(shown, set(), "the host's cgroup tree shows through")

    def test_private_tmp(self):
        marker = f"isolate-marker-{os.getpid()}"
        # the first session says when its file is written, then waits until the second
        # session has looked: the second one runs while the file is there
        first = self.sb.start(self.u1, f"echo secret > /tmp/{marker} && echo written; "
                                       f"read -r _; ls /tmp/{marker}", self.cfg,
                              stdin=subprocess.PIPE)
        try:
            ready = read_line_within(first.stdout, 30)
            if ready != "written\n":
                first.kill()
                self.fail(f"the first session never wrote its file ({ready!r}): "
                          f"{first.communicate()[1]}")
            second = self.run_in(f"ls /tmp/{marker} /var/tmp /dev/shm")
            out, err = first.communicate("go\n", timeout=30)
        finally:
            if first.poll() is None:
                first.kill()
                first.communicate()
        self.assertEqual(first.returncode, 0, err)
        self.assertIn(marker, out, "the first session's file went away")
        self.assertIn(f"/tmp/{marker}': No such file", second.stderr)
        self.assertFalse(os.path.exists(f"/tmp/{marker}"))
        r = self.run_in("df -B1 --output=size /tmp | tail -1")
        self.assertEqual(int(r.stdout), 64 * 1024 * 1024)

    def test_session_ends_with_command(self):
        r = self.run_in("setsid nohup sleep 1000 >/dev/null 2>&1 & sleep 0.2; "
                        "ps -e -o comm= | grep -c '^sleep'")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertGreaterEqual(int(r.stdout.split()[-1]), 1)
        # within one second: no sleep of our user, no init, leaf or registry entry
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            left = subprocess.run(["pgrep", "-u", self.u1.name, "sleep"],
                                  capture_output=True, text=True).stdout.split()
            if not left:
                break
            time.sleep(0.02)
        self.assertEqual(left, [], "a process of the session outlived it")
        self.assertClean(timeout=1.0)

    def test_exit_status_passes_through(self):
        self.assertEqual(self.run_in("exit 7").returncode, 7)
        self.assertEqual(self.run_in("kill -TERM $$").returncode, 128 + 15)

    def test_no_foreign_fds(self):
        code = ("import os\n"
                "for fd in sorted(os.listdir('/proc/self/fd'), key=int):\n"
                "    try: print(fd, os.readlink('/proc/self/fd/' + fd))\n"
                "    except OSError: pass\n")
        r = self.run_in(["/usr/bin/python3", "-c", code], stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr)
        fds = dict(l.split(" ", 1) for l in r.stdout.splitlines())
        extra = {fd: target for fd, target in fds.items()
                 if fd not in ("0", "1", "2") and not re.match(r"/proc/\d+/fd", target)}
        self.assertEqual(extra, {}, "fds the session should not hold")
        # a long-lived process too
        r = self.run_in("sleep 30 & p=$!; sleep 0.2; ls /proc/$p/fd | tr '\\n' ' '; kill $p",
                        stdin=subprocess.DEVNULL)
        self.assertEqual(r.stdout.split(), ["0", "1", "2"])

    def test_user_identity(self):
        r = self.run_in("id -u; id -g; echo $HOME; pwd")
        self.assertEqual(r.stdout.split(), [str(self.u1.uid), str(self.u1.gid), self.u1.home,
                                            self.u1.home])


class TestKill(SandboxTestCase):
    def test_isolatectl_kill_ends_the_session(self):
        cfg = self.sb.config()
        proc = self.sb.start(self.u1, "setsid sleep 300 & sleep 300", cfg)
        deadline = time.monotonic() + 10
        while not self.sb.registry_entries() and time.monotonic() < deadline:
            time.sleep(0.02)
        ids = self.sb.registry_entries()
        self.assertEqual(len(ids), 1)
        time.sleep(0.2)
        t0 = time.monotonic()
        r = subprocess.run([ISOLATECTL, "kill", "-c", cfg, ids[0]], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(ids[0], r.stdout)
        proc.communicate(timeout=10)
        self.assertLess(time.monotonic() - t0, 2.0)
        self.assertEqual(proc.returncode, 128 + 9, "the session's command was not killed")
        self.assertEqual(subprocess.run(["pgrep", "-u", self.u1.name], capture_output=True,
                                        text=True).stdout.split(), [])
        self.assertClean()
        # an unknown or finished session: a one-line error, exit 1
        r = subprocess.run([ISOLATECTL, "kill", "-c", cfg, ids[0]], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn(ids[0], r.stderr)
        r = subprocess.run([ISOLATECTL, "kill", "-c", cfg, "not-an-id"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 1)


class TestViewOptions(SandboxTestCase):
    """The policy's options for the view inside."""

    def test_hide_homes(self):
        cfg = self.sb.config(policies="policy p {\n hide_homes = true\n}\n",
                             default_policy="p")
        r = self.sb.run(self.u1, "ls /home; touch $HOME/written && echo wrote; ls -d ~/written",
                        cfg)
        self.assertEqual(r.returncode, 0, r.stderr)
        names = r.stdout.split()
        self.assertIn(self.u1.name, names)
        self.assertNotIn(self.u2.name, names, "another user's home is visible")
        self.assertIn("wrote", names)
        self.assertTrue(os.path.exists(os.path.join(self.u1.home, "written")),
                        "the home inside is not the real home")
        os.unlink(os.path.join(self.u1.home, "written"))
        r = self.sb.run(self.u1, "touch /home/intruder", cfg)
        self.assertNotEqual(r.returncode, 0)

    def test_masked_and_read_only_paths(self):
        # outside /tmp: the session has a /tmp of its own
        base = tempfile.mkdtemp(prefix="isolate-test-", dir="/var/lib")
        self.addCleanup(shutil.rmtree, base, True)
        os.chmod(base, 0o755)
        shared = os.path.join(base, "shared")
        os.mkdir(shared)
        os.chmod(shared, 0o1777)
        with open(os.path.join(shared, "data"), "w") as f:
            f.write("visible\n")
        cfg = self.sb.config(
            policies=(f"policy p {{\n masked_paths = {{\"/etc/hostname\", \"{base}/secret\"}}\n"
                      f" read_only_paths = {{\"{shared}\"}}\n}}\n"),
            default_policy="p")
        os.mkdir(os.path.join(base, "secret"))
        with open(os.path.join(base, "secret", "key"), "w") as f:
            f.write("s3cret\n")
        r = self.sb.run(self.u1, f"wc -c < /etc/hostname; ls {base}/secret | wc -l; "
                                 f"cat {shared}/data; touch {shared}/new", cfg)
        self.assertEqual(r.stdout.split(), ["0", "0", "visible"], r.stderr)
        self.assertIn("Read-only file system", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(shared, "new")))

    def test_proc_docker_model(self):
        cfg = self.sb.config(policies="policy p {\n proc = docker\n}\n", default_policy="p")
        r = self.sb.run(self.u1, "echo 500 > /proc/self/oom_score_adj && cat /proc/self/oom_score_adj;"
                                 " echo x > /proc/sys/kernel/hostname", cfg)
        self.assertEqual(r.stdout.split(), ["500"], r.stderr)
        self.assertIn("Read-only file system", r.stderr)

    def test_proc_subset_pid(self):
        cfg = self.sb.config(policies="policy p {\n proc_subset_pid = true\n}\n",
                             default_policy="p")
        r = self.sb.run(self.u1, "ls /proc", cfg)
        self.assertEqual(r.returncode, 0, r.stderr)
        entries = r.stdout.split()
        self.assertTrue(all(e.isdigit() or e in ("self", "thread-self") for e in entries),
                        entries)
        self.assertNotIn("meminfo", entries)

    def test_hidepid_off_shows_init(self):
        """hidepid = off: the session's own root-owned init shows; invisible hides it."""
        cfg = self.sb.config(policies="policy p {\n hidepid = off\n}\n", default_policy="p")
        r = self.sb.run(self.u1, "ps -e -o pid=,comm=", cfg)
        self.assertIn("isolate-init", r.stdout)
        r = self.sb.run(self.u1, "ps -e -o pid=,comm=", self.sb.config())
        self.assertNotIn("isolate-init", r.stdout)


class TestFailures(SandboxTestCase):
    def assertRefused(self, r, needle):
        self.assertEqual(r.returncode, EXIT_REFUSED, r.stderr)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn(needle, lines[0])
        self.assertEqual(r.stdout, "", "the command ran")
        self.assertClean()

    def test_invalid_config(self):
        cfg = self.sb.config(extra_global="no_such_key = 1\n", name="bad.conf")
        self.assertRefused(self.sb.run(self.u1, "echo ran", cfg), "no_such_key")

    def test_config_writable_by_others(self):
        cfg = self.sb.config(name="loose.conf")
        os.chmod(cfg, 0o666)
        self.assertRefused(self.sb.run(self.u1, "echo ran", cfg), "writable")

    def test_missing_helper(self):
        cfg = self.sb.config()
        self.assertRefused(self.sb.run(self.u1, "echo ran", cfg, helper="/nonexistent/helper"),
                           "/nonexistent/helper")

    def test_unknown_user(self):
        cfg = self.sb.config()
        r = self.sb.run("isolate-nobody-here", "echo ran", cfg)
        self.assertRefused(r, "no such user")

    def test_helper_dies_midway(self):
        cfg = self.sb.config()
        for stage in ("config", "init", "registry", "commit"):
            with self.subTest(stage=stage):
                wrapper = os.path.join(self.sb.dir, f"die-{stage}.sh")
                with open(wrapper, "w") as f:
                    f.write(f"#!/bin/sh\nISOLATE_TEST_DIE_AT={stage} exec {FAULT_HELPER} "
                            "\"$@\"\n")
                os.chmod(wrapper, 0o755)
                r = self.sb.run(self.u1, "echo ran", cfg, helper=wrapper)
                self.assertRefused(r, "helper")


class TestConcurrency(SandboxTestCase):
    def test_fifty_concurrent_sessions(self):
        # 25 sessions per user: above the default max_sessions (16)
        cfg = self.sb.config(policies=BASE_POLICY.replace("tmp_size = 64M",
                                                          "tmp_size = 64M\n  max_sessions = 32"))
        # each session reports its pid namespace, then waits until all fifty have: namespace
        # ids are only unique among namespaces alive at the same time
        procs = [self.sb.start(self.u1 if i % 2 else self.u2,
                               "readlink /proc/self/ns/pid; read x; ps -e -o pid= | wc -l", cfg,
                               stdin=subprocess.PIPE) for i in range(50)]
        namespaces = [p.stdout.readline().strip() for p in procs]
        for p in procs:
            p.stdin.close()
        results = [(p.stdout.read(), p.stderr.read(), p.wait(timeout=120)) for p in procs]
        failed = [(err, rc) for _, err, rc in results if rc != 0]
        self.assertEqual(failed, [])
        self.assertEqual(len(set(namespaces)), 50, "each session has its own pid namespace")
        self.assertNotIn(host_ns("pid"), namespaces)
        # none sees another's processes: sh, ps and at most the reading pipe's helpers
        self.assertTrue(all(int(out) <= 4 for out, _, _ in results), results)
        self.assertClean(timeout=5.0)


if __name__ == "__main__":
    unittest.main()
