"""The systemd cgroup backend against python3-dbusmock standing in for systemd on a private
system bus: the exact D-Bus calls (method, unit name, runtime flag), the property names, their
D-Bus types and values, and what happens when systemd refuses or the caller is not in the
user's slice.

The backend is driven by build/tests/test_cgroup_systemd --drive (the real cgroup.c and
cgroup-systemd.c; see that file) with DBUS_SYSTEM_BUS_ADDRESS pointing at the private bus,
a fake host (mountinfo, /proc/4242/cgroup of the caller) and a fake sysfs behind two block
nodes: sda1 (a partition of sda, 8:0) and dm-1 (device-mapper over sdb 8:16 and sdc 8:32).
Run as root with /usr/bin/python3 (mknod)."""

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

import dbus
import dbusmock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

DRIVER = os.path.join(harness.BUILD, "tests", "test_cgroup_systemd")
SYSTEMD = "org.freedesktop.systemd1"
PATH = "/org/freedesktop/systemd1"
MANAGER = "org.freedesktop.systemd1.Manager"
U64_MAX = 2**64 - 1

# Runs inside the mock for every SetUnitProperties call: records each argument's D-Bus type
# as received, so that the test sees what went over the wire, not what Python made of it.
# (exec()'d with separate locals: no comprehension may use _t.)
TYPES = r"""
import json
def _t(v):
    for k, s in ((dbus.Boolean, 'b'), (dbus.Byte, 'y'), (dbus.Int16, 'n'), (dbus.UInt16, 'q'),
                 (dbus.Int32, 'i'), (dbus.UInt32, 'u'), (dbus.Int64, 'x'), (dbus.UInt64, 't'),
                 (dbus.Double, 'd'), (dbus.String, 's'), (dbus.ObjectPath, 'o'),
                 (dbus.Signature, 'g')):
        if type(v) is k:
            return s
    if isinstance(v, dbus.Array):
        return 'a' + str(v.signature)
    if isinstance(v, dbus.Struct):
        return 'struct'
    return '?' + type(v).__name__
"""
RECORD = TYPES + r"""
props = []
for item in args[2]:
    name, value = item[0], item[1]
    entry = [_t(item), len(item), _t(name), str(name), _t(value), int(value.variant_level)]
    if isinstance(value, dbus.Array):
        elems = []
        for e in value:
            elems.append([_t(e), len(e), _t(e[0]), str(e[0]), _t(e[1]), int(e[1])])
        entry.append(elems)
    else:
        entry.append(int(value))
    props.append(entry)
self.typed_calls = getattr(self, 'typed_calls', []) + [
    [_t(args[0]), str(args[0]), _t(args[1]), bool(args[1]), _t(args[2]), props]]
"""

REFUSE = (RECORD + "\nraise dbus.exceptions.DBusException("
          "'Cannot set property MemorySwapMax, or unknown property.', "
          "name='org.freedesktop.DBus.Error.PropertyReadOnly')\n")


# Runs inside the mock for every StartTransientUnit call: records name, mode, each property
# (name, variant type, value) and the aux count, typed; then plays systemd starting the scope:
# the PIDs move into it (the fake /proc/PID/cgroup), unless MOVE is False.
START = TYPES + r"""
props = []
for item in args[2]:
    value = item[1]
    if isinstance(value, dbus.Array):
        elems = []
        for e in value:
            elems.append([_t(e), int(e)])
        value = elems
    else:
        value = str(value)
    props.append([str(item[0]), _t(item[1]), value])
self.starts = getattr(self, 'starts', []) + [
    [_t(args[0]), str(args[0]), _t(args[1]), str(args[1]), _t(args[3]), len(args[3]), props]]
if MOVE:
    for p in props:
        if p[0] == 'Slice':
            slice_ = p[2]
    for p in props:
        if p[0] == 'PIDs':
            for e in p[2]:
                with open(os.path.join(DIR, 'proc', str(e[1]), 'cgroup'), 'w') as f:
                    f.write('0::/user.slice/' + slice_ + '/' + str(args[0]) + chr(10))
"""


class SystemdBackend(dbusmock.DBusTestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_root()
        harness.require_built(DRIVER)
        cls.start_system_bus()
        cls.dbus_con = cls.get_dbus(system_bus=True)

    def setUp(self):
        self.p_mock = self.spawn_server(SYSTEMD, PATH, MANAGER, system_bus=True,
                                        stdout=subprocess.DEVNULL)
        self.addCleanup(self._stop_mock)
        self.mock = dbus.Interface(self.dbus_con.get_object(SYSTEMD, PATH), dbusmock.MOCK_IFACE)
        self.mock.AddMethod("", "TypedCalls", "", "s",
                            "import json\nret = json.dumps(getattr(self, 'typed_calls', []))")
        self.dir = tempfile.mkdtemp(prefix="isolate-test-systemd-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self._fake_host()

    def _stop_mock(self):
        self.p_mock.terminate()
        self.p_mock.wait()

    # --- the fake host ---------------------------------------------------------------------
    def _write(self, rel, text):
        path = os.path.join(self.dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)

    def _blockdev(self, devpath, major, minor, partition=False):
        self._write(f"sys/devices/{devpath}/dev", f"{major}:{minor}\n")
        if partition:
            self._write(f"sys/devices/{devpath}/partition", "1\n")
        os.makedirs(os.path.join(self.dir, "sys/dev/block"), exist_ok=True)
        os.symlink(f"../../devices/{devpath}",
                   os.path.join(self.dir, f"sys/dev/block/{major}:{minor}"))

    def _slave(self, holder, name, target):
        d = os.path.join(self.dir, f"sys/devices/{holder}/slaves")
        os.makedirs(d, exist_ok=True)
        os.symlink(f"../../../../{target}", os.path.join(d, name))

    def _fake_host(self):
        self._write("mountinfo", "31 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec - cgroup2 "
                                 "cgroup2 rw,nsdelegate,memory_recursiveprot\n")
        os.makedirs(os.path.join(self.dir, "sys/fs/cgroup/user.slice/user-1000.slice/"
                                           "session-7.scope"))
        self.caller_in("/user.slice/user-1000.slice/session-7.scope")
        self._blockdev("pci0/block/sda", 8, 0)
        self._blockdev("pci0/block/sda/sda1", 8, 1, partition=True)
        self._blockdev("pci0/block/sdb", 8, 16)
        self._blockdev("pci0/block/sdc", 8, 32)
        self._blockdev("virtual/block/dm-1", 253, 1)
        self._slave("virtual/block/dm-1", "sdb", "pci0/block/sdb")
        self._slave("virtual/block/dm-1", "sdc", "pci0/block/sdc")
        self.sda1 = os.path.join(self.dir, "sda1")
        os.mknod(self.sda1, stat.S_IFBLK | 0o600, os.makedev(8, 1))
        self.dm1 = os.path.join(self.dir, "dm-1")
        os.mknod(self.dm1, stat.S_IFBLK | 0o600, os.makedev(253, 1))

    def caller_in(self, cgroup):
        self._write("proc/4242/cgroup", f"0::{cgroup}\n")

    def drive(self, *keys, uid=1000):
        env = dict(os.environ)  # DBUS_SYSTEM_BUS_ADDRESS: the private bus
        self.assertIn("DBUS_SYSTEM_BUS_ADDRESS", env)
        return subprocess.run([DRIVER, "--drive", self.dir, str(uid), *keys],
                              capture_output=True, text=True, timeout=30, env=env)

    def calls(self):
        """(SetUnitProperties calls as logged by dbusmock, typed records)."""
        logged = self.mock.GetMethodCalls("SetUnitProperties")
        typed = json.loads(str(self.dbus_con.get_object(SYSTEMD, PATH).TypedCalls(
            dbus_interface=MANAGER)))
        self.assertEqual(len(logged), len(typed))
        return typed

    def add_set_unit_properties(self, code=RECORD):
        self.mock.AddMethod(MANAGER, "SetUnitProperties", "sba(sv)", "", code)

    @staticmethod
    def scalar(name, value):
        # struct (sv) of 2; name a string; value a variant ("level 1") holding a uint64
        return ["struct", 2, "s", name, "t", 1, value]

    @staticmethod
    def array(name, entries):
        return ["struct", 2, "s", name, "a(st)", 1,
                [["struct", 2, "s", path, "t", v] for path, v in entries]]

    # --- tests -------------------------------------------------------------------------------
    def test_every_cap_in_one_call_with_systemd_types(self):
        self.add_set_unit_properties()
        res = self.drive("memory_max=1073741824", "memory_high=805306368", "swap_max=0",
                         "pids_max=200", "cpu_max_percent=150", "cpu_weight=50",
                         f"io={self.sda1},-,5242880,1000,max",
                         f"io={self.dm1},10485760,-,-,-")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertTrue(res.stdout.startswith("ok\n"), res.stdout)
        calls = self.calls()
        self.assertEqual(len(calls), 1)
        # nothing else was asked of systemd (no StartTransientUnit, no other method)
        methods = [str(c[1]) for c in self.mock.GetCalls() if str(c[1]) != "TypedCalls"]
        self.assertEqual(methods, ["SetUnitProperties"])
        t_name, name, t_runtime, runtime, t_props, props = calls[0]
        self.assertEqual((t_name, name), ("s", "user-1000.slice"))
        self.assertEqual((t_runtime, runtime), ("b", True))
        self.assertEqual(t_props, "a(sv)")
        # dm-1 spans two disks: both get the limit; their order is sysfs's
        read_bw = props[7]
        read_bw[6].sort()
        want = [
            self.scalar("MemoryMax", 1073741824),
            self.scalar("MemoryHigh", 805306368),
            self.scalar("MemorySwapMax", 0),
            self.scalar("TasksMax", 200),
            self.scalar("CPUQuotaPerSecUSec", 1500000),
            self.scalar("CPUWeight", 50),
            # each array first reset (SetUnitProperties appends), then the policy's entries
            self.array("IOReadBandwidthMax", []),
            self.array("IOReadBandwidthMax", [("/dev/block/8:16", 10485760),
                                              ("/dev/block/8:32", 10485760)]),
            self.array("IOWriteBandwidthMax", []),
            self.array("IOWriteBandwidthMax", [("/dev/block/8:0", 5242880)]),
            self.array("IOReadIOPSMax", []),
            self.array("IOReadIOPSMax", [("/dev/block/8:0", 1000)]),
            self.array("IOWriteIOPSMax", []),
            self.array("IOWriteIOPSMax", [("/dev/block/8:0", U64_MAX)]),
        ]
        self.assertEqual(props, want)
        # the session is the caller's scope, and there is nothing for the init to remove
        scope = os.path.join(self.dir, "sys/fs/cgroup/user.slice/user-1000.slice/session-7.scope")
        self.assertIn("cgroup_backend=systemd\n", res.stdout)
        self.assertIn(f"cgroup=- cgroup2 nsdelegate,memory_recursiveprot - - - - {scope}\n",
                      res.stdout)
        # nothing was made in the (fake) systemd tree
        self.assertEqual(os.listdir(os.path.join(self.dir, "sys/fs/cgroup")), ["user.slice"])
        self.assertEqual(os.listdir(scope), [])

    def test_max_is_uint64_max(self):
        self.add_set_unit_properties()
        res = self.drive("memory_max=max", "swap_max=max", "pids_max=max",
                         "cpu_max_percent=max")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        props = self.calls()[0][5]
        self.assertEqual(props, [self.scalar("MemoryMax", U64_MAX),
                                 self.scalar("MemorySwapMax", U64_MAX),
                                 self.scalar("TasksMax", U64_MAX),
                                 self.scalar("CPUQuotaPerSecUSec", U64_MAX)])

    def test_only_what_the_policy_sets(self):
        self.add_set_unit_properties()
        # the caller in uid 1000's session (su from it): refused, caps_required or not
        res = self.drive("pids_max=64", uid=4321)
        self.assertEqual(res.returncode, 1, res.stdout + res.stderr)
        self.assertIn("error: systemd: the caller (pid 4242) is in "
                      "/user.slice/user-1000.slice/session-7.scope, not under user-4321.slice: "
                      "a login started inside the session of uid 1000 (su from that session)",
                      res.stdout)
        self.assertEqual(self.calls(), [])
        self.caller_in("/user.slice/user-4321.slice/session-9.scope")
        res = self.drive("pids_max=64", uid=4321)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        calls = self.calls()
        self.assertEqual(len(calls), 1)
        self.assertEqual(calls[0][1], "user-4321.slice")
        self.assertEqual(calls[0][5], [self.scalar("TasksMax", 64)])

    def test_no_caps_no_call(self):
        self.add_set_unit_properties()
        res = self.drive()
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertEqual(res.stdout.splitlines()[1], "cgroup_backend=systemd")
        self.assertEqual(self.calls(), [])
        self.assertEqual([str(c[1]) for c in self.mock.GetCalls()], ["TypedCalls"])

    def test_caller_outside_the_user_slice(self):
        self.add_set_unit_properties()
        self.caller_in("/system.slice/ssh.service")
        res = self.drive("memory_max=1048576", "caps_required=1")
        self.assertEqual(res.returncode, 1)
        self.assertIn("error: systemd: the caller (pid 4242) is in /system.slice/ssh.service, "
                      "not under user-1000.slice", res.stdout)
        self.assertIn("pam_systemd", res.stdout)
        res = self.drive("memory_max=1048576")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertIn("not under user-1000.slice", res.stdout.splitlines()[1])
        self.assertEqual(self.calls(), [])

    def test_su_from_roots_session_joins_nothing(self):
        """su from root's ssh login stays in root's session scope: joining the user's live
        sandbox from there is refused before any cap is sent, caps_required or not; the
        same login from the user's own slice joins and sets the caps."""
        self.add_set_unit_properties()
        self.caller_in("/user.slice/user-0.slice/session-3.scope")
        for required in ("caps_required=1", "caps_required=0"):
            res = self.drive("memory_max=1048576", "join=1", required)
            self.assertEqual(res.returncode, 1, res.stdout + res.stderr)
            self.assertEqual(
                res.stdout,
                "error: systemd: the caller (pid 4242) is in "
                "/user.slice/user-0.slice/session-3.scope, not under user-1000.slice: a login "
                "started inside the session of uid 0 (su from that session) stays in that "
                "session's scope, where the caps of uid 1000 would not apply, so joining "
                "sandbox drive0 is refused; log in as that user directly (ssh, login, "
                "machinectl shell USER@), which gives the login a session of its own under "
                "user-1000.slice\n")
            self.assertEqual(self.calls(), [])
        self.caller_in("/user.slice/user-1000.slice/session-7.scope")
        res = self.drive("memory_max=1048576", "join=1", "caps_required=1")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        calls = self.calls()
        self.assertEqual(len(calls), 1)
        self.assertEqual(calls[0][1], "user-1000.slice")
        self.assertEqual(calls[0][5], [self.scalar("MemoryMax", 1048576)])

    def test_systemd_refuses(self):
        self.add_set_unit_properties(REFUSE)
        res = self.drive("memory_max=1048576", "swap_max=0", "caps_required=1")
        self.assertEqual(res.returncode, 1)
        self.assertEqual(res.stdout.splitlines()[0],
                         "error: systemd: SetUnitProperties(user-1000.slice) failed: Cannot set "
                         "property MemorySwapMax, or unknown property.; policy 'test' requires "
                         "its caps (caps_required): check that systemd runs and that the user's "
                         "slice exists, or set caps_required = false to log this and go on")
        res = self.drive("memory_max=1048576", "swap_max=0")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertIn("SetUnitProperties(user-1000.slice) failed: Cannot set property "
                      "MemorySwapMax", res.stdout.splitlines()[1])
        self.assertEqual(len(self.calls()), 2)

    # --- a user-scope sandbox's own unit (cgroup_session_own_unit) ---------------------------
    def add_start_transient_unit(self, move=True, refuse=False):
        code = f"import os\nDIR = {self.dir!r}\nMOVE = {move!r}\n" + START
        if refuse:
            code += ("\nraise dbus.exceptions.DBusException('Unit isolate-drive1.scope already "
                     "exists.', name='org.freedesktop.systemd1.UnitExists')\n")
        self.mock.AddMethod(MANAGER, "StartTransientUnit", "ssa(sv)a(sa(sv))", "o",
                            code + "\nret = dbus.ObjectPath('/org/freedesktop/systemd1/job/1')\n")
        self.mock.AddMethod("", "Starts", "", "s",
                            "import json\nret = json.dumps(getattr(self, 'starts', []))")
        # the sandbox's first process, still in the login's scope
        self._write("proc/4343/cgroup", "0::/user.slice/user-1000.slice/session-7.scope\n")

    def starts(self):
        return json.loads(str(self.dbus_con.get_object(SYSTEMD, PATH).Starts(
            dbus_interface=MANAGER)))

    def test_user_scope_sandbox_moves_into_a_unit_of_ours(self):
        self.add_set_unit_properties()
        self.add_start_transient_unit()
        res = self.drive("memory_max=1048576", "own_unit=4343")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        # the caps first, on the user's slice; then the unit; nothing else
        methods = [str(c[1]) for c in self.mock.GetCalls() if str(c[1]) not in
                   ("TypedCalls", "Starts")]
        self.assertEqual(methods, ["SetUnitProperties", "StartTransientUnit"])
        [start] = self.starts()
        t_name, name, t_mode, mode, t_aux, n_aux, props = start
        self.assertEqual((t_name, name, t_mode, mode), ("s", "isolate-drive1.scope", "s", "fail"))
        self.assertEqual((t_aux, n_aux), ("a(sa(sv))", 0))
        by_name = {p[0]: p[1:] for p in props}
        self.assertEqual(sorted(by_name), ["CollectMode", "Description", "PIDs", "Slice"])
        self.assertEqual(by_name["Slice"], ["s", "user-1000.slice"])  # under the user's caps
        self.assertEqual(by_name["PIDs"], ["au", [["u", 4343]]])
        self.assertEqual(by_name["CollectMode"], ["s", "inactive-or-failed"])  # gone at the end
        self.assertEqual(by_name["Description"][0], "s")
        self.assertIn("drive1", by_name["Description"][1])
        # the session's cgroup is now the unit (usage is read there); nothing of ours to remove
        unit = os.path.join(self.dir, "sys/fs/cgroup/user.slice/user-1000.slice/"
                                      "isolate-drive1.scope")
        self.assertIn(f"cgroup=- cgroup2 nsdelegate,memory_recursiveprot - - - - {unit}\n",
                      res.stdout)
        self.assertEqual(res.stdout.splitlines()[1], "cgroup_backend=systemd")  # no warning

    def test_unit_refused(self):
        self.add_set_unit_properties()
        self.add_start_transient_unit(refuse=True)
        res = self.drive("memory_max=1048576", "own_unit=4343", "caps_required=1")
        self.assertEqual(res.returncode, 1, res.stdout)
        first = res.stdout.splitlines()[0]
        self.assertIn("error: systemd: StartTransientUnit(isolate-drive1.scope) failed: Unit "
                      "isolate-drive1.scope already exists.", first)
        self.assertIn("session scope, which logind may stop when this login ends", first)
        res = self.drive("memory_max=1048576", "own_unit=4343")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertIn("StartTransientUnit(isolate-drive1.scope) failed",
                      res.stdout.splitlines()[1])
        # the sandbox stays where it was
        self.assertIn("user-1000.slice/session-7.scope\n", res.stdout)

    def test_pid_that_never_moves(self):
        self.add_set_unit_properties()
        self.add_start_transient_unit(move=False)
        res = self.drive("memory_max=1048576", "own_unit=4343", "timeout_ms=400")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertIn("systemd: pid 4343 is still in /user.slice/user-1000.slice/session-7.scope "
                      "200 ms after isolate-drive1.scope was started", res.stdout.splitlines()[1])
        res = self.drive("memory_max=1048576", "own_unit=4343", "timeout_ms=400",
                         "caps_required=1")
        self.assertEqual(res.returncode, 1, res.stdout)


if __name__ == "__main__":
    unittest.main()
