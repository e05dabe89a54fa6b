#!/bin/sh
# Runs every cmocka unit test binary given; each prints its own summary. Fails if any fails.
rc=0
for t in "$@"; do
	echo "== $t"
	"$t" || rc=1
done
exit $rc
