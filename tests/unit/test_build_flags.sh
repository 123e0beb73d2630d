#!/bin/sh
# The Makefile's rules take the caller's flags and WERROR, read from what
# `make -n -B` would run (nothing is compiled):
#  - every compile (library, tools, unit, integration and bench tests,
#    fuzz targets) has CPPFLAGS, every link LDFLAGS, every gcc compile
#    CFLAGS (the clang-built fuzz tree takes no CFLAGS meant for CC);
#  - WERROR=1 puts -Werror in every compile, WERROR=0 in none; unset, it is
#    1 in a git checkout and 0 in a tree without .git (a release);
#  - the fuzz build uses the library's warnings.
# Run from the repository root.
set -u
root=$(pwd -P)
. "$(dirname "$0")/../testlib.sh"
tl_tmpdir rt-build-flags

# The compiler is a name that appears nowhere else, so that its command
# lines are easy to pick out; the dry run never starts it.
CCP=rt-probe-cc
FCP=rt-probe-clang
# dry DIR MAKE-ARGS... : the compiler command lines a full rebuild in DIR
# would run, one a line, into $tmp/lines.  The caller's make and WERROR
# stay out of it.
dry() {
	d=$1
	shift
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u WERROR -u CPPFLAGS \
		-u CFLAGS -u LDFLAGS \
		make --no-print-directory -n -B -C "$d" B="$tmp/b" \
		FUZZ_B="$tmp/fuzz" CC=$CCP FUZZ_CC=$FCP "$@" \
		all test-unit test-integration bench fuzz-build \
		>"$tmp/dry.log" 2>&1 || {
		cat "$tmp/dry.log" >&2
		fail "make -n in $d $*"
	}
	# A recipe line continued with a backslash is one command.
	sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$tmp/dry.log" |
		grep -E "^($CCP|$FCP) " >"$tmp/lines"
}

# ---- CPPFLAGS, CFLAGS, LDFLAGS ---------------------------------------------
dry "$root" CPPFLAGS=-DRT_CPPFLAGS_PROBE CFLAGS=-DRT_CFLAGS_PROBE \
	LDFLAGS=-Lrt-ldflags-probe
# Every source file is compiled by one of the lines (else the dry run missed
# a rule and the checks below would prove nothing).
for src in src/lib/*.c src/cli/*.c tests/unit/test_*.c \
	tests/integration/test_*.c tests/bench/*.c tests/fuzz/*.c; do
	grep -q " $src\( \|$\)" "$tmp/lines" || fail "no compile of $src in make -n"
done
n=$(wc -l <"$tmp/lines")
[ "$n" -gt 50 ] && pass || fail "only $n compiler lines in make -n"

# A line that names a .c file compiles; one without -c links.
while IFS= read -r line; do
	case " $line " in
	*" -c "*) links=0 ;;
	*) links=1 ;;
	esac
	case $line in *.c | *".c "*) compiles=1 ;; *) compiles=0 ;; esac
	if [ $compiles = 1 ]; then
		case $line in
		*-DRT_CPPFLAGS_PROBE*) pass ;;
		*) fail "CPPFLAGS missing: $line" ;;
		esac
		case $line in
		$FCP* | *-DRT_CFLAGS_PROBE*) pass ;;
		*) fail "CFLAGS missing: $line" ;;
		esac
	fi
	if [ $links = 1 ]; then
		case $line in
		*-Lrt-ldflags-probe*) pass ;;
		*) fail "LDFLAGS missing: $line" ;;
		esac
	fi
done <"$tmp/lines"

# ---- WERROR ----------------------------------------------------------------
# werror_in WHAT: passes if every compile line has -Werror (WHAT=all) or
# none has (WHAT=none).
werror_in() {
	with=$(grep -c -- ' -Werror\( \|$\)' "$tmp/lines")
	total=$(grep -c -- ' -c ' "$tmp/lines")
	case $1 in
	all) [ "$with" -ge "$total" ] && [ "$total" -gt 0 ] ;;
	none) [ "$with" -eq 0 ] ;;
	esac
}

dry "$root" WERROR=1
werror_in all && pass || fail "WERROR=1: -Werror is missing from some compile"
dry "$root" WERROR=0
werror_in none && pass || fail "WERROR=0: some compile has -Werror"
if [ -e "$root/.git" ]; then
	dry "$root"
	werror_in all && pass || fail "a git checkout builds without -Werror"
fi
# A release tree: the same files, no .git.
rel=$tmp/release
mkdir "$rel"
for f in "$root"/*; do
	ln -s "$f" "$rel/"
done
dry "$rel"
werror_in none && pass || fail "a tree without .git builds with -Werror"
dry "$rel" WERROR=1
werror_in all && pass || fail "WERROR=1 in a release tree: no -Werror"

# The fuzz targets are compiled with the library's warnings.
dry "$root"
warnings() { grep -E "^$1 " "$tmp/lines" | grep -- "$2" | head -n 1 |
	tr ' ' '\n' | grep -E '^-W[a-z]' | sort -u; }
warnings "$CCP" ' src/lib/format.c' >"$tmp/w.lib"
warnings "$FCP" ' src/lib/format.c' >"$tmp/w.fuzz"
if [ -s "$tmp/w.lib" ] && cmp -s "$tmp/w.lib" "$tmp/w.fuzz"; then
	pass
else
	diff "$tmp/w.lib" "$tmp/w.fuzz" >&2
	fail "the fuzz build's warnings differ from the library's"
fi

finish build-flags
