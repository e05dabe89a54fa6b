#!/bin/bash
# build-debs.sh OUTDIR: the packages the guest test installs, built on the host (run.sh runs
# this in the background while the guest boots; OUTDIR must exist):
#   OUTDIR/install/  libpam-isolate of this tree, as `make deb` builds it; build/deb's is
#                    reused when it is newer than every file of the tree (the rule
#                    tests/integration/test_package.py follows), else make deb builds it
#                    there. OUTDIR/install.ready says it is there.
#   OUTDIR/upgrade/  the same tree as version V+vmtest1 (make deb DEB_VERSION=, built in
#                    OUTDIR): the package the guest upgrades to in place under a live session.
#                    OUTDIR/upgrade.ready says it is there.
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

# fresh: build/deb holds one package, newer than every file make deb would copy
fresh() {
	local debs newest
	debs=("$repo/build/deb/${PKG}_"*.deb)
	[ "${#debs[@]}" = 1 ] && [ -f "${debs[0]}" ] || return 1
	newest=$(cd "$repo" && { git ls-files -z --cached --others --exclude-standard |
		xargs -0 -r stat -c %Y -- 2>/dev/null || true; } | sort -n | tail -n 1)
	[ -n "$newest" ] && [ "$(stat -c %Y "${debs[0]}")" -gt "$newest" ]
}

t0=$(date +%s)
mkdir -p "$out/install" "$out/upgrade"
if fresh; then
	say "reusing $(ls "$repo/build/deb/${PKG}_"*.deb) (newer than the tree)"
else
	say "make deb"
	mk deb
fi
cp "$repo/build/deb/${PKG}_"*.deb "$out/install/"
touch "$out/install.ready"
say "install: $(ls "$out/install") after $(($(date +%s) - t0)) s"

version=$(dpkg-parsechangelog -l "$repo/debian/changelog" -SVersion)
mk deb DEB_SRC="$out/upgrade-src" DEB_OUT="$out/upgrade-all" DEB_VERSION="$version+vmtest1"
cp "$out/upgrade-all/${PKG}_"*.deb "$out/upgrade/"
rm -rf "$out/upgrade-all"
touch "$out/upgrade.ready"
say "upgrade: $(ls "$out/upgrade") after $(($(date +%s) - t0)) s"
