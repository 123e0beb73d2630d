#!/bin/bash
# test_submit_cli.sh - `reftrack submit` and the journal as a user meets
# them, through the tool (no cluster needed):
#
#   - every batch in examples/ submits; its batch id is the SHA-256 of its
#     bytes and it has one entry per request; submitting it again (from the
#     file or from stdin) adds nothing and names the same batch;
#   - every file of the invalid corpus (tests/data/batch/invalid/) is
#     refused with exit 65 and "FILE:LINE:COLUMN: what" at the line and
#     column the file states, by submit and by submit --dry-run, and the
#     journal is unchanged: status --json identical, data.mdb the same
#     bytes;
#   - where the journal lives (--journal, $REFTRACK_JOURNAL, then the
#     default under $XDG_STATE_HOME or ~/.local/state for a user other than
#     root) and its modes (0700 directories, 0600 files);
#   - a directory holding something that is not a journal gets a clear
#     error, never a crash, and is left as it was.
#
# Run from the repository root; the tool is $RT_BUILD/reftrack.
set -u
cd "$(dirname "$0")/../.." || exit 1
build=${RT_BUILD:-build}
rt=$build/reftrack
corpus=tests/data/batch/invalid
# Debian's python3 is the one `make deps` gives PyYAML to.
py=${PYTHON:-/usr/bin/python3}
. "$(dirname "$0")/../testlib.sh"
tl_tmpdir rt-submit-cli

tl_require_built submit-cli "$rt"
unset REFTRACK_JOURNAL

mode_of() { stat -c %a "$1" 2>/dev/null; }

# snap JOURNAL NAME: status --json and a copy of data.mdb, to compare.
snap() {
	"$rt" status --journal "$1" --json >"$tmp/$2.json" 2>"$tmp/$2.err" ||
		fail "status --json of $1 failed: $(cat "$tmp/$2.err")"
	cp "$1/data.mdb" "$tmp/$2.mdb"
}

same_snap() {
	cmp -s "$tmp/$1.json" "$tmp/$2.json" && cmp -s "$tmp/$1.mdb" "$tmp/$2.mdb"
}

# ---- the examples ---------------------------------------------------------

j=$tmp/journal
nex=0
for f in examples/*.yaml; do
	nex=$((nex + 1))
	want_id=$(sha256sum <"$f" | cut -d' ' -f1)
	want_n=$("$py" -c 'import sys, yaml; print(len(yaml.safe_load(open(sys.argv[1]))["requests"]))' "$f")
	out=$("$rt" submit --journal "$j" "$f" 2>"$tmp/err")
	rc=$?
	check "$f: submit exit $rc: $(cat "$tmp/err")" [ "$rc" -eq 0 ]
	case $out in
	"batch $want_id: $want_n entries submitted (seq "*) pass ;;
	*) fail "$f: submit said '$out', want batch $want_id with $want_n entries" ;;
	esac
done
check "examples/ holds no batch file" [ "$nex" -gt 0 ]
snap "$j" before

for f in examples/*.yaml; do
	want_id=$(sha256sum <"$f" | cut -d' ' -f1)
	out=$("$rt" submit --journal "$j" "$f" 2>&1)
	rc=$?
	case $rc/$out in
	"0/batch $want_id: already submitted"*"nothing added") pass ;;
	*) fail "$f: resubmit exit $rc: '$out'" ;;
	esac
	# The same bytes from stdin are the same batch.
	out=$("$rt" submit --journal "$j" --json - <"$f" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ] && printf '%s' "$out" | "$py" -c '
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if d["batch_id"] == sys.argv[1] and d["already_present"] is True else 1)
' "$want_id"; then
		pass
	else
		fail "$f: resubmit from stdin exit $rc: $out"
	fi
done
snap "$j" again
check "resubmitting the examples changed the journal" same_snap before again

# ---- the invalid corpus ---------------------------------------------------

# expect_of FILE: "LINE:COLUMN: message" the file promises, from its
# FILE.expect beside it or its first line "# expect: ...".
expect_of() {
	local side=${1%.yaml}.expect line
	if [ -f "$side" ]; then
		head -n 1 "$side"
		return
	fi
	line=$(head -n 1 "$1")
	case $line in
	"# expect: "*) printf '%s\n' "${line#\# expect: }" ;;
	esac
}

ninv=0
for f in "$corpus"/*.yaml; do
	ninv=$((ninv + 1))
	want=$(expect_of "$f")
	lc=${want%%: *}
	msg=${want#*: }
	if [ -z "$want" ] || [ "$lc" = "$want" ]; then
		fail "$f states no expected error"
		continue
	fi
	for dry in "" --dry-run; do
		"$rt" submit --journal "$j" $dry "$f" >"$tmp/out" 2>"$tmp/err"
		rc=$?
		err=$(head -n 1 "$tmp/err")
		# The file's message is a part of the tool's, which may say more.
		case $rc/$err in
		"65/reftrack: submit: $f:$lc: "*"$msg"*) pass ;;
		*) fail "$f${dry:+ ($dry)}: exit $rc, stderr '$err', want 65 and '$f:$lc: ...$msg...'" ;;
		esac
		check "$f${dry:+ ($dry)}: printed '$(cat "$tmp/out")' on stdout" [ ! -s "$tmp/out" ]
	done
	snap "$j" after
	check "$f: the refused submit changed the journal" same_snap before after
done
# Issue 3 asks for at least 40 distinct rules.
check "the invalid corpus has $ninv files, want at least 40" [ "$ninv" -ge 40 ]

# ---- where the journal lives, and its modes -------------------------------

ex=examples/small-add.yaml
REFTRACK_JOURNAL=$tmp/env-journal "$rt" submit "$ex" >/dev/null 2>&1
check "\$REFTRACK_JOURNAL is not where submit made the journal" [ -f "$tmp/env-journal/data.mdb" ]
REFTRACK_JOURNAL=$tmp/env-journal "$rt" submit --journal "$tmp/flag-journal" "$ex" >/dev/null 2>&1
check "--journal does not override \$REFTRACK_JOURNAL" [ -f "$tmp/flag-journal/data.mdb" ]
out=$(REFTRACK_JOURNAL=$tmp/env-journal "$rt" status --json)
check "status does not read \$REFTRACK_JOURNAL" \
	"$py" -c 'import json,sys; sys.exit(0 if json.loads(sys.argv[1])["counts"]["total"] == 2 else 1)' "$out"

# The defaults for a user other than root.  As root, the tool runs as
# nobody (setpriv) in a directory tree nobody may enter.
as_user=()
if [ "$(id -u)" -eq 0 ]; then
	if command -v setpriv >/dev/null 2>&1; then
		as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	fi
fi
if [ "$(id -u)" -ne 0 ] || [ "${#as_user[@]}" -gt 0 ]; then
	u=$tmp/user
	mkdir -p "$u/bin" "$u/home" "$u/xdg"
	cp "$rt" "$u/bin/reftrack"
	cp "$ex" "$u/b.yaml"
	chmod 755 "$tmp" "$u" "$u/bin"
	chmod 644 "$u/b.yaml"
	[ "$(id -u)" -eq 0 ] && chown 65534:65534 "$u/home" "$u/xdg"
	usr() {
		env -u REFTRACK_JOURNAL HOME="$u/home" "$@"
	}
	usr XDG_STATE_HOME="$u/xdg" ${as_user[@]+"${as_user[@]}"} \
		"$u/bin/reftrack" submit "$u/b.yaml" >"$tmp/out" 2>&1
	check "submit under XDG_STATE_HOME failed: $(cat "$tmp/out")" [ $? -eq 0 ]
	d=$u/xdg/reftrack/journal
	check "no journal at \$XDG_STATE_HOME/reftrack/journal" [ -f "$d/data.mdb" ]
	check "$u/xdg/reftrack has mode $(mode_of "$u/xdg/reftrack"), want 700" \
		[ "$(mode_of "$u/xdg/reftrack")" = 700 ]
	check "$d has mode $(mode_of "$d"), want 700" [ "$(mode_of "$d")" = 700 ]
	check "$d/data.mdb has mode $(mode_of "$d/data.mdb"), want 600" \
		[ "$(mode_of "$d/data.mdb")" = 600 ]
	check "$d/lock.mdb has mode $(mode_of "$d/lock.mdb"), want 600" \
		[ "$(mode_of "$d/lock.mdb")" = 600 ]
	# A relative XDG_STATE_HOME is to be ignored (XDG): ~/.local/state.
	usr XDG_STATE_HOME=relative ${as_user[@]+"${as_user[@]}"} \
		"$u/bin/reftrack" submit "$u/b.yaml" >"$tmp/out" 2>&1
	check "submit without XDG_STATE_HOME failed: $(cat "$tmp/out")" [ $? -eq 0 ]
	d=$u/home/.local/state/reftrack/journal
	check "no journal at ~/.local/state/reftrack/journal" [ -f "$d/data.mdb" ]
	for p in "$u/home/.local" "$u/home/.local/state" "$u/home/.local/state/reftrack" "$d"; do
		check "$p has mode $(mode_of "$p"), want 700" [ "$(mode_of "$p")" = 700 ]
	done
	check "$d/data.mdb has mode $(mode_of "$d/data.mdb"), want 600" \
		[ "$(mode_of "$d/data.mdb")" = 600 ]
	check "a relative XDG_STATE_HOME was used" [ ! -e relative ]
	chmod 700 "$tmp"
else
	echo "  (root without setpriv: the non-root default locations are not tried)"
fi

# ---- not a journal ----------------------------------------------------------

# Garbage where data.mdb belongs: a clear error naming the file, exit 65,
# the file untouched, for every subcommand that opens the journal.
g=$tmp/garbage
mkdir -m 700 "$g"
head -c 20000 /dev/urandom >"$g/data.mdb"
cp "$g/data.mdb" "$tmp/garbage.copy"
for cmd in "status" "status --json" "show-entry 1" "submit $ex"; do
	# shellcheck disable=SC2086
	"$rt" $cmd --journal "$g" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	case $rc/$(cat "$tmp/err") in
	"65/reftrack: ${cmd%% *}: journal $g: $g/data.mdb is not a reftrack journal"*) pass ;;
	*) fail "garbage journal, $cmd: exit $rc: $(cat "$tmp/err")" ;;
	esac
	check "garbage journal, $cmd: data.mdb changed" cmp -s "$g/data.mdb" "$tmp/garbage.copy"
done
# A file where the journal directory belongs.
printf 'not a directory\n' >"$tmp/plain"
"$rt" submit --journal "$tmp/plain" "$ex" >/dev/null 2>"$tmp/err"
rc=$?
case $rc/$(cat "$tmp/err") in
"65/reftrack: submit: journal $tmp/plain: not a directory"*) pass ;;
*) fail "file as journal dir: exit $rc: $(cat "$tmp/err")" ;;
esac
check "file as journal dir: the file changed" [ "$(cat "$tmp/plain")" = "not a directory" ]
# status of a journal that does not exist: 66, and nothing made.
"$rt" status --journal "$tmp/none" >/dev/null 2>&1
rc=$?
check "status of a missing journal: exit $rc, want 66" [ "$rc" -eq 66 ]
check "status made a journal" [ ! -e "$tmp/none" ]

# Names, keys and ids from a batch file are printed escaped in text output:
# a newline or an escape sequence in a key can neither add a line nor reach
# the terminal.
cat >"$tmp/esc.yaml" <<'EOF'
version: 1
defaults: {pool: rbd}
requests:
  - tracker: "vol-\"2\"\t\u001b[1m"
    id: "r\n1"
    remove: ["a\nb"]
EOF
"$rt" submit --journal "$tmp/esc" "$tmp/esc.yaml" >/dev/null 2>&1
"$rt" show-entry --journal "$tmp/esc" 1 >"$tmp/esc.out" 2>&1
check "show-entry of escaped names: exit status" [ $? -eq 0 ]
check "show-entry: tracker not escaped: $(cat "$tmp/esc.out")" \
	grep -qxF 'tracker     vol-\"2\"\t\x1b[1m' "$tmp/esc.out"
check "show-entry: key not escaped" grep -qxF 'refs        a\nb' "$tmp/esc.out"
check "show-entry: request id not escaped" grep -qF '(id r\n1)' "$tmp/esc.out"
check "show-entry: a raw control byte reached the output" \
	sh -c '! LC_ALL=C grep -q "$(printf "[\001-\010\013-\037]")" "$1"' sh "$tmp/esc.out"

echo "  $nex examples, $ninv invalid files"
finish submit-cli
