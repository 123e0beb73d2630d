#!/bin/bash
# test_exit_status.sh - the exit-status policy of issue 10, on the throwaway
# cluster: a Ceph configuration that cannot work is 78 with a message naming
# the file or setting (never 75 "try later", never librados' DNS SRV noise),
# permission refused by the cluster 77, a full disk 74 with "No space left
# on device" for submit and replay alike, an unreachable cluster 69 for the
# direct commands and 75 for replay and run; the shipped systemd unit fails
# on a misconfigured -c; and every status the README's exit-status table
# documents is provoked here or by the test it names.  Run by
# tests/run-integration.sh.
set -u

. "$(dirname "$0")/../testlib.sh"
tl_require exit-status CEPH_CONF RT_TEST_POOL RT_BUILD RT_SRC

pool=$RT_TEST_POOL
rt=$RT_BUILD/reftrack
rtool=$RT_BUILD/reference-tracker
ns="exit-$$"
export CEPH_CONF
unset CEPH_ARGS REFTRACK_JOURNAL

mnt=	# the tmpfs of case_disk_full, while mounted
on_exit() {
	if [ -n "$mnt" ]; then
		umount "$mnt" 2>/dev/null || umount -l "$mnt"
	fi
}
tl_tmpdir rt-exit-status

# Statuses this script has seen, for case_documented_statuses.
seen=" "
# expect_status N: expect_rc N, and remember that N was provoked.
expect_status() {
	expect_rc "$1"
	[ "$rc" -eq "$1" ] && seen="$seen$1 "
}
# expect_err_lines N: stderr has exactly N lines (librados adds none).
expect_err_lines() {
	local n
	n=$(printf '%s' "$err" | grep -c '')
	[ "$n" -eq "$1" ] || fail "stderr has $n lines, want $1: $last_cmd
  stderr: $err"
}

# A journal with entries waiting, so that replay and run have to connect.
j=$tmp/journal
cat >"$tmp/batch.yaml" <<EOF
version: 1
requests:
  - {tracker: t1, pool: $pool, namespace: $ns, add: [a]}
EOF
"$rt" submit --journal "$j" "$tmp/batch.yaml" >/dev/null ||
	fail "setup: submit failed"

# A configuration whose monitor never answers (port 1), keyring intact.
dead_conf=$tmp/dead.conf
sed 's/^mon_host = .*/mon_host = [v2:127.0.0.1:1]/' "$CEPH_CONF" >"$dead_conf"
keyring=$(sed -n 's/^keyring = //p' "$CEPH_CONF" | head -n 1)

case_conf_missing() {
	run "$rt" replay --journal "$j" -c "$tmp/no-such.conf"
	expect_status 78
	expect_err_has "$tmp/no-such.conf"
	expect_err_has "No such file or directory"
	case $out in
	"replay: "*) ;;
	*) fail "no summary line on stdout: $out" ;;
	esac
	run "$rt" -c "$tmp/no-such.conf" -p "$pool" add t1 a
	expect_status 78
	expect_err_has "$tmp/no-such.conf"
	run "$rtool" -c "$tmp/no-such.conf" -i admin -p "$pool" -r t1 -k a -o add
	expect_status 78
	expect_err_has "$tmp/no-such.conf"
}

case_conf_invalid() {
	printf '[global\nmon_host = = =\n\x01\n' >"$tmp/bad.conf"
	run "$rt" replay --journal "$j" -c "$tmp/bad.conf"
	expect_status 78
	expect_err_has "$tmp/bad.conf"
	run "$rt" -c "$tmp/bad.conf" -p "$pool" show t1
	expect_status 78
	expect_err_has "$tmp/bad.conf"
}

# No configuration at all (no -c, no $CEPH_CONF, none in the default
# places): "no monitor address", naming mon_host, and nothing from
# librados' DNS SRV lookup before it.
case_no_monitor_address() {
	if [ -e /etc/ceph/ceph.conf ]; then
		echo "  exit-status: /etc/ceph/ceph.conf exists; no-configuration check skipped" >&2
	else
		last_cmd="reftrack replay with no configuration"
		out=$(cd "$tmp" && env -u CEPH_CONF HOME="$tmp" "$rt" replay \
			--journal "$j" 2>"$tmp/err")
		rc=$?
		err=$(cat "$tmp/err")
		expect_status 78
		expect_err_has "mon_host"
		expect_err_lines 1
	fi
	# A configuration that names no monitor.
	printf '[global]\nkeyring = %s\n' "$keyring" >"$tmp/nomon.conf"
	run "$rt" replay --journal "$j" -c "$tmp/nomon.conf"
	expect_status 78
	expect_err_has "mon_host is not set (configuration '$tmp/nomon.conf')"
	expect_err_lines 1
}

case_keyring() {
	run "$rt" replay --journal "$j" --keyring "$tmp/no-such.keyring"
	expect_status 78
	expect_err_has "$tmp/no-such.keyring"
	expect_err_lines 1
	run "$rt" -p "$pool" --keyring "$tmp/no-such.keyring" show t1
	expect_status 78
	expect_err_has "$tmp/no-such.keyring"
	# An unreadable keyring (root reads anything: skipped for root).
	if [ "$(id -u)" != 0 ]; then
		cp "$keyring" "$tmp/locked.keyring"
		chmod 000 "$tmp/locked.keyring"
		run "$rt" replay --journal "$j" --keyring "$tmp/locked.keyring"
		expect_status 78
		expect_err_has "Permission denied"
	fi
	# A readable keyring without this entity's key.
	run "$rt" replay --journal "$j" -n client.nobody
	expect_status 78
	expect_err_has "no key for client.nobody"
	expect_err_has "$keyring"
}

# The cluster refuses: a wrong key (77 at connect), and a read-only user's
# write (77 from the operation).
case_permission() {
	printf '[client.admin]\n\tkey = AQBvaBFfAAAAABAAmfoo5Ugv8uQE7GsH2Q5VQw==\n' \
		>"$tmp/wrong.keyring"
	run "$rt" replay --journal "$j" --keyring "$tmp/wrong.keyring"
	expect_status 77
	expect_err_has "authentication failed"
	run "$rt" -p "$pool" --keyring "$tmp/wrong.keyring" show t1
	expect_status 77
	if [ -n "${RT_TEST_RO_KEYRING:-}" ]; then
		run "$rt" -p "$pool" -N "$ns" --id "$RT_TEST_RO_ID" \
			--keyring "$RT_TEST_RO_KEYRING" add ro-write a
		expect_status 77
	fi
}

case_unreachable() {
	run "$rt" replay --journal "$j" -c "$dead_conf" --op-timeout 2
	expect_status 75
	expect_err_has "no monitor answered"
	run "$rt" -c "$dead_conf" --op-timeout 2 -p "$pool" show t1
	expect_status 69
}

case_run_misconfigured() {
	mkdir -p "$tmp/spool"
	run "$rt" run --spool "$tmp/spool" --journal "$j" -c "$tmp/no-such.conf" \
		--metrics-file "$tmp/run.prom"
	expect_status 78
	expect_err_has "$tmp/no-such.conf"
	grep -q '^reftrack_last_run_exit_status{.*} 78$' "$tmp/run.prom" ||
		fail "metrics do not say 78: $(grep exit_status "$tmp/run.prom")"
	# A metrics file that cannot be written: 73.
	run "$rt" run --spool "$tmp/spool" --journal "$j" -c "$dead_conf" \
		--op-timeout 2 --metrics-file "$tmp/no-such-dir/run.prom"
	expect_status 73
}

# The shipped unit: what the service manager would see.  The ExecStart
# line is run as written, with our binary, scratch paths and a bad -c; its
# status must not be one SuccessExitStatus lets pass.  An unreachable
# cluster, on the other hand, must pass (75: the next run carries on).
case_systemd_unit() {
	local unit=$RT_SRC/examples/reftrack-run.service cmd ok status
	cmd=$(sed -n '/^ExecStart=/,/[^\\]$/p' "$unit" | sed 's/^ExecStart=//; s/\\$//' | tr '\n\t' '  ')
	ok=" 0 $(sed -n 's/^SuccessExitStatus=//p' "$unit" | tr '\n' ' ') "
	[ -n "$cmd" ] || { fail "no ExecStart in $unit"; return; }
	mkdir -p "$tmp/unit-spool"
	# shellcheck disable=SC2086 # the command line is split as systemd does
	set -- $cmd
	[ "$1" = /usr/local/bin/reftrack ] || fail "ExecStart runs '$1'"
	shift
	local args=() a prev=
	for a in "$@"; do
		case $prev in
		--spool) a=$tmp/unit-spool ;;
		--journal) a=$tmp/unit-journal ;;
		--metrics-file) a=$tmp/unit.prom ;;
		--id) a=admin ;;
		esac
		args+=("$a")
		prev=$a
	done
	cp "$tmp/batch.yaml" "$tmp/unit-spool/a.yaml"
	run "$rt" "${args[@]}" -c "$tmp/no-such.conf"
	status=$rc
	expect_status 78
	case $ok in
	*" $status "*) fail "the unit ends as success with exit $status (SuccessExitStatus:$ok)" ;;
	esac
	run "$rt" "${args[@]}" -c "$dead_conf" --op-timeout 2
	expect_status 75
	case $ok in
	*" $rc "*) ;;
	*) fail "an unreachable cluster (75) fails the unit (SuccessExitStatus:$ok)" ;;
	esac
}

# A full disk under the journal: 74 and the system's message, for submit
# and for replay.  A tmpfs of 1 MiB, mounted here (root only), unmounted on
# every way out (on_exit).
case_disk_full() {
	if [ "$(id -u)" != 0 ]; then
		echo "  exit-status: not root; disk-full case skipped" >&2
		return
	fi
	mkdir -p "$tmp/mnt"
	mount -t tmpfs -o size=1m tmpfs "$tmp/mnt" || {
		fail "cannot mount a tmpfs"
		return
	}
	mnt=$tmp/mnt
	local fj=$mnt/journal i
	{
		echo "version: 1"
		echo "requests:"
		for i in $(seq 12000); do
			echo "  - {tracker: full-$i, pool: $pool, namespace: $ns, add: [key-$i-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]}"
		done
	} >"$tmp/big.yaml"
	run "$rt" submit --journal "$fj" "$tmp/big.yaml"
	expect_status 74
	expect_err_has "No space left on device"
	# A replay whose journal commits hit the full disk: a small batch
	# replayed once (so replay.lock exists), a second one submitted, then
	# the rest of the file system filled.
	rm -rf "$fj"
	sed 's/t1/full-small/' "$tmp/batch.yaml" >"$tmp/small.yaml"
	"$rt" submit --journal "$fj" "$tmp/small.yaml" >/dev/null &&
		"$rt" replay --journal "$fj" >/dev/null ||
		fail "setup: first replay on the tmpfs failed"
	head -n 202 "$tmp/big.yaml" >"$tmp/mid.yaml"
	"$rt" submit --journal "$fj" "$tmp/mid.yaml" >/dev/null ||
		fail "setup: submit of 200 entries failed"
	dd if=/dev/zero of="$mnt/fill" bs=4k 2>/dev/null
	run "$rt" replay --journal "$fj"
	expect_status 74
	expect_err_has "No space left on device"
	case $out in
	"replay: "*) ;;
	*) fail "no summary line on stdout: $out" ;;
	esac
	# Space back: the next replay finishes the job.
	rm -f "$mnt/fill"
	run "$rt" replay --journal "$fj"
	expect_status 0
	umount "$mnt" && mnt=
	/usr/bin/python3 - "$pool" "$ns" <<'EOF'
import os, sys, rados
with rados.Rados(conffile=os.environ["CEPH_CONF"]) as c:
    with c.open_ioctx(sys.argv[1]) as io:
        io.set_namespace(sys.argv[2])
        for o in list(io.list_objects()):
            io.remove_object(o.key)
EOF
}

case_usage_and_data() {
	run "$rt" replay --no-such-option
	expect_status 64
	printf 'version: 1\nrequests: 3\n' >"$tmp/invalid.yaml"
	run "$rt" submit --journal "$j" "$tmp/invalid.yaml"
	expect_status 65
	run "$rt" -p "no-such-pool-$$" show t1
	expect_status 66
	# One entry fails for good (no such pool): 1, an operator is needed.
	printf 'version: 1\nrequests:\n  - {tracker: t, pool: no-such-pool-%s, add: [a]}\n' $$ \
		>"$tmp/lost.yaml"
	"$rt" submit --journal "$tmp/j1" "$tmp/lost.yaml" >/dev/null
	run "$rt" replay --journal "$tmp/j1"
	expect_status 1
	run "$rt" replay --journal "$j"
	expect_status 0
	rados -p "$pool" -N "$ns" rm t1 2>/dev/null
}

# Every status in the README's exit-status table is provoked above, or by
# the test named in `elsewhere` (which must exist and mention it); and
# reftrack(1) documents the same statuses.
case_documented_statuses() {
	local readme man s
	local -A elsewhere=(
		[70]=tests/unit/test_cli_exit.c
		[71]=tests/unit/test_cli_exit.c
	)
	readme=$(sed -n '/^### Exit status/,/^## /p' "$RT_SRC/README.md" |
		sed -n 's/^| \([0-9][0-9]*\) |.*/\1/p' | sort -n | tr '\n' ' ')
	man=$(sed -n '/^\.SH EXIT STATUS/,/^\.SH /p' "$RT_SRC/src/man/reftrack.1" |
		sed -n '/^\.TP/{n;s/^\.B \([0-9][0-9]*\)$/\1/p}' | sort -n | tr '\n' ' ')
	[ -n "$readme" ] || fail "no statuses found in the README's table"
	[ "$readme" = "$man" ] ||
		fail "README documents '$readme', reftrack(1) '$man'"
	for s in $readme; do
		case $seen in
		*" $s "*) continue ;;
		esac
		if [ -n "${elsewhere[$s]:-}" ] &&
			grep -q "\b$s\b" "$RT_SRC/${elsewhere[$s]}"; then
			continue
		fi
		fail "documented status $s is provoked by no test"
	done
}

run_case case_conf_missing
run_case case_conf_invalid
run_case case_no_monitor_address
run_case case_keyring
run_case case_permission
run_case case_unreachable
run_case case_run_misconfigured
run_case case_systemd_unit
run_case case_disk_full
run_case case_usage_and_data
run_case case_documented_statuses
finish exit-status
