# reftrack - reference trackers in Ceph RADOS and a crash-safe batch journal.
#
#   make            build the library and the tools into build/
#   make test       every test: unit, headers, symbols, valgrind, integration
#                   on a throwaway cluster, then the same under ASan+UBSan
#   make check-faults  the fault suite (message loss, osd pause, OSD
#                   SIGKILL and restart, monitor unreachable) on a throwaway
#                   BlueStore cluster; CI runs it after `make test`
#   make demo       the main job end to end on a throwaway cluster
#   make bench      benchmarks (throughput ratios, peak RSS)
#   make fuzz       each libFuzzer target for FUZZ_TIME (60) seconds
#   make deps       install the Debian packages the build and tests need
#   make install    PREFIX=/usr/local DESTDIR= (make uninstall: the same
#                   variables remove exactly what it wrote)
#
# Every compile and link takes the caller's CPPFLAGS, CFLAGS and LDFLAGS
# (a package build passes dpkg-buildflags' hardening flags that way); the
# libFuzzer build, compiled by clang, takes CPPFLAGS and LDFLAGS.
#
# WERROR=1 makes warnings errors.  It defaults to 1 in a git checkout, where
# development and CI happen, so that no warning gets in; and to 0 in a
# release tree (no .git), so that a newer compiler's new warnings do not
# stop people building a release.  `.ci/run` sets it to 1 explicitly.
#
# The library is built twice from the same objects: libreftrack.a, which
# the tools and tests link, and libreftrack.so.VERSION with the SONAME
# libreftrack.so.MAJOR, which exports only the functions the public headers
# declare with RT_EXTERN (the objects are compiled -fvisibility=hidden).

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
# bash-completion's own directory, moved under this PREFIX (so that a
# PREFIX=/usr install lands where bash-completion looks, and any other
# stays inside its PREFIX).
BC_PREFIX := $(shell pkg-config --variable=prefix bash-completion 2>/dev/null)
BC_DIR := $(shell pkg-config --variable=completionsdir bash-completion 2>/dev/null)
BASHCOMPDIR ?= $(if $(BC_DIR),$(patsubst $(BC_PREFIX)/%,$(PREFIX)/%,$(BC_DIR)),$(DATADIR)/bash-completion/completions)

CC ?= cc
WERROR ?= $(if $(wildcard .git),1,0)
WARNINGS = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           $(if $(filter 1,$(WERROR)),-Werror)
STD = -std=c11 -D_GNU_SOURCE
OPT ?= -O2 -g
CFLAGS ?=

# SANITIZE=1 builds everything with ASan+UBSan into its own tree, so the two
# builds never mix objects.
ifeq ($(SANITIZE),1)
B ?= build-san
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT = -O1 -g
else
B ?= build
SANFLAGS =
endif

ALL_CFLAGS = $(STD) $(WARNINGS) $(OPT) $(SANFLAGS) -fPIC -Iinclude -Isrc/lib \
             $(CPPFLAGS) $(CFLAGS)
LIBS = -lrados -llmdb -lyaml -lcrypto -lz -lpthread -lm
ALL_LDFLAGS = $(SANFLAGS) $(LDFLAGS)
# The tools see the public headers only.
CLI_CFLAGS = $(STD) $(WARNINGS) $(OPT) $(SANFLAGS) -Iinclude $(CPPFLAGS) $(CFLAGS)

# sys/ holds the low-level calls for tools and tests (sys/journal.h says
# what it promises); it is installed and checked like the rest.
TOP_HEADERS = $(wildcard include/reftrack/*.h)
SYS_HEADERS = $(wildcard include/reftrack/sys/*.h)
PUBLIC_HEADERS = $(TOP_HEADERS) $(SYS_HEADERS)
# failpoint.c is the test tree's alone (see HB below).
LIB_SRCS = $(filter-out src/lib/failpoint.c,$(wildcard src/lib/*.c))
LIB_HDRS = $(wildcard src/lib/*.h)
LIB_OBJS = $(LIB_SRCS:src/lib/%.c=$(B)/obj/lib/%.o)

CLI_COMMON_SRCS = $(wildcard src/cli/cli_*.c)
CLI_HDRS = $(wildcard src/cli/*.h)
REFTRACK_SRCS = $(wildcard src/cli/reftrack*.c)
REFTRACKER_SRCS = src/cli/reference_tracker.c
CLI_COMMON_OBJS = $(CLI_COMMON_SRCS:src/cli/%.c=$(B)/obj/cli/%.o)
REFTRACK_OBJS = $(REFTRACK_SRCS:src/cli/%.c=$(B)/obj/cli/%.o)
REFTRACKER_OBJS = $(REFTRACKER_SRCS:src/cli/%.c=$(B)/obj/cli/%.o)

UNIT_SRCS = $(wildcard tests/unit/test_*.c)
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/unit/%)
INTEG_SRCS = $(wildcard tests/integration/test_*.c)
INTEG_BINS = $(INTEG_SRCS:tests/integration/%.c=$(B)/tests/integration/%)
BENCH_SRCS = $(wildcard tests/bench/*.c)
BENCH_BINS = $(BENCH_SRCS:tests/bench/%.c=$(B)/tests/bench/%)

VERSION := $(shell sed -n 's/^\#define RT_VERSION_STRING "\(.*\)"$$/\1/p' include/reftrack/reftrack.h)
# The SONAME changes with the major version: bump it on every ABI break.
SO_MAJOR = $(firstword $(subst ., ,$(VERSION)))
LIB_SONAME = libreftrack.so.$(SO_MAJOR)
LIB_A = $(B)/libreftrack.a
LIB_SO = $(B)/libreftrack.so.$(VERSION)
TOOLS = $(B)/reftrack $(B)/reference-tracker

# The test tree $(HB): the library and the tools with the test hooks
# (-DRT_TEST_HOOKS: failpoints, src/lib/failpoint.h, and the journal's
# knobs), which the crash tests and the unit tests need and nothing that
# ships has.  Only the sources that use a hook (found by the names below)
# are compiled again for it; every other object is the shipped build's.
HB = $(B)/hooks
HOOK_SRCS := $(shell grep -l -i -E 'rt_test_hooks|failpoint|rt__test_' \
	src/lib/*.c src/cli/*.c)
hook_objs = $(foreach s,$(1),$(if $(filter $(s),$(HOOK_SRCS)),$(HB),$(B))/obj/$(patsubst src/%.c,%.o,$(s)))
HOOK_LIB_A = $(HB)/libreftrack.a
HOOK_TOOLS = $(HB)/reftrack $(HB)/reference-tracker

.PHONY: all test test-unit test-headers test-symbols test-valgrind \
        test-integration test-sanitize check-faults demo bench deps install \
        uninstall clean fuzz check-fuzz fuzz-build fuzz-seeds

all: $(LIB_A) $(LIB_SO) $(TOOLS)

$(B)/obj/lib/%.o: src/lib/%.c $(PUBLIC_HEADERS) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) -fvisibility=hidden $(ALL_CFLAGS) -c -o $@ $<

$(B)/obj/cli/%.o: src/cli/%.c $(PUBLIC_HEADERS) $(CLI_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CLI_CFLAGS) -c -o $@ $<

$(HB)/obj/lib/%.o: src/lib/%.c $(PUBLIC_HEADERS) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DRT_TEST_HOOKS -c -o $@ $<

$(HB)/obj/cli/%.o: src/cli/%.c $(PUBLIC_HEADERS) $(CLI_HDRS) src/lib/failpoint.h
	@mkdir -p $(@D)
	$(CC) $(CLI_CFLAGS) -DRT_TEST_HOOKS -c -o $@ $<

$(LIB_A): $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

# The shared library names its own dependencies (-z defs: nothing left
# undefined), so that a program links it with -lreftrack alone.  The two
# links are those `make install` writes too: the SONAME's, which the
# dynamic loader looks for, and the bare name, which the linker looks for.
$(LIB_SO): $(LIB_OBJS)
	$(CC) -shared -Wl,-soname,$(LIB_SONAME) -Wl,-z,defs $(ALL_LDFLAGS) \
		-o $@ $(LIB_OBJS) $(LIBS)
	ln -sf $(notdir $@) $(B)/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $(B)/libreftrack.so

$(B)/reftrack: $(REFTRACK_OBJS) $(CLI_COMMON_OBJS) $(LIB_A)
	$(CC) $(ALL_LDFLAGS) -o $@ $(REFTRACK_OBJS) $(CLI_COMMON_OBJS) $(LIB_A) $(LIBS)

$(B)/reference-tracker: $(REFTRACKER_OBJS) $(CLI_COMMON_OBJS) $(LIB_A)
	$(CC) $(ALL_LDFLAGS) -o $@ $(REFTRACKER_OBJS) $(CLI_COMMON_OBJS) $(LIB_A) $(LIBS)

$(HOOK_LIB_A): $(call hook_objs,$(LIB_SRCS) src/lib/failpoint.c)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(HB)/reftrack: $(call hook_objs,$(REFTRACK_SRCS) $(CLI_COMMON_SRCS)) $(HOOK_LIB_A)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(HB)/reference-tracker: $(call hook_objs,$(REFTRACKER_SRCS) $(CLI_COMMON_SRCS)) $(HOOK_LIB_A)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# Tests may include private module headers (src/lib) to test pure code.
# The unit tests may set the test hooks, so they link the test tree's
# library; the others (integration, bench, fuzz seeds) the shipped one.
$(B)/tests/unit/%: tests/unit/%.c tests/check.h $(HOOK_LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DRT_TEST_HOOKS -Itests $(ALL_LDFLAGS) -o $@ $< $(HOOK_LIB_A) $(LIBS)

$(B)/tests/%: tests/%.c tests/check.h $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests $(ALL_LDFLAGS) -o $@ $< $(LIB_A) $(LIBS)

test: deps
	$(MAKE) test-unit test-headers test-symbols test-valgrind test-integration
	$(MAKE) SANITIZE=1 test-sanitize

# The tests run the shipped tools ($(B)); those that crash the process at
# a failpoint run the test tree's ($(B)/hooks, tests/testlib.sh).
test-unit: $(UNIT_BINS) $(TOOLS) $(HOOK_TOOLS)
	@RT_BUILD=$(B) tests/run-suite.sh unit $(UNIT_BINS) $(wildcard tests/unit/*.sh)

# Every public header compiles on its own, pedantically.
test-headers:
	@for h in $(PUBLIC_HEADERS); do \
		printf '#include "%s"\nint main(void) { return 0; }\n' "$$h" | \
		$(CC) -std=c11 -pedantic -Wall -Wextra -Werror -I. -x c -o /dev/null - || exit 1; \
	done; echo "headers: $(words $(PUBLIC_HEADERS)) passed, 0 failed"

# The library exports rt_ symbols only; the shared one exactly the public
# ones, under its SONAME (tests/symbols.sh).
test-symbols: $(LIB_A) $(LIB_SO)
	@tests/symbols.sh $(LIB_A) $(LIB_SO) $(LIB_SONAME)

test-valgrind: $(UNIT_BINS)
	@tests/run-suite.sh valgrind $(UNIT_BINS)

test-integration: $(INTEG_BINS) $(TOOLS) $(HOOK_TOOLS)
	@tests/run-integration.sh $(B)

# Once, in the plain build: the faults are the cluster's, not the code's,
# and the suite takes minutes (tests/faults/faultlib.sh).  BlueStore starts
# and restarts slowly on a loaded machine (a minute at a load of 25 on two
# cores), hence the longer bounds.
check-faults: $(TOOLS)
	@RT_TEST_SUITE=faults RT_CLUSTER_STORE=bluestore \
	RT_CLUSTER_TIMEOUT=$${RT_CLUSTER_TIMEOUT:-180} \
	RT_TEST_TIMEOUT=$${RT_TEST_TIMEOUT:-900} tests/run-integration.sh $(B)

# Runs inside the SANITIZE=1 tree (see `test`).
test-sanitize: $(UNIT_BINS) $(INTEG_BINS) $(TOOLS) $(HOOK_TOOLS)
	@RT_BUILD=$(B) tests/run-suite.sh unit $(UNIT_BINS) $(wildcard tests/unit/*.sh)
	@tests/run-integration.sh $(B)

# The demo tells its own story: installing and building go to logs, shown
# only when they fail.
demo:
	@mkdir -p $(B)
	@echo "demo: the Debian packages it needs (log: $(B)/demo-deps.log)"
	@tests/deps.sh >$(B)/demo-deps.log 2>&1 || \
		{ cat $(B)/demo-deps.log; exit 1; }
	@echo "demo: building reftrack (log: $(B)/demo-build.log)"
	@$(MAKE) --no-print-directory all >$(B)/demo-build.log 2>&1 || \
		{ tail -n 40 $(B)/demo-build.log; exit 1; }
	@examples/demo.sh $(B)

# The probes share headers of their own besides check.h.
$(BENCH_BINS): $(wildcard tests/bench/*.h)

bench: deps all $(BENCH_BINS)
	@tests/bench/run.sh $(B)

deps:
	@tests/deps.sh

# What `make install` puts beside the tools and the library.
MAN1_PAGES = src/man/reftrack.1 src/man/reference-tracker.1
MAN5_PAGES = src/man/reftrack-batch.5
SCHEMAS = $(wildcard schemas/*.json)

# reftrack.pc is written straight into DESTDIR, never into the tree, as its
# paths depend on this install's PREFIX.  Paths under PREFIX are written
# relative to ${prefix}, so that pkg-config can relocate them.  A program
# linking the shared library needs -lreftrack alone; one linking the archive
# needs LIBS too, which `pkg-config --static` adds: by module name where
# the dependency ships a .pc file (Debian's liblmdb-dev, libyaml-dev,
# libssl-dev and zlib1g-dev do), by -l flag where it does not (librados;
# libpthread and libm come with libc).
PC_PATH = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))
PC_REQUIRES_PRIVATE = lmdb yaml-0.1 libcrypto zlib
PC_LIBS_PRIVATE = -lrados -lpthread -lm

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(INCLUDEDIR)/reftrack/sys $(DESTDIR)$(DATADIR)/reftrack/schemas \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5
	install -m 755 $(TOOLS) $(DESTDIR)$(BINDIR)/
	install -m 644 $(LIB_A) $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf $(notdir $(LIB_SO)) $(DESTDIR)$(LIBDIR)/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $(DESTDIR)$(LIBDIR)/libreftrack.so
	install -m 644 $(TOP_HEADERS) $(DESTDIR)$(INCLUDEDIR)/reftrack/
	install -m 644 $(SYS_HEADERS) $(DESTDIR)$(INCLUDEDIR)/reftrack/sys/
	install -m 644 $(SCHEMAS) $(DESTDIR)$(DATADIR)/reftrack/schemas/
	install -m 644 $(MAN1_PAGES) $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(MAN5_PAGES) $(DESTDIR)$(MANDIR)/man5/
	install -d $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(BASHCOMPDIR)
	install -m 644 src/completion/reftrack.bash $(DESTDIR)$(BASHCOMPDIR)/reftrack
	# The units run the reftrack this install puts in BINDIR.
	sed -e 's|/usr/local/bin/reftrack|$(BINDIR)/reftrack|' \
	    examples/reftrack-run.service >$(DESTDIR)$(SYSTEMDUNITDIR)/reftrack-run.service
	install -m 644 examples/reftrack-run.timer $(DESTDIR)$(SYSTEMDUNITDIR)/
	chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/reftrack-run.service
	sed -e 's|@PREFIX@|$(PREFIX)|' \
	    -e 's|@LIBDIR@|$(call PC_PATH,$(LIBDIR))|' \
	    -e 's|@INCLUDEDIR@|$(call PC_PATH,$(INCLUDEDIR))|' \
	    -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@REQUIRES_PRIVATE@|$(PC_REQUIRES_PRIVATE)|' \
	    -e 's|@LIBS_PRIVATE@|$(PC_LIBS_PRIVATE)|' \
	    src/reftrack.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/reftrack.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/reftrack.pc

# libFuzzer targets (tests/fuzz/fuzz_*.c), one per parser.  They need clang:
# the library is compiled again with clang and the fuzzer's coverage and
# ASan+UBSan into its own tree, and only the targets link libFuzzer's main.
# `make fuzz` runs each for FUZZ_TIME seconds from a copy of its corpus
# (tests/fuzz/<target>/); a crash fails it and names the reproducer.
FUZZ_B ?= build-fuzz
FUZZ_CC ?= clang-14
FUZZ_TIME ?= 60
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined \
           -fno-omit-frame-pointer
FUZZ_CFLAGS = $(STD) $(WARNINGS) -O1 -g $(FUZZ_SAN) -Iinclude -Isrc/lib \
              $(CPPFLAGS)
FUZZ_SRCS = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS = $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_B)/%)
FUZZ_LIB = $(FUZZ_B)/libreftrack-fuzz.a

$(FUZZ_B)/obj/%.o: src/lib/%.c $(PUBLIC_HEADERS) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_LIB): $(LIB_SRCS:src/lib/%.c=$(FUZZ_B)/obj/%.o)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_B)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_input.h $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Itests/fuzz $(LDFLAGS) \
		-o $@ $< -Wl,--as-needed $(FUZZ_LIB) $(LIBS)

fuzz-build: $(FUZZ_BINS) $(B)/tests/fuzz/journal_seeds

fuzz check-fuzz: deps fuzz-build
	@tests/fuzz/run.sh $(FUZZ_B) $(B) $(FUZZ_TIME)

# Regenerates the journal codec's committed seeds from its encoder (run it
# after a change of the record format; the records of the real journal it
# writes hold fresh ids and times, so a rerun renames those seeds).
fuzz-seeds: $(B)/tests/fuzz/journal_seeds
	rm -rf tests/fuzz/journal
	$(B)/tests/fuzz/journal_seeds tests/fuzz/journal tests/data/batch/valid/*.yaml

# Removes exactly what install wrote (directories only when left empty).
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/reftrack $(DESTDIR)$(BINDIR)/reference-tracker \
		$(DESTDIR)$(LIBDIR)/libreftrack.a $(DESTDIR)$(LIBDIR)/$(notdir $(LIB_SO)) \
		$(DESTDIR)$(LIBDIR)/$(LIB_SONAME) $(DESTDIR)$(LIBDIR)/libreftrack.so \
		$(DESTDIR)$(PKGCONFIGDIR)/reftrack.pc \
		$(addprefix $(DESTDIR)$(INCLUDEDIR)/reftrack/,$(notdir $(TOP_HEADERS))) \
		$(addprefix $(DESTDIR)$(INCLUDEDIR)/reftrack/sys/,$(notdir $(SYS_HEADERS))) \
		$(addprefix $(DESTDIR)$(DATADIR)/reftrack/schemas/,$(notdir $(SCHEMAS))) \
		$(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MAN1_PAGES))) \
		$(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(MAN5_PAGES))) \
		$(DESTDIR)$(SYSTEMDUNITDIR)/reftrack-run.service \
		$(DESTDIR)$(SYSTEMDUNITDIR)/reftrack-run.timer \
		$(DESTDIR)$(BASHCOMPDIR)/reftrack
	-rmdir $(DESTDIR)$(INCLUDEDIR)/reftrack/sys $(DESTDIR)$(INCLUDEDIR)/reftrack \
		$(DESTDIR)$(DATADIR)/reftrack/schemas \
		$(DESTDIR)$(DATADIR)/reftrack 2>/dev/null

clean:
	rm -rf build build-san $(FUZZ_B)
