#!/bin/sh
# `make install`: with DESTDIR it writes only under DESTDIR (checked by
# comparing mtimes and, where strace works, by tracing every file-changing
# system call), it installs exactly the expected files, and a program built
# through the installed reftrack.pc, with and without DESTDIR, links and
# runs against the installed library: with `pkg-config --libs` against the
# shared one (NEEDED libreftrack.so.MAJOR), with `pkg-config --static
# --libs` against the archive (no NEEDED libreftrack).  `make uninstall`
# then removes all of it.
# Run from the repository root; installs the build in $RT_BUILD.
set -u
root=$(pwd -P)
build=${RT_BUILD:-build}
. "$(dirname "$0")/../testlib.sh"
tl_tmpdir rt-install

if [ ! -f "$build/libreftrack.a" ]; then
	echo "no $build/libreftrack.a (set RT_BUILD)" >&2
	failed=1
	finish install
fi
version=$(sed -n 's/^#define RT_VERSION_STRING "\(.*\)"$/\1/p' \
	include/reftrack/reftrack.h)
soname=libreftrack.so.${version%%.*}

# Install the tree RT_BUILD names, built the way it was: a sanitizer build
# must not be relinked without its flags, and its consumers need the
# sanitizer runtimes.  MAKEFLAGS is dropped so that variables given to an
# outer make (PREFIX, DESTDIR, ...) cannot leak into these runs.
san=0
sanflags=
if nm "$build/libreftrack.a" 2>/dev/null | grep -q '__asan_'; then
	san=1
	sanflags=-fsanitize=address,undefined
fi
mk() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		make --no-print-directory -C "$root" B="$build" SANITIZE=$san "$@"
}

# Built first, so that what follows only installs.
if ! mk all >"$tmp/build.log" 2>&1; then
	cat "$tmp/build.log" >&2
	fail "make all"
	finish install
fi

# ---- DESTDIR with the default PREFIX -------------------------------------
dest=$tmp/dest
touch "$tmp/stamp"
if mk install DESTDIR="$dest" >"$tmp/install.log" 2>&1; then
	pass
else
	cat "$tmp/install.log" >&2
	fail "make install DESTDIR=$dest"
	finish install
fi

# Exactly the expected files, under DESTDIR/usr/local.
{
	echo usr/local/bin/reftrack
	echo usr/local/bin/reference-tracker
	echo usr/local/lib/libreftrack.a
	echo usr/local/lib/libreftrack.so
	echo "usr/local/lib/$soname"
	echo "usr/local/lib/libreftrack.so.$version"
	echo usr/local/lib/pkgconfig/reftrack.pc
	for h in include/reftrack/*.h include/reftrack/sys/*.h; do
		echo "usr/local/$h"
	done
	for s in schemas/*.json; do
		echo "usr/local/share/reftrack/schemas/${s#schemas/}"
	done
	echo usr/local/share/man/man1/reftrack.1
	echo usr/local/share/man/man1/reference-tracker.1
	echo usr/local/share/man/man5/reftrack-batch.5
	echo usr/local/lib/systemd/system/reftrack-run.service
	echo usr/local/lib/systemd/system/reftrack-run.timer
	echo usr/local/share/bash-completion/completions/reftrack
} | sort >"$tmp/want"
(cd "$dest" && find . ! -type d | sed 's|^\./||' | sort) >"$tmp/got"
if cmp -s "$tmp/want" "$tmp/got"; then
	pass
else
	diff "$tmp/want" "$tmp/got" >&2
	fail "installed files differ from the expected list (- expected, + installed)"
fi
bad=$(cd "$dest/usr/local" && find bin -type f ! -perm 755;
	find lib include share -type f ! -perm 644)
[ -z "$bad" ] && pass || fail "wrong modes: $bad"
# The links are relative, so that they hold wherever DESTDIR is unpacked.
[ "$(readlink "$dest/usr/local/lib/libreftrack.so")" = "$soname" ] && pass ||
	fail "libreftrack.so does not link to $soname"
[ "$(readlink "$dest/usr/local/lib/$soname")" = "libreftrack.so.$version" ] &&
	pass || fail "$soname does not link to libreftrack.so.$version"
for f in include/reftrack/*.h include/reftrack/sys/*.h schemas/*.json; do
	case $f in
	include/*) inst=$dest/usr/local/$f ;;
	*) inst=$dest/usr/local/share/reftrack/schemas/${f#schemas/} ;;
	esac
	cmp -s "$f" "$inst" || fail "$inst differs from $f"
done

# The service runs the installed reftrack, not a hard-coded path.
grep -q "^ExecStart=/usr/local/bin/reftrack run" \
	"$dest/usr/local/lib/systemd/system/reftrack-run.service" && pass ||
	fail "the installed service does not run BINDIR's reftrack"
bash -n "$dest/usr/local/share/bash-completion/completions/reftrack" && pass ||
	fail "the completion file is not valid bash"

# Nothing changed outside DESTDIR: not the tree (the build is up to date),
# not PREFIX itself.  Objects and test programs are left out: under
# `make -j test` other targets may be compiling them right now.
changed=$(find "$root" -newer "$tmp/stamp" ! -path "$root/.git/*" \
	! -path "$root/build*/obj/*" ! -path "$root/build*/tests/*" 2>/dev/null)
[ -z "$changed" ] && pass || fail "make install changed the tree: $changed"
if [ -d /usr/local ]; then
	changed=$(find /usr/local -newer "$tmp/stamp" 2>/dev/null)
	[ -z "$changed" ] && pass || fail "make install wrote under /usr/local: $changed"
fi

# The same, caught in the act: every system call that creates, changes or
# removes a file names a path under DESTDIR (or a device, such as
# /dev/null).  One trace file per process (-ff) keeps calls whole; -y shows
# the directory behind each descriptor; a per-process working directory,
# inherited across clone and moved by chdir (install -d works that way),
# resolves the relative paths.  A relative path left over lies in the tree,
# so it counts as outside.
cat >"$tmp/writes.py" <<'EOF'
import glob, os, re, sys

trace, start_cwd, dest = sys.argv[1:4]
WRITES = {"mkdir", "mkdirat", "rename", "renameat", "renameat2", "unlink",
          "unlinkat", "rmdir", "link", "linkat", "symlink", "symlinkat",
          "chmod", "fchmodat", "chown", "lchown", "fchownat", "utime",
          "utimes", "utimensat", "futimesat", "truncate", "mknod", "mknodat",
          "creat"}
OPENS = {"open", "openat", "openat2"}
CALL = re.compile(r'^(\w+)\((.*)\)\s+=\s+(-?\d+)')
# With -y a descriptor, AT_FDCWD too, is followed by <its path>.
AT_PATH = re.compile(r'(?:AT_FDCWD|\d+)(?:<([^>]*)>)?, "([^"]*)"')
STRING = re.compile(r'"([^"]*)"')
outside, nwrites = set(), 0

def paths(name, args, cwd):
    if name.endswith(("at", "at2")):
        for fdpath, p in AT_PATH.findall(args):
            yield os.path.join(fdpath or cwd, p)
    else:
        for p in STRING.findall(args):
            yield os.path.join(cwd, p)

def follow(pid, cwd):
    global nwrites
    try:
        with open("%s.%s" % (trace, pid), errors="replace") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return
    for line in lines:
        m = CALL.match(line)
        if not m or int(m.group(3)) < 0:
            continue  # failed calls changed nothing
        name, args, ret = m.groups()
        if name == "chdir":
            cwd = os.path.normpath(os.path.join(cwd, STRING.findall(args)[0]))
        elif name == "fchdir":
            cwd = re.findall(r'<([^>]*)>', args)[0]
        elif name in ("clone", "clone3", "fork", "vfork"):
            follow(ret, cwd)
        elif name in WRITES or (name in OPENS and
                                re.search(r'O_(WRONLY|RDWR|CREAT|TRUNC)', args)):
            for p in map(os.path.normpath, paths(name, args, cwd)):
                nwrites += 1
                if not (p == dest or p.startswith(dest + "/") or
                        p.startswith("/dev/")):
                    outside.add(p)

# The first process is the one no other one started.
pids = {f.rsplit(".", 1)[1] for f in glob.glob(trace + ".*")}
for f in glob.glob(trace + ".*"):
    with open(f, errors="replace") as t:
        pids -= set(re.findall(r'^(?:clone3?|v?fork)\(.*\)\s+=\s+(\d+)', t.read(), re.M))
for pid in pids:
    follow(pid, start_cwd)
for p in sorted(outside):
    print(p)
# No write seen at all means the trace was not understood.
sys.exit(2 if nwrites == 0 else 1 if outside else 0)
EOF
if strace -f -qq -o /dev/null true 2>/dev/null; then
	dest2=$tmp/dest2
	mkdir "$tmp/trace"
	if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		strace -ff -qq -y -s 4096 -e trace=%file,%process,fchdir \
		-e signal=none -o "$tmp/trace/t" make --no-print-directory \
		-C "$root" B="$build" SANITIZE="$san" install DESTDIR="$dest2" \
		>"$tmp/install2.log" 2>&1
	then
		pass
	else
		cat "$tmp/install2.log" >&2
		fail "make install under strace"
	fi
	"${PYTHON:-python3}" "$tmp/writes.py" "$tmp/trace/t" "$root" "$dest2" \
		>"$tmp/outside"
	case $? in
	0) pass ;;
	2) fail "strace saw no writes at all: the trace is not being read right" ;;
	*) fail "make install DESTDIR=$dest2 wrote outside it: $(cat "$tmp/outside")" ;;
	esac
else
	echo "note: strace cannot trace here; the mtime checks stand alone" >&2
fi

# ---- a program built through pkg-config -----------------------------------
# It submits a batch (libyaml, libcrypto's SHA-256, LMDB) and links, without
# calling it, the cluster connection (librados): a Libs line short of any
# library fails to link.
cat >"$tmp/consumer.c" <<'EOF'
#include <stdio.h>
#include <reftrack/journal.h>
#include <reftrack/replay.h>

int main(int argc, char **argv)
{
	rt_journal *j = NULL;
	rt_submit_result res;
	int rc;

	if (argc > 3) {
		rt_cluster *c = NULL;

		rt_cluster_connect(&c, NULL);
		rt_cluster_close(c);
	}
	rc = rt_journal_open(&j, argv[1], 0);
	if (rc == 0)
		rc = rt_journal_submit(&res, j, argv[2], NULL, 0);
	if (rc != 0) {
		fprintf(stderr, "%s\n", j ? rt_journal_errmsg(j) : rt_strerror(rc));
		rt_journal_close(j);
		return 1;
	}
	printf("version=%s entries=%llu id=%s\n", RT_VERSION_STRING,
	       (unsigned long long)res.nentries, res.batch_id);
	rt_journal_close(j);
	return 0;
}
EOF
batch=examples/small-add.yaml
want_id=$(sha256sum "$batch" | cut -d' ' -f1)
want_n=$(grep -c 'tracker:' "$batch")

# try NAME LIBDIR PKG-CONFIG-ENV... : builds and runs the consumer with the
# flags pkg-config gives under that environment, for the library installed
# in LIBDIR: plain, linked to the shared library; --static, linked to the
# archive.  The linker prefers libreftrack.so to libreftrack.a for
# -lreftrack, so a program that wants the archive while its dependencies
# stay shared (librados ships no archive) says so around -lreftrack (see
# README, "Install"); that the archive then links proves the --static flags
# carry everything it needs, which the plain flags do not.
try() {
	name=$1
	libdir=$2
	shift 2
	for mode in "" --static; do
		cflags=$(env "$@" pkg-config --cflags reftrack) &&
			libs=$(env "$@" pkg-config $mode --libs reftrack) &&
			v=$(env "$@" pkg-config --modversion reftrack)
		if [ $? -ne 0 ]; then
			fail "$name: pkg-config does not find reftrack"
			continue
		fi
		[ "$v" = "$version" ] && pass ||
			fail "$name: pkg-config says version '$v', not '$version'"
		exe=$tmp/consumer-$name$mode
		if [ -n "$mode" ]; then
			libs=$(archive "$libs")
			# shellcheck disable=SC2086
			if ${CC:-cc} $sanflags $cflags -o "$exe.short" \
				"$tmp/consumer.c" $(archive "$(env "$@" \
				pkg-config --libs reftrack)") >/dev/null 2>&1; then
				fail "$name: the archive links without --static's flags"
			else
				pass
			fi
		fi
		# shellcheck disable=SC2086
		if ! ${CC:-cc} -std=c11 -pedantic -Wall -Wextra -Werror $sanflags \
			$cflags -o "$exe" "$tmp/consumer.c" $libs >"$tmp/cc.log" 2>&1; then
			cat "$tmp/cc.log" >&2
			fail "$name $mode: the consumer does not build with: $cflags $libs"
			continue
		fi
		needed=$(readelf -d "$exe" | sed -n 's/.*(NEEDED).*\[\(libreftrack[^]]*\)\]$/\1/p')
		if [ -n "$mode" ]; then
			[ -z "$needed" ] && pass ||
				fail "$name $mode: the consumer needs $needed"
			ldpath=
		else
			[ "$needed" = "$soname" ] && pass ||
				fail "$name: the consumer needs '$needed', not $soname"
			ldpath=$libdir
		fi
		rm -rf "$tmp/journal"
		out=$(LD_LIBRARY_PATH=$ldpath "$exe" "$tmp/journal" "$batch")
		[ "$out" = "version=$version entries=$want_n id=$want_id" ] && pass ||
			fail "$name $mode: consumer printed '$out'"
	done
}

# archive FLAGS: FLAGS with -lreftrack taken from libreftrack.a.
archive() {
	for f in $1; do
		case $f in
		-lreftrack) printf '%s ' -Wl,-Bstatic -lreftrack -Wl,-Bdynamic ;;
		*) printf '%s ' "$f" ;;
		esac
	done
}

# DESTDIR install: the .pc names /usr/local; the sysroot maps it into
# DESTDIR.  PKG_CONFIG_LIBDIR, not _PATH, with the directory under test
# first, so that a reftrack.pc installed on this host cannot stand in for
# the one under test; the host's directories after it give the .pc files of
# the dependencies that reftrack.pc's Requires.private names.
syspc=$(pkg-config --variable=pc_path pkg-config)
pc=$dest/usr/local/lib/pkgconfig
grep -qx 'prefix=/usr/local' "$pc/reftrack.pc" && pass ||
	fail "reftrack.pc does not say prefix=/usr/local"
cflags=$(PKG_CONFIG_LIBDIR=$pc:$syspc PKG_CONFIG_SYSROOT_DIR=$dest \
	pkg-config --cflags reftrack)
# shellcheck disable=SC2086
[ "$(echo $cflags | cut -d' ' -f1)" = "-I$dest/usr/local/include" ] && pass ||
	fail "DESTDIR: cflags are '$cflags'"
try destdir "$dest/usr/local/lib" PKG_CONFIG_LIBDIR="$pc:$syspc" \
	PKG_CONFIG_SYSROOT_DIR="$dest"

# A real install into another PREFIX, used in place.
prefix=$tmp/prefix
if mk install PREFIX="$prefix" >"$tmp/install3.log" 2>&1; then
	pass
else
	cat "$tmp/install3.log" >&2
	fail "make install PREFIX=$prefix"
fi
grep -qx "prefix=$prefix" "$prefix/lib/pkgconfig/reftrack.pc" && pass ||
	fail "reftrack.pc does not say prefix=$prefix"
try prefix "$prefix/lib" PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig:$syspc" \
	PKG_CONFIG_SYSROOT_DIR=
"$prefix/bin/reftrack" --version | grep -qx "reftrack $version" && pass ||
	fail "the installed reftrack --version"

grep -q "^ExecStart=$prefix/bin/reftrack run" \
	"$prefix/lib/systemd/system/reftrack-run.service" && pass ||
	fail "PREFIX=$prefix: the service does not run $prefix/bin/reftrack"

# man finds the installed pages by name.
for page in 1:reftrack 1:reference-tracker 5:reftrack-batch; do
	sec=${page%%:*}
	name=${page#*:}
	where=$(MAN_DISABLE_SECCOMP=1 man -M "$prefix/share/man" -w "$sec" "$name" 2>&1)
	[ "$where" = "$prefix/share/man/man$sec/$name.$sec" ] && pass ||
		fail "man -w $sec $name: '$where'"
done

# ---- uninstall removes exactly what install wrote -------------------------
mkdir -p "$dest/usr/local/bin"
echo keep >"$dest/usr/local/bin/other-tool"
if mk uninstall DESTDIR="$dest" >"$tmp/uninstall.log" 2>&1; then
	pass
else
	cat "$tmp/uninstall.log" >&2
	fail "make uninstall DESTDIR=$dest"
fi
left=$(cd "$dest" && find . ! -type d | sed 's|^\./||' | sort)
[ "$left" = "usr/local/bin/other-tool" ] && pass ||
	fail "after uninstall, left: $left"

finish install
