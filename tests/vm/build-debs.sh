#!/bin/bash
# build-debs.sh OUTDIR: the packages the guest test installs, built on the host (run.sh runs
# this in the background while the guest boots; OUTDIR must exist):
#   OUTDIR/install/  libpam-isolate of this tree, as `make deb` builds it; build/deb's is
#                    reused when it is newer than every file of the tree (the rule
#                    tests/integration/test_package.py follows), else make deb builds it
#                    there. OUTDIR/install.ready says it is there.
#   OUTDIR/upgrade/  the same tree as version V+vmtest1 (make deb DEB_VERSION=): the package
#                    the guest upgrades to in place under a live session. Built once and kept
#                    in build/deb-vmtest-upgrade, reused (by the next guest) while it is newer
#                    than every file of the tree, as build/deb's. OUTDIR/upgrade.ready says it
#                    is there.
# Only the package itself is copied (not its -dbgsym, .buildinfo, .changes).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:?usage: build-debs.sh OUTDIR}
PKG=libpam-isolate
say() { printf 'build-debs: %s\n' "$*"; }

# the make deb of the caller's make (make vmtest) must not see its MAKEFLAGS: a job server
# it does not share, and its command line's B=, SANITIZE=
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$repo" --no-print-directory "$@"; }

# fresh DIR: DIR holds one package, newer than every file make deb would copy
fresh() {
	local debs newest
	debs=("$1/${PKG}_"*.deb)
	[ "${#debs[@]}" = 1 ] && [ -f "${debs[0]}" ] || return 1
	newest=$(cd "$repo" && { git ls-files -z --cached --others --exclude-standard |
		xargs -0 -r stat -c %Y -- 2>/dev/null || true; } | sort -n | tail -n 1)
	[ -n "$newest" ] && [ "$(stat -c %Y "${debs[0]}")" -gt "$newest" ]
}

t0=$(date +%s)
mkdir -p "$out/install" "$out/upgrade"
if fresh "$repo/build/deb"; then
	say "reusing $(ls "$repo/build/deb/${PKG}_"*.deb) (newer than the tree)"
else
	say "make deb"
	mk deb
fi
cp "$repo/build/deb/${PKG}_"*.deb "$out/install/"
touch "$out/install.ready"
say "install: $(ls "$out/install") after $(($(date +%s) - t0)) s"

# the upgrade: a make deb of its own (about 20 s, on the cores the booting guest needs too),
# so kept for the next guest (make vmtest runs two), and built at the lowest priority: the
# guest needs it only in its last phase, and meanwhile qemu needs the cores. It goes into build/ only whole (a
# rename), so a run stopped halfway leaves nothing a later run would take for fresh, and
# dated when its build began: a file of the tree changed during the build makes it stale.
upgrade_dir=$repo/build/deb-vmtest-upgrade
version=$(dpkg-parsechangelog -l "$repo/debian/changelog" -SVersion)
if fresh "$upgrade_dir" && [ "$(dpkg-deb -f "$upgrade_dir/${PKG}_"*.deb Version)" = "$version+vmtest1" ]; then
	say "reusing $(ls "$upgrade_dir/${PKG}_"*.deb) (newer than the tree)"
else
	began=$(date +%s)
	# (mk's make, under nice)
	nice -n 19 env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$repo" --no-print-directory \
		deb DEB_SRC="$out/upgrade-src" DEB_OUT="$out/upgrade-all" DEB_VERSION="$version+vmtest1"
	rm -rf "$upgrade_dir" "$upgrade_dir.new"
	mkdir -p "$upgrade_dir.new"
	cp "$out/upgrade-all/${PKG}_"*.deb "$upgrade_dir.new/"
	touch -d "@$began" "$upgrade_dir.new/${PKG}_"*.deb
	mv "$upgrade_dir.new" "$upgrade_dir"
	rm -rf "$out/upgrade-all"
fi
cp "$upgrade_dir/${PKG}_"*.deb "$out/upgrade/"
touch "$out/upgrade.ready"
say "upgrade: $(ls "$out/upgrade") after $(($(date +%s) - t0)) s"
