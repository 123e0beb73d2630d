#!/bin/bash
# test_scan_cli.sh - `reftrack scan`'s command line without a cluster: the
# live-key list is read, and refused with FILE:LINE, before anything
# connects; usage errors; --help.  (The scan itself: tests/integration/
# test_scan.sh.)  Run from the repository root; the tool is
# $RT_BUILD/reftrack.
set -u
build=${RT_BUILD:-build}
rt=$build/reftrack
. "$(dirname "$0")/../testlib.sh"
tl_tmpdir rt-scan-cli

# A configuration that cannot work: anything that gets as far as
# connecting exits 78, so 65/66/64 show the list was judged first.
conf=$tmp/no.conf
S() { run "$rt" -c "$conf" -p rbd scan "$@"; }

printf 'k1\nk2\000x\nk3\n' >"$tmp/nul.list"
S --live-keys "$tmp/nul.list"
expect_rc 65
expect_err_has "$tmp/nul.list:2: a NUL byte"

{ echo k1; head -c 2049 /dev/zero | tr '\0' k; echo; } >"$tmp/long.list"
S --live-keys "$tmp/long.list"
expect_rc 65
expect_err_has "$tmp/long.list:2: a key of 2049 bytes"

# A good list (CRLF, blank lines, exactly 2048 bytes) passes the reading:
# the scan then fails to connect, 78.
{ printf 'k1\r\n\n\r\n'; head -c 2048 /dev/zero | tr '\0' k; echo; } >"$tmp/ok.list"
S --live-keys "$tmp/ok.list"
expect_rc 78
S --live-keys - <"$tmp/ok.list"
expect_rc 78

S --live-keys "$tmp/absent"
expect_rc 66
S --emit-batch "$tmp/b.yaml"
expect_rc 64
expect_err_has "--emit-batch needs --live-keys"
S --live-keys "$tmp/ok.list" --emit-batch -
expect_rc 64
S -N ns --all-namespaces
expect_rc 64
expect_err_has "try 'reftrack scan --help'"
S --all-namepsaces
expect_rc 64
expect_err_has "did you mean"
S --mass-release-threshold 101
expect_rc 64
S --mass-release-threshold x
expect_rc 64
S --inflight 0
expect_rc 64
S --inflight 1025
expect_rc 64
S extra
expect_rc 64
[ -e "$tmp/b.yaml" ] && fail "a batch file was written"
ls -a "$tmp" | grep -q '^\.reftrack-scan' && fail "a temporary batch was left"

run "$rt" scan --help
expect_rc 0
case $out in *"reftrack scan"*"--live-keys"*"--emit-batch"*) pass ;; *) fail "scan --help: $out" ;; esac
[ "$failed" -eq 0 ] && pass
finish scan-cli
