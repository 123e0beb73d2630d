#!/bin/bash
# test_sigpipe.sh - the tools survive a SIGPIPE raised inside librados while
# they connect (issue 9, defect 4).  Run by tests/run-integration.sh.
#
# At start-up librados binds its admin socket; when the path is taken it
# first pings the socket's owner (connect, then write) and takes the path
# over if nobody answers.  If the owner closes the connection between the
# connect and the write, the write raises SIGPIPE, which kills a process
# that does not ignore it (exit 141, no message).  Here the "owner" is a
# small listener that accepts and closes every connection at once.  To make
# the close come before the write every time, the listener and the tool
# share one CPU and the tool runs under SCHED_IDLE (chrt -i 0): the
# listener, woken by the connect, preempts the tool until it has closed.
# Each try needs a fresh listener: the tool unlinks the path it took over.
set -u

. "$(dirname "$0")/../testlib.sh"
tl_require sigpipe CEPH_CONF RT_TEST_POOL RT_BUILD

pool=$RT_TEST_POOL
py=/usr/bin/python3
tl_tmpdir rt-sigpipe
lpid=
on_exit() {
	[ -n "$lpid" ] && kill "$lpid" 2>/dev/null
}

conf=$tmp/ceph.conf
cp "$CEPH_CONF" "$conf"
printf '[client]\nadmin socket = %s/asok\n' "$tmp" >>"$conf"

cat >"$tmp/listener.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(16)
open(sys.argv[2], "w").close()
while True:
    c, _ = s.accept()
    c.close()
PY

# try TOOL ARGS...: runs the tool against a fresh listener; sets $rc and
# $err.
try() {
	local i
	rm -f "$tmp/asok" "$tmp/ready"
	taskset -c 0 "$py" "$tmp/listener.py" "$tmp/asok" "$tmp/ready" &
	lpid=$!
	for i in $(seq 1 200); do
		[ -e "$tmp/ready" ] && break
		sleep 0.05
	done
	[ -e "$tmp/ready" ] || fail "the listener did not start"
	CEPH_CONF=$conf run taskset -c 0 chrt -i 0 "$@"
	kill "$lpid" 2>/dev/null
	wait "$lpid" 2>/dev/null
	lpid=
}

case_reftrack() {
	local n
	for n in 1 2 3; do
		try "$RT_BUILD/reftrack" -p "$pool" -N "sigpipe-$$" show nosuch
		# 66: no such tracker; it connected and asked.
		expect_rc 66
	done
}

case_reference_tracker() {
	local n
	for n in 1 2 3; do
		try "$RT_BUILD/reference-tracker" -i admin -c "$conf" -p "$pool" -n "sigpipe-$$" \
			-k "k$n" -o add -r t
		expect_rc 0
	done
}

if ! command -v taskset >/dev/null || ! command -v chrt >/dev/null; then
	fail "taskset and chrt (util-linux) are needed"
else
	run_case case_reftrack
	run_case case_reference_tracker
fi
finish sigpipe
