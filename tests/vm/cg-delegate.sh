#!/bin/sh
# cg-delegate.sh: main process of isolate-vmtest-cg.service (Delegate=yes), started by
# guest-test.sh for the v2 phase. It gives isolate a cgroup tree of its own under systemd:
# the service's one process moves to a child cgroup (no process may sit in a cgroup that
# enables controllers for its children), then memory, io and pids are enabled for the
# children, where isolate's cgroup_root ("isolate") will be.
set -eu
cg=/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)
mkdir -p "$cg/keep"
echo $$ >"$cg/keep/cgroup.procs"
echo "+memory +io +pids" >"$cg/cgroup.subtree_control"
exec sleep infinity
