# isolate: one Makefile at the top. `sudo make demo`, `sudo make check`.
#
# Layout of the build:
#   build/isolate-helper   root helper (open a session)         session-helper/ conf/ client/
#   build/isolate-init     session init, static, libc only      session-helper/session-init.c + client/
#   build/isolatectl       admin CLI                            isolatectl/ conf/ session-helper/ client/
#   build/pam_isolate.so   PAM module, libpam + libc only       pam_module/ client/ conf/lexer.c

PREFIX      ?= /usr/local
DESTDIR     ?=
SYSCONFDIR  ?= /etc
MULTIARCH   := $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
PAMDIR      ?= /lib/$(MULTIARCH)/security
LIBEXECDIR  ?= $(PREFIX)/libexec/isolate
SBINDIR     ?= $(PREFIX)/sbin
MANDIR      ?= $(PREFIX)/share/man
HELPER_PATH ?= $(LIBEXECDIR)/isolate-helper

CC      ?= gcc
PKGS    := libseccomp libcap libconfuse
B       := build

WARN     := -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wformat=2 \
            -Wmissing-prototypes -Wstrict-prototypes -Wno-format-truncation
HARDEN   := -O2 -D_FORTIFY_SOURCE=3 -fstack-protector-strong -fstack-clash-protection -fcf-protection
DEFS     := -D_GNU_SOURCE -DHELPER_PATH='"$(HELPER_PATH)"' \
            -DISOLATE_SYSCONFDIR='"$(SYSCONFDIR)"'
CFLAGS_BASE := $(WARN) $(HARDEN) $(DEFS) -g -MMD -MP
LDHARDEN := -Wl,-z,relro,-z,now -Wl,--as-needed

ifeq ($(SANITIZE),1)
  SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  CFLAGS_BASE := $(filter-out -D_FORTIFY_SOURCE=3,$(CFLAGS_BASE)) -O1
  B       := build-san
  INIT_STATIC :=
else
  SAN     :=
  INIT_STATIC := -static-pie
endif

# libseccomp, libcap and libconfuse are linked statically and libsystemd is loaded with
# dlopen only by the systemd backend (session-helper/sd-bus-dl.c): the helper runs once per
# login, and mapping and relocating shared libraries was most of its start-up time.
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) libsystemd 2>/dev/null)
PKG_LIBS   := -Wl,-Bstatic $(shell pkg-config --libs $(PKGS) 2>/dev/null) -Wl,-Bdynamic
PAM_LIBS   := $(shell pkg-config --libs pam 2>/dev/null || echo -lpam)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

# What runs where, by folder:
#   client/          libc only: runs inside the PAM caller (sshd, su) and isolatectl run;
#                    the helper and the init link the same protocol and utilities
#   session-helper/  the root helper and the session init: namespaces, mounts, cgroups, ...
#   isolatectl/      the admin CLI, one file per command
#   conf/            the config: its keys, parser and policy resolution
CLIENT_SRCS := $(sort $(wildcard client/*.c))
CONF_SRCS   := $(sort $(wildcard conf/*.c))
PROGRAM_MAINS := session-helper/helper.c session-helper/session-init.c
LIB_SRCS    := $(filter-out $(PROGRAM_MAINS),$(sort $(wildcard session-helper/*.c)))
CTL_SRCS    := $(filter-out isolatectl/main.c,$(sort $(wildcard isolatectl/*.c)))
HELPER_SRCS := $(CONF_SRCS) $(LIB_SRCS) $(CLIENT_SRCS)
HELPER_OBJS := $(HELPER_SRCS:%.c=$(B)/obj/%.o)
CORE_OBJS   := $(HELPER_OBJS) $(CTL_SRCS:%.c=$(B)/obj/%.o)
MODULE_SRCS := $(sort $(wildcard pam_module/*.c)) $(CLIENT_SRCS) conf/lexer.c
MODULE_OBJS := $(MODULE_SRCS:%.c=$(B)/pic/%.o)
UNIT_SRCS   := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS   := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)
TEST_TOOLS  := $(B)/tests/reaper $(B)/tests/probe $(B)/tests/isolate-helper-faults
FUZZ_TARGETS := config protocol
FUZZ_REPLAY_BINS := $(FUZZ_TARGETS:%=$(B)/tests/fuzz_replay_%)
FUZZ_REPLAY_OBJS := $(FUZZ_TARGETS:%=$(B)/obj/tests/fuzz/replay-%.o)

PROGRAMS := $(B)/isolate-helper $(B)/isolate-init $(B)/isolatectl $(B)/pam_isolate.so

# Every man page: `make install` installs these, `make man` lints them (and fails on a man
# page of the tree that is not listed here).
MAN_PAGES := conf/isolate.conf.5 pam_module/pam_isolate.8 isolatectl/isolatectl.8
MAN_SECTIONS := $(sort $(subst .,,$(suffix $(MAN_PAGES))))
# the guest test, one stage per Debian release of tests/vm/releases.sh
VMTEST_STAGES := vmtest-bookworm vmtest-trixie vmtest-bookworm-selinux

.PHONY: all deps check check-fast unit man integration vmtest $(VMTEST_STAGES) demo demo-shell \
        install format \
        fuzz fuzz-replay fuzz-seeds bench clean release deb
all: $(PROGRAMS)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(SAN) -fPIE $(PKG_CFLAGS) $(CFLAGS) -c $< -o $@

$(B)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(SAN) -fPIC -fvisibility=hidden $(CFLAGS) -c $< -o $@

$(B)/isolate-helper: $(B)/obj/session-helper/helper.o $(HELPER_OBJS)
	$(CC) $(SAN) -pie $(LDHARDEN) $(LDFLAGS) $^ $(PKG_LIBS) -o $@

$(B)/isolatectl: $(B)/obj/isolatectl/main.o $(CORE_OBJS)
	$(CC) $(SAN) -pie $(LDHARDEN) $(LDFLAGS) $^ $(PKG_LIBS) -o $@

# The session init stays tiny: libc only, static, so that an idle session costs little.
$(B)/isolate-init: $(B)/obj/session-helper/session-init.o $(B)/obj/client/util.o \
		$(B)/obj/client/protocol.o $(B)/obj/session-helper/records.o \
		$(B)/obj/session-helper/egress-log.o
	$(CC) $(SAN) $(INIT_STATIC) $(LDHARDEN) $(LDFLAGS) $^ -o $@

$(B)/pam_isolate.so: $(MODULE_OBJS) pam_module/pam_isolate.map
	$(CC) $(SAN) -shared -Wl,--version-script=pam_module/pam_isolate.map $(LDHARDEN) \
		$(LDFLAGS) $(MODULE_OBJS) $(PAM_LIBS) -o $@

$(UNIT_BINS): $(B)/obj/tests/unit/fake_cgroupfs.o
$(B)/tests/test_%: tests/unit/test_%.c $(CORE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(SAN) -fPIE -pie $(PKG_CFLAGS) -Wno-missing-prototypes \
		-DSRCDIR='"$(CURDIR)"' $(CFLAGS) $< $(B)/obj/tests/unit/fake_cgroupfs.o $(CORE_OBJS) \
		$(PKG_LIBS) $(CMOCKA_LIBS) -o $@

$(B)/tests/%: tests/tools/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(SAN) -fPIE -pie $(CFLAGS) $< -o $@

# The helper with its fault injection compiled in (ISOLATE_TEST_DIE_AT, ISOLATE_TEST_HANG_AT),
# for the tests only: the shipped isolate-helper has none. It finds the session init beside
# itself, so build/tests/isolate-init points at the real one.
$(B)/obj/session-helper/helper-faults.o: session-helper/helper.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(SAN) -fPIE $(PKG_CFLAGS) $(CFLAGS) -DISOLATE_FAULT_INJECTION -c $< -o $@

$(B)/tests/isolate-helper-faults: $(B)/obj/session-helper/helper-faults.o $(HELPER_OBJS) \
		$(B)/tests/isolate-init
	$(CC) $(SAN) -pie $(LDHARDEN) $(LDFLAGS) $(filter %.o,$^) $(PKG_LIBS) -o $@

$(B)/tests/isolate-init: $(B)/isolate-init
	@mkdir -p $(dir $@)
	ln -sfn ../isolate-init $@

# A fuzz target with a main that runs its committed corpus once (tests/fuzz/replay.c): the
# build's compiler and sanitizers, no libFuzzer; a cmocka-style test binary.
$(FUZZ_REPLAY_OBJS): $(B)/obj/tests/fuzz/replay-%.o: tests/fuzz/replay.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(SAN) -fPIE $(CFLAGS) \
		-DFUZZ_CORPUS='"$(CURDIR)/tests/fuzz/corpus-$*"' -c $< -o $@

$(FUZZ_REPLAY_BINS): $(B)/tests/fuzz_replay_%: tests/fuzz/fuzz_%.c $(B)/obj/tests/fuzz/replay-%.o \
		$(CORE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(SAN) -fPIE -pie $(PKG_CFLAGS) -Wno-missing-prototypes $(CFLAGS) \
		$< $(B)/obj/tests/fuzz/replay-$*.o $(CORE_OBJS) $(PKG_LIBS) -o $@

$(B)/tests/gen_protocol_seeds: tests/fuzz/gen_protocol_seeds.c $(B)/obj/client/protocol.o \
		$(B)/obj/client/util.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(SAN) -fPIE -pie $(CFLAGS) $(filter %.c %.o,$^) -o $@

# ---- dependencies: installs what is missing, quietly, once ------------------------------
deps:
	@tests/install-deps.sh

# ---- tests -------------------------------------------------------------------------------
unit: all $(UNIT_BINS)
	@tests/run-unit.sh $(UNIT_BINS)

# Every man page, through groff with all warnings on: any warning fails (tests/results.py man).
man:
	@tests/run-man.sh $(MAN_PAGES)

# Every corpus file of every fuzz target, once.
fuzz-replay: $(FUZZ_REPLAY_BINS)
	@tests/run-unit.sh $(FUZZ_REPLAY_BINS)

# Under SANITIZE=1 the su fd-limit attack (test_pam_su.py) runs the release build: a user's
# setuid su ignores LD_PRELOAD, so an ASan-built module cannot load into it.
ifeq ($(SANITIZE),1)
RELEASE_FOR_TESTS := release
endif
release:
	@$(MAKE) --no-print-directory SANITIZE= all

integration: all $(TEST_TOOLS) $(B)/tests/test_cgroup_systemd $(RELEASE_FOR_TESTS)
	@BUILD=$(B) tests/run-integration.sh

# One guest per Debian release (tests/vm/releases.sh), one after the other, each a stage of
# its own: `make vmtest` ends with each count (tests/check.sh), `make vmtest-trixie` runs one.
# Each guest installs isolate from its Debian package (run.sh builds it with make deb, through
# tests/vm/build-debs.sh); the AppArmor guests run the probe's tcp-fill (phase v2), the
# SELinux one (bookworm-selinux) its own steps (tests/vm/host-steps-selinux.sh).
vmtest:
	@MAKE="$(MAKE)" SANITIZE="$(SANITIZE)" tests/check.sh $(VMTEST_STAGES)

$(VMTEST_STAGES): $(B)/tests/probe
	@BUILD=$(B) VMTEST_RELEASE=$(@:vmtest-%=%) tests/vm/run.sh

# Every stage runs whatever the others did; then one summary, ending with the line
# "N passed, N failed, N skipped" (tests/check.sh). Under SANITIZE=1 the guest runs the
# release build: an ASan-built pam_isolate.so cannot load into the guest's stock sshd.
check-fast: deps
	@MAKE="$(MAKE)" SANITIZE="$(SANITIZE)" tests/check.sh unit fuzz-replay man integration

check: deps
	@MAKE="$(MAKE)" SANITIZE="$(SANITIZE)" tests/check.sh unit fuzz-replay man integration \
		$(VMTEST_STAGES)

# ---- demo ----------------------------------------------------------------------------------
demo: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(B) tests/demo/demo.sh

demo-shell: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(B) tests/demo/demo.sh --shell

bench: deps
	@$(MAKE) --no-print-directory all $(TEST_TOOLS)
	@BUILD=$(B) tests/bench/run.sh

# ---- fuzzing (clang, libFuzzer) ------------------------------------------------------------
# Each target runs FUZZ_SECONDS from its committed corpus (tests/fuzz/corpus-TARGET) plus what
# earlier runs found (tests/fuzz/corpus-run/TARGET, not committed); crashes land in build/fuzz/.
FUZZ_SECONDS ?= 60
FUZZ_CC := clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined $(DEFS)
fuzz: deps
	@mkdir -p build/fuzz $(FUZZ_TARGETS:%=tests/fuzz/corpus-run/%)
	$(FUZZ_CC) $(PKG_CFLAGS) tests/fuzz/fuzz_config.c $(CONF_SRCS) client/util.c \
		$(PKG_LIBS) -o build/fuzz/fuzz_config
	$(FUZZ_CC) tests/fuzz/fuzz_protocol.c client/protocol.c client/util.c \
		-o build/fuzz/fuzz_protocol
	build/fuzz/fuzz_config -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
		-artifact_prefix=build/fuzz/config- tests/fuzz/corpus-run/config tests/fuzz/corpus-config
	build/fuzz/fuzz_protocol -max_total_time=$(FUZZ_SECONDS) -max_len=16384 \
		-artifact_prefix=build/fuzz/protocol- tests/fuzz/corpus-run/protocol \
		tests/fuzz/corpus-protocol

# Rewrites the protocol fuzzer's seeds: every kind of message, as protocol.c encodes it.
fuzz-seeds: $(B)/tests/gen_protocol_seeds
	$(B)/tests/gen_protocol_seeds tests/fuzz/corpus-protocol

# ---- install -------------------------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(PAMDIR) $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(SBINDIR) \
		$(MAN_SECTIONS:%=$(DESTDIR)$(MANDIR)/man%) $(DESTDIR)$(SYSCONFDIR) \
		$(DESTDIR)/usr/share/pam-configs
	install -m 0644 $(B)/pam_isolate.so $(DESTDIR)$(PAMDIR)/pam_isolate.so
	install -m 0755 $(B)/isolate-helper $(DESTDIR)$(LIBEXECDIR)/isolate-helper
	install -m 0755 $(B)/isolate-init $(DESTDIR)$(LIBEXECDIR)/isolate-init
	install -m 0755 $(B)/isolatectl $(DESTDIR)$(SBINDIR)/isolatectl
	$(foreach p,$(MAN_PAGES),install -m 0644 $(p) \
		$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(p)))/$(notdir $(p)) &&) true
	install -m 0644 pam_module/pam-configs/isolate $(DESTDIR)/usr/share/pam-configs/isolate
	install -d $(DESTDIR)/usr/lib/systemd/catalog
	install -m 0644 conf/isolate.catalog $(DESTDIR)/usr/lib/systemd/catalog/isolate.catalog
	install -d $(DESTDIR)/usr/share/isolate/selinux
	install -m 0644 conf/isolate.cil $(DESTDIR)/usr/share/isolate/selinux/isolate.cil
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/isolate.conf ]; then \
		echo "keeping the existing $(DESTDIR)$(SYSCONFDIR)/isolate.conf"; \
	else \
		install -m 0644 -o root -g root conf/isolate.conf $(DESTDIR)$(SYSCONFDIR)/isolate.conf; \
	fi

# ---- Debian package ------------------------------------------------------------------------
# make deb: dpkg-buildpackage -us -uc -b over debian/ (libpam-isolate). It builds in a copy
# of the tree (the files git tracks, plus new ones it does not ignore) under build/deb-src:
# dpkg-buildpackage writes its results to the parent of the tree it builds, which is then
# build/deb-src, never the parent of this checkout. The .deb, the -dbgsym .deb, the
# .buildinfo and the .changes end in build/deb/. build/ itself is not touched otherwise.
# Always a release build with the paths of debian/rules: what this make was given
# (SANITIZE=1, B=, CFLAGS=..., through MAKEFLAGS) does not reach the package's build.
# DEB_VERSION=V builds the package as version V: the copy's debian/changelog gets an entry
# for V on top (the vmtest's upgrade in place installs the tree as V+vmtest1 over itself).
# DEB_SRC and DEB_OUT may be given too (tests/vm/build-debs.sh builds into its run directory).
DEB_SRC := build/deb-src
DEB_OUT := build/deb
DEB_VERSION :=
deb:
	@command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null || \
		{ echo "make deb needs dpkg-dev and debhelper (make deps)" >&2; exit 1; }
	rm -rf $(DEB_SRC) $(DEB_OUT)
	mkdir -p $(DEB_SRC)/isolate $(DEB_OUT)
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		git ls-files -z --cached --others --exclude-standard | \
			xargs -0 -r sh -c 'for f; do [ -e "$$f" ] && printf "%s\0" "$$f"; done; true' sh | \
			tar --null -T - -cf - | tar -C $(DEB_SRC)/isolate -xf -; \
	else \
		tar --exclude=./.git --exclude=./build --exclude=./build-san --exclude=./build-deb \
			--exclude=./tests/vm/cache --exclude=./bench/work -cf - . | \
			tar -C $(DEB_SRC)/isolate -xf -; \
	fi
	if [ -n "$(DEB_VERSION)" ]; then \
		cl=$(DEB_SRC)/isolate/debian/changelog; \
		{ printf '%s (%s) unstable; urgency=medium\n\n  * Built by make deb DEB_VERSION=%s.\n\n -- %s  %s\n\n' \
			"$$(dpkg-parsechangelog -l $$cl -SSource)" '$(DEB_VERSION)' '$(DEB_VERSION)' \
			"$$(dpkg-parsechangelog -l $$cl -SMaintainer)" "$$(LC_ALL=C date -R)"; \
		  cat $$cl; } >$$cl.new && mv $$cl.new $$cl; \
	fi
	cd $(DEB_SRC)/isolate && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u SANITIZE \
		dpkg-buildpackage -us -uc -b --jobs-try=auto
	mv $(DEB_SRC)/*.deb $(DEB_SRC)/*.buildinfo $(DEB_SRC)/*.changes $(DEB_OUT)/
	rm -rf $(DEB_SRC)
	@ls -1 $(DEB_OUT)

format:
	clang-format -i $(wildcard conf/*.[ch] client/*.[ch] session-helper/*.[ch] isolatectl/*.[ch] pam_module/*.[ch] \
		tests/unit/*.[ch] tests/tools/*.c tests/fuzz/*.c tests/bench/*.c)

clean:
	rm -rf build build-san

-include $(shell find $(B) -name '*.d' 2>/dev/null)
