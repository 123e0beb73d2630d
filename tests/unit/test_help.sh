#!/bin/sh
# The tools' --help texts and the man pages agree, and the pages render
# cleanly:
#  - every subcommand `reftrack --help` lists has a section under COMMANDS in
#    reftrack(1), and every section there is a subcommand;
#  - `reftrack SUB --help` prints its usage on stdout and exits 0; every
#    long flag it names is in SUB's section or in OPTIONS (the common ones),
#    and every flag SUB's section lists as an item is in `SUB --help`;
#  - every exit status a help text names is under EXIT STATUS, and every
#    environment variable it names is under ENVIRONMENT;
#  - `reftrack --version` and every page's header carry the version in
#    reftrack.h;
#  - reference-tracker's -h and reference-tracker(1) list the same options;
#  - groff (all warnings) and man render every page without a warning;
#  - every log event and metric of `run` is under RUN LOG and METRICS, and
#    nothing else is;
#  - the example crontab and systemd service use only flags `run` knows.
# Run from the repository root; the tools are in $RT_BUILD.
set -u
build=${RT_BUILD:-build}
rt=$build/reftrack
rtr=$build/reference-tracker
man1=src/man/reftrack.1
man1r=src/man/reference-tracker.1
. "$(dirname "$0")/../testlib.sh"
tl_tmpdir rt-help

for t in "$rt" "$rtr"; do
	if [ ! -x "$t" ]; then
		echo "no $t (set RT_BUILD)" >&2
		failed=1
		finish help
	fi
done
version=$(sed -n 's/^#define RT_VERSION_STRING "\(.*\)"$/\1/p' \
	include/reftrack/reftrack.h)

# A page's source as plain text, enough to search: comments dropped, \- as
# -, font changes gone, quotes of multi-word arguments kept.
plain() {
	sed -e '/^\.\\"/d' -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\e/\\/g' \
		-e 's/\\(dq/"/g' "$1"
}
# part PAGE SECTION [SUBSECTION]: the lines of a .SH section, or of one .SS
# within it.
part() {
	plain "$1" | awk -v sh="$2" -v ss="${3:-}" '
		/^\.SH / { name = substr($0, 5); gsub(/"/, "", name)
		           insh = (name == sh); inss = (ss == ""); next }
		/^\.SS / && insh && ss != "" { inss = (substr($0, 5) == ss); next }
		insh && inss { print }'
}
# The tags of .TP/.TQ items, one per line.
items() { awk 'prev ~ /^\.T[PQ]/ { print } { prev = $0 }'; }
long_flags() { grep -oE -- '--[a-z][a-z0-9-]*' | sort -u; }
# has_flag FLAG < TEXT: FLAG as a whole flag, not the start of a longer one.
has_flag() { grep -qE -- "$1([^a-z0-9-]|\$)"; }
# The numbers in a help text's "Exit status:" paragraph.
exit_codes() {
	awk '/Exit status/ { on = 1 } on && /^$/ { on = 0 } on' |
		sed 's/.*Exit status//' | grep -oE '(^|[^0-9A-Za-z-])[0-9]+' |
		grep -oE '[0-9]+' | sort -un
}
env_vars() {
	{ grep -oE '\$[A-Z_][A-Z0-9_]+' | tr -d '$'
	  sed -n 's/^Environment: *//p' "$1" | grep -oE '[A-Z_][A-Z0-9_]+'; } |
		sort -u
}

# ---- reftrack --help and the list of subcommands ---------------------------
"$rt" --help >"$tmp/help" 2>"$tmp/help.err"
[ $? -eq 0 ] && [ -s "$tmp/help" ] && [ ! -s "$tmp/help.err" ] && pass ||
	fail "reftrack --help: not exit 0 with its text on stdout only"
awk '/^Subcommands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }' \
	"$tmp/help" >"$tmp/subs"
[ -s "$tmp/subs" ] && pass || fail "reftrack --help lists no subcommands"
part "$man1" COMMANDS | sed -n 's/^\.SS //p' >"$tmp/man-subs"
sort "$tmp/subs" >"$tmp/subs.sorted"
sort "$tmp/man-subs" >"$tmp/man-subs.sorted"
comm -23 "$tmp/subs.sorted" "$tmp/man-subs.sorted" >"$tmp/undocumented"
comm -13 "$tmp/subs.sorted" "$tmp/man-subs.sorted" >"$tmp/stale"
[ ! -s "$tmp/undocumented" ] && pass ||
	fail "subcommands without a section in $man1: $(cat "$tmp/undocumented")"
[ ! -s "$tmp/stale" ] && pass ||
	fail "sections in $man1 for no subcommand in --help: $(cat "$tmp/stale")"

part "$man1" OPTIONS >"$tmp/man-options"
# The global flags are common options.
for f in $(long_flags <"$tmp/help"); do
	has_flag "$f" <"$tmp/man-options" && pass ||
		fail "reftrack --help names $f; OPTIONS in $man1 does not"
done
cp "$tmp/help" "$tmp/all-help"

# ---- each subcommand's --help -----------------------------------------------
while read -r sub; do
	h=$tmp/help-$sub
	"$rt" "$sub" --help >"$h" 2>"$tmp/err"
	if [ $? -ne 0 ] || [ -s "$tmp/err" ] || ! grep -q "reftrack $sub" "$h"; then
		fail "reftrack $sub --help: not exit 0 with a usage of '$sub' on stdout only"
		continue
	fi
	pass
	cat "$h" >>"$tmp/all-help"
	part "$man1" COMMANDS "$sub" >"$tmp/section"
	for f in $(long_flags <"$h"); do
		if has_flag "$f" <"$tmp/section" ||
			has_flag "$f" <"$tmp/man-options"; then
			pass
		else
			fail "reftrack $sub --help names $f; $man1 does not, neither under $sub nor OPTIONS"
		fi
	done
	for f in $(items <"$tmp/section" | long_flags); do
		has_flag "$f" <"$h" && pass ||
			fail "$man1 lists $f under $sub; reftrack $sub --help does not"
	done
done <"$tmp/subs"

# OPTIONS lists no flag that no help text has.
for f in $(items <"$tmp/man-options" | long_flags); do
	has_flag "$f" <"$tmp/all-help" && pass ||
		fail "$man1 lists $f under OPTIONS; no --help text names it"
done

# Exit statuses and environment variables.
part "$man1" "EXIT STATUS" | items | grep -oE '[0-9]+' | sort -un >"$tmp/man-codes"
for h in "$tmp"/help-*; do
	for code in $(exit_codes <"$h"); do
		grep -qx "$code" "$tmp/man-codes" && pass ||
			fail "reftrack ${h##*/help-} --help names exit status $code; EXIT STATUS in $man1 does not"
	done
done
part "$man1" ENVIRONMENT | items >"$tmp/man-env"
for v in $(env_vars "$tmp/all-help" <"$tmp/all-help"); do
	grep -qw "$v" "$tmp/man-env" && pass ||
		fail "a --help text names \$$v; ENVIRONMENT in $man1 does not"
done

# ---- run's log events and metrics ---------------------------------------------
# Event names are the dotted string literals of src/cli (cli_log_begin's
# argument), metric names the "reftrack_..." ones; both ways round, so that
# neither a new name nor a stale one goes unnoticed.
grep -ohE '"[a-z]+\.[a-z_]+"' src/cli/*.c | tr -d '"' | grep -v '\.h$' |
	sort -u >"$tmp/src-events"
grep -ohE '"reftrack_[a-z_]+"' src/cli/*.c | tr -d '"' | sort -u >"$tmp/src-metrics"
part "$man1" "RUN LOG" | items | sed -n 's/^\.B //p' | sort -u >"$tmp/man-events"
part "$man1" METRICS | items | sed -n 's/^\.B //p' | sort -u >"$tmp/man-metrics"
for kind in events metrics; do
	if [ ! -s "$tmp/src-$kind" ]; then
		fail "no $kind found in src/cli: the pattern no longer fits the code"
		continue
	fi
	comm -23 "$tmp/src-$kind" "$tmp/man-$kind" >"$tmp/undocumented"
	comm -13 "$tmp/src-$kind" "$tmp/man-$kind" >"$tmp/stale"
	[ ! -s "$tmp/undocumented" ] && pass ||
		fail "$kind of src/cli missing from $man1: $(cat "$tmp/undocumented")"
	[ ! -s "$tmp/stale" ] && pass ||
		fail "$kind in $man1 that src/cli does not have: $(cat "$tmp/stale")"
done

# ---- versions ------------------------------------------------------------------
# The first line names the version; the others the libraries it runs with.
for t in "$rt" "$rtr"; do
	out=$("$t" --version)
	rc=$?
	name=${t##*/}
	[ $rc -eq 0 ] && [ "$(echo "$out" | head -n 1)" = "$name $version" ] &&
		pass || fail "$name --version says '$out', not '$name $version' first"
	for lib in 'librados [0-9]+\.[0-9]+\.[0-9]+' 'LMDB [0-9]' 'libyaml [0-9]'; do
		echo "$out" | grep -qE "^$lib" && pass ||
			fail "$name --version does not name /$lib/: '$out'"
	done
done
"$rtr" --help >/dev/null 2>&1 && pass ||
	fail "reference-tracker --help does not exit 0"
for page in src/man/*.[1-9]; do
	grep -q "^\.TH .*\"reftrack $version\"" "$page" && pass ||
		fail "$page: .TH does not say \"reftrack $version\""
done

# ---- reference-tracker -h and its page ----------------------------------------
"$rtr" -h >"$tmp/rtr" 2>"$tmp/err"
[ $? -eq 0 ] && [ ! -s "$tmp/err" ] && pass ||
	fail "reference-tracker -h: not exit 0 with its text on stdout only"
grep -oE '^  -[a-zA-Z]' "$tmp/rtr" | tr -d ' ' | sort -u >"$tmp/rtr-opts"
part "$man1r" OPTIONS | items | grep -oE '^\.[BIR]+ -[a-zA-Z]' |
	sed 's/.* //' | sort -u >"$tmp/rtr-man-opts"
[ -s "$tmp/rtr-opts" ] && cmp -s "$tmp/rtr-opts" "$tmp/rtr-man-opts" && pass ||
	fail "reference-tracker -h and $man1r list different options:
$(diff "$tmp/rtr-opts" "$tmp/rtr-man-opts")"
part "$man1r" "EXIT STATUS" | items | grep -oE '[0-9]+' | sort -un >"$tmp/rtr-codes"
for code in $(exit_codes <"$tmp/rtr"); do
	grep -qx "$code" "$tmp/rtr-codes" && pass ||
		fail "reference-tracker -h names exit status $code; $man1r does not"
done

# ---- rendering -----------------------------------------------------------------
for page in src/man/*.[1-9]; do
	groff -ww -man -Tutf8 -z "$page" >"$tmp/out" 2>&1
	[ $? -eq 0 ] && [ ! -s "$tmp/out" ] && pass ||
		fail "groff -ww -man $page: $(cat "$tmp/out")"
	# man-db's own sandbox can be refused by a container; it adds nothing
	# to a rendering check.
	LC_ALL=C.UTF-8 MANWIDTH=80 MAN_DISABLE_SECCOMP=1 \
		man --warnings=w -l "$page" >"$tmp/out" 2>"$tmp/err"
	[ $? -eq 0 ] && [ ! -s "$tmp/err" ] && grep -q '^NAME' "$tmp/out" && pass ||
		fail "man -l $page: $(cat "$tmp/err")"
done

# ---- the examples -----------------------------------------------------------------
"$rt" run --help >"$tmp/run-help" 2>/dev/null
for ex in examples/reftrack.cron examples/reftrack-run.service; do
	if ! grep -q 'reftrack run ' "$ex" 2>/dev/null; then
		fail "$ex: no 'reftrack run' command"
		continue
	fi
	# Continuation lines (systemd's ExecStart) joined first.
	for f in $(sed -e :a -e '/\\$/N; s/\\\n//; ta' "$ex" | grep -v '^#' |
		grep 'reftrack run ' | long_flags); do
		has_flag "$f" <"$tmp/run-help" && pass ||
			fail "$ex uses $f; reftrack run --help does not know it"
	done
done
grep -qx 'Unit=reftrack-run.service' examples/reftrack-run.timer && pass ||
	fail "examples/reftrack-run.timer does not start reftrack-run.service"
# systemd's own check, where systemd is installed; it wants ExecStart's
# program to exist, so the copy under test runs the one just built.
if command -v systemd-analyze >/dev/null 2>&1; then
	mkdir "$tmp/units"
	sed "s|/usr/local/bin/reftrack|$(cd "$build" && pwd -P)/reftrack|" \
		examples/reftrack-run.service >"$tmp/units/reftrack-run.service"
	cp examples/reftrack-run.timer "$tmp/units/"
	(cd "$tmp/units" && systemd-analyze verify --man=no \
		./reftrack-run.timer ./reftrack-run.service) >"$tmp/out" 2>&1
	[ $? -eq 0 ] && [ ! -s "$tmp/out" ] && pass ||
		fail "systemd-analyze verify: $(cat "$tmp/out")"
else
	echo "note: no systemd-analyze; the unit files are not verified" >&2
fi

finish help
