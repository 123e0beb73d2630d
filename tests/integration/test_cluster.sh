#!/bin/bash
# test_cluster.sh - self-test of the throwaway cluster harness
# (tests/cluster.sh), run by tests/run-integration.sh inside its cluster:
# cephx with the admin and read-only keys, both pools, loopback-only
# non-default ports, and a second cluster side by side that stops cleanly
# without touching the first.
set -u

root=$(cd "$(dirname "$0")/../.." && pwd -P)
cluster_sh=$root/tests/cluster.sh
passed=0
failed=0
case_failures=0
case_name=

begin() {
	case_name=$1
	case_failures=0
}

# check DESCRIPTION CMD...: one assertion; the case fails if CMD fails.
check() {
	local what=$1
	shift
	if ! "$@"; then
		echo "test_cluster.sh: $case_name: check failed: $what" >&2
		case_failures=$((case_failures + 1))
	fi
}

end() {
	if [ "$case_failures" -eq 0 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
}

for v in CEPH_CONF RT_TEST_POOL RT_TEST_POOL2 RT_TEST_RO_KEYRING RT_CLUSTER_DIR; do
	if [ -z "${!v:-}" ]; then
		echo "test_cluster.sh: $v is not set; run through tests/run-integration.sh" >&2
		echo "cluster: 0 passed, 1 failed"
		exit 1
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rt-test-cluster.XXXXXX") || exit 1
second=$tmp/second
obj=test-cluster-$$
cleanup() {
	"$cluster_sh" stop "$second" 2>/dev/null
	rados -p "$RT_TEST_POOL" rm "$obj" 2>/dev/null
	rados -p "$RT_TEST_POOL2" rm "$obj" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# True while PID exists and is not a finished zombie (see tests/cluster.sh).
alive() {
	local state
	state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)
	[ -n "$state" ] || return 1
	[ "$state" != Z ] ||
		[ "$(find "/proc/$1/task" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)" -gt 1 ]
}

all_alive() {
	local pid
	[ -s "$1" ] || return 1
	while read -r pid _; do
		alive "$pid" || return 1
	done <"$1"
}

none_alive() {
	local pid
	for pid in "$@"; do
		alive "$pid" && return 1
	done
	return 0
}

# The mon port of the cluster whose ceph.conf is $1.
mon_port() {
	sed -n 's/^mon_host = \[v2:127\.0\.0\.1:\([0-9]*\)\]$/\1/p' "$1"
}

# "ADDR:PORT" of every listening TCP socket of the pids in file $1, one per
# line, read from /proc (no ss/netstat needed); IPv6 ones as "v6:PORT".
listening() {
	local pid inodes file local_addr st inode addr port h
	inodes=" $(while read -r pid _; do
		ls -l "/proc/$pid/fd" 2>/dev/null
	done <"$1" | sed -n 's/.*socket:\[\([0-9]*\)\]$/\1/p' | tr '\n' ' ')"
	for file in /proc/net/tcp /proc/net/tcp6; do
		[ -r "$file" ] || continue
		# Fields: sl local rem st tx:rx tr:when retrnsmt uid timeout inode
		while read -r _ local_addr _ st _ _ _ _ _ inode _; do
			[ "$st" = 0A ] || continue
			case $inodes in *" $inode "*) ;; *) continue ;; esac
			addr=${local_addr%:*}
			port=$((16#${local_addr#*:}))
			if [ "$file" = /proc/net/tcp6 ]; then
				echo "v6:$port"
				continue
			fi
			h=$addr # little-endian hex of the IPv4 address
			echo "$((16#${h:6:2})).$((16#${h:4:2})).$((16#${h:2:2})).$((16#${h:0:2})):$port"
		done < <(tail -n +2 "$file")
	done
}

# No listener off loopback, none on Ceph's default ports.
loopback_private_ports() {
	local l port bad=0
	for l in $(listening "$1"); do
		port=${l##*:}
		case $l in 127.0.0.1:*) ;; *) echo "  listening on $l" >&2; bad=1 ;; esac
		if [ "$port" -eq 3300 ] || [ "$port" -eq 6789 ] ||
			{ [ "$port" -ge 6800 ] && [ "$port" -le 7300 ]; }; then
			echo "  listening on default port $l" >&2
			bad=1
		fi
	done
	[ "$bad" -eq 0 ]
}

same_file() { cmp -s "$1" "$2"; }
contains() { grep -qiE "$2" "$1"; }
not_contains() { ! grep -qiE "$2" "$1"; }
fails() { ! "$@"; }
nonempty() { [ -n "$1" ]; }
differ() { [ "$1" != "$2" ]; }
gone() { [ ! -e "$1" ]; }
quiet() { "$@" >/dev/null 2>&1; }
absent() { ! rados -p "$1" stat "$2" >/dev/null 2>&1; }

head -c 4096 /dev/urandom >"$tmp/payload"

begin admin_round_trip
check "put as client.admin" rados -p "$RT_TEST_POOL" put "$obj" "$tmp/payload"
check "get as client.admin" rados -p "$RT_TEST_POOL" get "$obj" "$tmp/back"
check "bytes come back unchanged" same_file "$tmp/payload" "$tmp/back"
check "object listed" contains <(rados -p "$RT_TEST_POOL" ls) "^$obj\$"
end

begin second_pool_is_separate
check "put in pool 2" rados -p "$RT_TEST_POOL2" put "$obj" /etc/hostname
check "pool 2 holds its own bytes" same_file <(rados -p "$RT_TEST_POOL2" get "$obj" -) /etc/hostname
check "pool 1 object unchanged" same_file <(rados -p "$RT_TEST_POOL" get "$obj" -) "$tmp/payload"
end

begin readonly_client_reads
check "rtro reads the object" rados --id rtro --keyring "$RT_TEST_RO_KEYRING" \
	-p "$RT_TEST_POOL" get "$obj" "$tmp/ro_back"
check "rtro sees the same bytes" same_file "$tmp/payload" "$tmp/ro_back"
end

begin readonly_client_denied_write
rados --id rtro --keyring "$RT_TEST_RO_KEYRING" -p "$RT_TEST_POOL" \
	put "$obj-ro" /etc/hostname >"$tmp/ro_put.out" 2>&1
status=$?
check "rtro write fails (status $status)" differ "$status" 0
check "with a permission error" contains "$tmp/ro_put.out" "not permitted|permission denied"
check "nothing written" absent "$RT_TEST_POOL" "$obj-ro"
rados --id rtro --keyring "$RT_TEST_RO_KEYRING" -p "$RT_TEST_POOL" \
	rm "$obj" >"$tmp/ro_rm.out" 2>&1
check "rtro remove fails" differ "$?" 0
check "object still there" rados -p "$RT_TEST_POOL" stat "$obj"
end

begin wrong_key_rejected
sed 's/key = .*/key = AQAAAAAAAAAAABAAAAAAAAAAAAAAAAAAAAAAAA==/' "$RT_TEST_RO_KEYRING" >"$tmp/bad.keyring"
timeout 30 rados --id rtro --keyring "$tmp/bad.keyring" --client-mount-timeout 5 \
	-p "$RT_TEST_POOL" ls >"$tmp/bad.out" 2>&1
check "a wrong secret is refused (cephx on)" differ "$?" 0
check "by authentication" contains "$tmp/bad.out" "auth|denied|not permitted"
end

begin loopback_private_ports
first_port=$(mon_port "$CEPH_CONF")
check "mon port read from ceph.conf" nonempty "$first_port"
check "daemons alive" all_alive "$RT_CLUSTER_DIR/pids"
check "listeners on 127.0.0.1, off default ports" loopback_private_ports "$RT_CLUSTER_DIR/pids"
check "some listener found" nonempty "$(listening "$RT_CLUSTER_DIR/pids")"
end

begin second_cluster_side_by_side
first_pids=$(cut -d' ' -f1 "$RT_CLUSTER_DIR/pids")
mkdir -p "$second"
if "$cluster_sh" start "$second" 2>"$tmp/second.err"; then
	second_pids=$(cut -d' ' -f1 "$second/pids")
	check "second cluster's daemons alive" all_alive "$second/pids"
	check "different mon port" differ "$(mon_port "$second/ceph.conf")" "$first_port"
	check "no listener shared with the first" fails grep -qxF -f \
		<(listening "$RT_CLUSTER_DIR/pids") <(listening "$second/pids")
	check "second on loopback, off default ports" loopback_private_ports "$second/pids"
	check "different fsid" differ "$(grep '^fsid' "$second/ceph.conf")" \
		"$(grep '^fsid' "$CEPH_CONF")"
	check "I/O on the second" rados -c "$second/ceph.conf" -p rt put "$obj" /etc/hostname
	check "second holds its own bytes" same_file \
		<(rados -c "$second/ceph.conf" -p rt get "$obj" -) /etc/hostname
	check "the first's admin key is refused by the second" fails quiet timeout 30 \
		rados -c "$second/ceph.conf" --keyring "$RT_CLUSTER_DIR/keyring.admin" \
		--client-mount-timeout 5 -p rt ls
	"$cluster_sh" stop "$second"
	check "stop succeeds" test $? -eq 0
	# shellcheck disable=SC2086
	check "second's daemons gone" none_alive $second_pids
	check "second's directory removed" gone "$second"
	"$cluster_sh" stop "$second"
	check "stopping twice is harmless" test $? -eq 0
else
	cat "$tmp/second.err" >&2
	check "second cluster starts" false
fi
check "first cluster's daemons untouched" all_alive "$RT_CLUSTER_DIR/pids"
check "first cluster's pids unchanged" test "$first_pids" = "$(cut -d' ' -f1 "$RT_CLUSTER_DIR/pids")"
check "first cluster still serves" same_file <(rados -p "$RT_TEST_POOL" get "$obj" -) "$tmp/payload"
end

begin stop_refuses_foreign_directory
mkdir -p "$tmp/foreign"
echo keep >"$tmp/foreign/file"
"$cluster_sh" stop "$tmp/foreign" 2>/dev/null
check "stop of a non-cluster directory fails" differ "$?" 0
check "and leaves it alone" test -f "$tmp/foreign/file"
end

echo "cluster: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
