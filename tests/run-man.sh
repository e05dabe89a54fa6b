#!/bin/sh
# Lints every man page given (the Makefile's MAN_PAGES) with `groff -t -ww -z -man`, one
# record per page for the summary of make check (tests/results.py): any groff warning, a .TH
# that does not name its file, or a page of ours named in one but not listed, fails the page;
# a man page found in the tree but not listed fails too.
exec /usr/bin/python3 "$(dirname "$0")/results.py" man "$@"
