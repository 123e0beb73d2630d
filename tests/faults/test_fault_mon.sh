#!/bin/bash
# test_fault_mon.sh - the monitor cannot be reached when a replay starts:
# a configuration whose mon_host is a loopback port where nothing listens.
# The replay must give up with exit 75 within about its op timeout and
# leave every entry pending, untried (nothing marked failed); the same
# journal then replays on the live cluster exactly once.  See faultlib.sh.
set -u
. "$(dirname "$0")/faultlib.sh"
fl_init test_fault_mon.sh

# A ceph.conf for the live cluster's keyring whose monitor is a port just
# bound and released, so nothing listens there.
dead_conf() {
	local port
	port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	cat >"$d/dead.conf" <<EOC
[global]
mon_host = [v2:127.0.0.1:$port]
ms_bind_msgr1 = false
auth_client_required = cephx
keyring = $RT_CLUSTER_DIR/keyring.admin
EOC
}

# unreachable OP-TIMEOUT SEED-OFFSET
unreachable() {
	local t0 secs n
	fl_gen 3000 300 "$2"
	dead_conf
	t0=$SECONDS
	fl_replay $(($1 * 4 + 30)) -c "$d/dead.conf" --op-timeout "$1"
	secs=$((SECONDS - t0))
	[ "$rc" -eq 75 ] || fail "replay with the monitor unreachable exited $rc, want 75"
	# Connecting is bounded by the op timeout; the rest is start-up.
	[ "$secs" -le $(($1 * 2 + 5)) ] ||
		fail "replay with the monitor unreachable took $secs s with --op-timeout $1"
	n=$(fl_count pending)
	[ "$n" -eq "$entries" ] || fail "$n of $entries entries pending after the failed start"
	[ "$(fl_count failed)" -eq 0 ] || fail "entries were marked failed"
	[ "$(fl_count in_flight)" -eq 0 ] || fail "entries were put in flight"
	model expect --reftrack "$reftrack" --journal "$jdir" 1:attempts=0 \
		"$entries:attempts=0" 2>"$d/expect.err" || fail "$(cat "$d/expect.err")"
	fl_until_done 2 120 || return
	fl_check
	fl_figures "monitor unreachable at start (--op-timeout $1): exit 75 after $secs s, $n pending, 0 failed"
}

case_mon_unreachable_3s() { unreachable 3 3; }
case_mon_unreachable_10s() { unreachable 10 4; }

run_case case_mon_unreachable_3s
run_case case_mon_unreachable_10s
finish test_fault_mon.sh
