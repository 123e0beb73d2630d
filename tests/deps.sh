#!/bin/sh
# Installs the Debian packages that building, testing and the demo need.
# As root it installs what is missing; otherwise it names the one command to
# run.  Shared by `make deps` (and so `make test`/`make demo`) and .ci/run.
set -eu

# groff-base and man-db render the man pages in tests/unit/test_help.sh;
# strace lets tests/unit/test_install.sh watch `make install` write.
# libc6-dev is only a Recommends of gcc, which --no-install-recommends
# skips: without it nothing compiles.  clang-14 builds the fuzz targets
# (make fuzz); its libFuzzer and sanitizer runtimes are in libclang-rt-14-dev,
# only a Recommends of the libclang-common-14-dev it pulls in
# (libfuzzer-14-dev, the standalone libFuzzer archive, is not needed).
PACKAGES=${RT_DEPS_PACKAGES:-"gcc libc6-dev make pkg-config librados-dev liblmdb-dev libyaml-dev libssl-dev
zlib1g-dev ceph-mon ceph-osd ceph-common python3 python3-yaml python3-jsonschema valgrind
procps groff-base man-db strace clang-14 libclang-rt-14-dev"}

# apt and dpkg may be busy when we start: on a fresh VM unattended-upgrades
# runs its first round at boot.  Instead of failing at once with "Could not
# get lock", wait for their locks, at most RT_DEPS_LOCK_TIMEOUT seconds
# (default 600), saying who holds them.  The locks are POSIX (fcntl) locks,
# listed with their holder's pid in /proc/locks.  apt-get is also given
# DPkg::Lock::Timeout for a lock taken between our look and its start.
# RT_DEPS_LOCKS and RT_DEPS_APT exist for tests/unit/test_deps_lock.sh.
lock_timeout=${RT_DEPS_LOCK_TIMEOUT:-600}
locks=${RT_DEPS_LOCKS:-"/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock
/var/lib/apt/lists/lock /var/cache/apt/archives/lock"}
apt_get=${RT_DEPS_APT:-apt-get}

# lock_holder: "FILE (pid PID, COMMAND)" of the first lock held, or nothing.
lock_holder() {
	for f in $locks; do
		[ -e "$f" ] || continue
		ino=$(stat -c %i "$f") || continue
		# "N: POSIX ADVISORY WRITE PID MAJ:MIN:INODE START END"; lines
		# with "->" are waiters, not holders.
		pid=$(awk -v ino="$ino" '$2 != "->" {
			n = split($6, a, ":"); if (a[n] == ino) { print $5; exit } }' /proc/locks)
		if [ -n "$pid" ]; then
			echo "$f (pid $pid, $(cat "/proc/$pid/comm" 2>/dev/null || echo gone))"
			return
		fi
	done
}

# wait_for_locks: returns once no lock is held; exits 1 after lock_timeout.
wait_for_locks() {
	held=$(lock_holder)
	[ -z "$held" ] && return 0
	echo "deps: apt/dpkg is busy: $held holds its lock; waiting up to ${lock_timeout} s (RT_DEPS_LOCK_TIMEOUT)" >&2
	start=$(date +%s)
	while [ -n "$held" ]; do
		if [ $(($(date +%s) - start)) -ge "$lock_timeout" ]; then
			echo "deps: apt/dpkg still busy after ${lock_timeout} s: $held; try again later" >&2
			exit 1
		fi
		sleep 1
		held=$(lock_holder)
	done
	echo "deps: apt/dpkg lock free after $(($(date +%s) - start)) s" >&2
}

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing Debian packages; run as root:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
wait_for_locks
"$apt_get" -o DPkg::Lock::Timeout="$lock_timeout" update -qq
wait_for_locks
# shellcheck disable=SC2086
"$apt_get" -o DPkg::Lock::Timeout="$lock_timeout" install -y -qq --no-install-recommends $missing
