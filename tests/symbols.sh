#!/bin/sh
# What the library exports (`make test-symbols`).
# Usage: tests/symbols.sh LIBREFTRACK.A LIBREFTRACK.SO.X.Y.Z SONAME
#  - the archive defines global symbols named rt_ only (public rt_x and
#    internal rt__x, which other objects of the library call);
#  - the shared library exports the archive's public ones and nothing else:
#    no rt__ symbol, no symbol of a dependency, none missing (a function a
#    public header declares without RT_EXTERN would be);
#  - its SONAME is SONAME, and it names the libraries it needs itself.
set -u
. "$(dirname "$0")/testlib.sh"
tl_tmpdir rt-symbols
lib_a=$1
lib_so=$2
soname=$3

# NAME of every defined global symbol, one a line, sorted.
nm -g --defined-only "$lib_a" | awk 'NF == 3 {print $3}' | sort -u >"$tmp/a"
nm -D --defined-only "$lib_so" | awk 'NF == 3 {print $3}' | sort -u >"$tmp/so"

bad=$(grep -v '^rt_' "$tmp/a")
[ -z "$bad" ] && pass || fail "$lib_a: non-rt_ global symbols: $bad"

grep '^rt_' "$tmp/a" | grep -v '^rt__' >"$tmp/public"
[ -s "$tmp/public" ] && pass || fail "$lib_a: no public rt_ symbol at all"
if cmp -s "$tmp/public" "$tmp/so"; then
	pass
else
	diff "$tmp/public" "$tmp/so" >&2
	fail "$lib_so: exports differ from the archive's public rt_ symbols" \
		"(- not exported, + exported but not public)"
fi

readelf -d "$lib_so" >"$tmp/dynamic" || fail "readelf -d $lib_so"
got=$(sed -n 's/.*(SONAME).*\[\(.*\)\]$/\1/p' "$tmp/dynamic")
[ "$got" = "$soname" ] && pass || fail "$lib_so: SONAME is '$got', not '$soname'"
for dep in librados liblmdb libyaml libcrypto libz; do
	grep -q "(NEEDED).*\[$dep[.-]" "$tmp/dynamic" && pass ||
		fail "$lib_so: no NEEDED $dep"
done

finish symbols
