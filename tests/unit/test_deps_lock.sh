#!/bin/bash
# test_deps_lock.sh - tests/deps.sh waits for a busy apt/dpkg instead of
# failing at once (issue 10): with a lock held by another process (a POSIX
# lock, as apt and dpkg take them), it says who holds it, waits, and runs
# apt-get once the lock is free; held past RT_DEPS_LOCK_TIMEOUT it gives
# up with exit 1 and says so.  apt-get itself is a stub here
# (RT_DEPS_APT) and the package list a missing name (RT_DEPS_PACKAGES), so
# nothing is installed.  Root only, as deps.sh installs only as root.
set -u

. "$(dirname "$0")/../testlib.sh"

deps=$(cd "$(dirname "$0")/.." && pwd -P)/deps.sh
py=/usr/bin/python3
holder=
dpid=
on_exit() {
	local p
	for p in $holder $dpid; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
}
tl_tmpdir rt-deps-lock

if [ "$(id -u)" != 0 ]; then
	echo "test_deps_lock.sh: not root; deps.sh would not install: skipped" >&2
	finish deps-lock
fi

# The apt-get stub: records its calls.
cat >"$tmp/apt-get" <<EOF
#!/bin/sh
echo "\$*" >>"$tmp/apt.calls"
EOF
chmod +x "$tmp/apt-get"
export RT_DEPS_APT=$tmp/apt-get RT_DEPS_PACKAGES=rt-deps-test-no-such-package
export RT_DEPS_LOCKS="$tmp/lock-frontend $tmp/lock"
touch "$tmp/lock-frontend" "$tmp/lock"

# hold FILE: a process holds a POSIX write lock on FILE until $tmp/release
# exists; returns once the lock is taken.
hold() {
	rm -f "$tmp/held" "$tmp/release"
	"$py" -c '
import fcntl, os, sys, time
f = open(sys.argv[1], "r+")
fcntl.lockf(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]):
    time.sleep(0.05)
' "$1" "$tmp/held" "$tmp/release" &
	holder=$!
	for _ in $(seq 600); do
		[ -e "$tmp/held" ] && return 0
		sleep 0.05
	done
	fail "the lock holder never took the lock"
	return 1
}

release() {
	touch "$tmp/release"
	wait "$holder"
	holder=
}

# wait_for_text FILE TEXT: until FILE contains TEXT, at most 60 s.
wait_for_text() {
	for _ in $(seq 1200); do
		grep -qF "$2" "$1" 2>/dev/null && return 0
		kill -0 "$dpid" 2>/dev/null || break
		sleep 0.05
	done
	grep -qF "$2" "$1" 2>/dev/null
}

# Free: apt-get runs at once, given the lock timeout too.
rm -f "$tmp/apt.calls"
if sh "$deps" >"$tmp/out" 2>&1 && grep -q 'DPkg::Lock::Timeout=600 install' "$tmp/apt.calls" &&
	! grep -q busy "$tmp/out"; then
	pass
else
	fail "free locks: $(cat "$tmp/out" "$tmp/apt.calls" 2>&1)"
fi

# Busy: waits, says who holds the lock, runs apt-get only once it is free.
rm -f "$tmp/apt.calls"
hold "$tmp/lock"
RT_DEPS_LOCK_TIMEOUT=120 sh "$deps" >"$tmp/out" 2>&1 &
dpid=$!
if wait_for_text "$tmp/out" "deps: apt/dpkg is busy: $tmp/lock (pid $holder"; then
	pass
else
	fail "deps.sh does not say it waits for the lock: $(cat "$tmp/out")"
fi
if [ -e "$tmp/apt.calls" ]; then
	fail "apt-get ran while the lock was held: $(cat "$tmp/apt.calls")"
else
	pass
fi
release
wait "$dpid"
rc=$?
dpid=
if [ "$rc" -eq 0 ] && grep -q ' install ' "$tmp/apt.calls" &&
	grep -q 'lock free after' "$tmp/out"; then
	pass
else
	fail "after the lock was freed: exit $rc: $(cat "$tmp/out" "$tmp/apt.calls" 2>&1)"
fi

# Held for good: gives up after the timeout, exit 1, apt-get never run.
rm -f "$tmp/apt.calls"
hold "$tmp/lock-frontend"
RT_DEPS_LOCK_TIMEOUT=1 sh "$deps" >"$tmp/out" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && grep -q "still busy after 1 s: $tmp/lock-frontend" "$tmp/out" &&
	[ ! -e "$tmp/apt.calls" ]; then
	pass
else
	fail "held past the timeout: exit $rc: $(cat "$tmp/out" "$tmp/apt.calls" 2>&1)"
fi
release

finish deps-lock
