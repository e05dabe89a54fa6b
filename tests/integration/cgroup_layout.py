"""The cgroup layout of this host, for the tests that read real cgroup files: pure v2 (one
cgroup2 mount at /sys/fs/cgroup, the files named memory.max, io.max, cpu.max...) or v1, one
mount per hierarchy (memory, pids, blkio; cpu alone or co-mounted as cpu,cpuacct; a hybrid
host adds a cgroup2 mount without controllers at /sys/fs/cgroup/unified)."""

import os

CGROUP_FS = "/sys/fs/cgroup"


def _mounts():
    """[(mount dir, fstype, {controllers})] of every cgroupfs mount of this process."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            fstype, options = fields[sep + 1], fields[sep + 3]
            if fstype == "cgroup2":
                out.append((fields[4], fstype, set()))
            elif fstype == "cgroup":
                out.append((fields[4], fstype, {o for o in options.split(",")
                                                if o not in ("rw", "ro") and "=" not in o}))
    return out


def unified():
    """True when /sys/fs/cgroup itself is the cgroup2 hierarchy (no v1 controllers)."""
    return any(mnt == CGROUP_FS and fstype == "cgroup2" for mnt, fstype, _ in _mounts())


def hierarchy(controller):
    """The mount dir that holds controller: /sys/fs/cgroup on pure v2; on v1 the hierarchy
    whose mount options name it (/sys/fs/cgroup/memory, /sys/fs/cgroup/cpu,cpuacct...).
    v1's blkio is v2's io: either name is accepted. None when the host has no such one."""
    if unified():
        return CGROUP_FS
    names = {controller} | ({"blkio"} if controller == "io" else set())
    for mnt, fstype, controllers in _mounts():
        if fstype == "cgroup" and names & controllers:
            return mnt
    return None


def swap_accounted():
    """Whether the memory controller accounts swap here (swap_max can be applied): v1 has
    memory.memsw.* in the memory hierarchy's root; v2 has memory.swap.max in every non-root
    cgroup with the memory controller (the root has none), looked for one level down."""
    mem = hierarchy("memory")
    if mem is None:
        return False
    if not unified():
        return os.path.exists(os.path.join(mem, "memory.memsw.limit_in_bytes"))
    for entry in os.scandir(mem):
        if entry.is_dir() and os.path.exists(os.path.join(entry.path, "memory.current")):
            return os.path.exists(os.path.join(entry.path, "memory.swap.max"))
    raise AssertionError(f"no child cgroup with the memory controller under {mem}: cannot "
                         "tell whether swap is accounted")


def swap_in_use():
    """Whether any swap area is active (/proc/swaps lists more than its header)."""
    with open("/proc/swaps") as f:
        return len(f.read().splitlines()) > 1
