#!/bin/bash
# cluster.sh - a throwaway single-node Ceph cluster for tests and the demo.
#
#   tests/cluster.sh start DIR      DIR: an empty directory made by the caller
#   tests/cluster.sh stop DIR       kill what `start` started, remove DIR
#   tests/cluster.sh osd-kill DIR   SIGKILL the OSD, return once it is gone
#   tests/cluster.sh osd-start DIR  start the OSD again with the same command
#                                   line; return once it is up and in and
#                                   every PG of both pools answers an op
#   tests/cluster.sh pause DIR      `ceph osd pause`: no reads or writes
#   tests/cluster.sh unpause DIR    `ceph osd unpause`
#
# One ceph-mon and one ceph-osd (memstore, so nothing touches a disk but DIR),
# cephx on, pool size 1, bound to 127.0.0.1 on ports picked free at start, so
# several clusters run side by side.  No ceph-mgr: plain I/O does not need
# one (but `ceph -s` and `pg stat` hang without it, so nothing here waits on
# them).  Everything lives under DIR:
#
#   ceph.conf        client.admin by default (keyring.admin); `--id rtro`
#                    finds keyring.rtro through its own section
#   env              `. DIR/env` exports CEPH_CONF, RT_TEST_POOL(2),
#                    RT_TEST_RO_KEYRING, RT_TEST_RO_ID, RT_CLUSTER_DIR
#   keyring.*        admin (all caps), rtro (read-only), osd, mon
#   pids             "PID NAME" of each daemon started; `stop` kills these only
#   log/, run/, mon/, osd/, crash/
#
# `start` returns once a write and a read through pool rt have succeeded, and
# gives up after RT_CLUSTER_TIMEOUT seconds (default 60), printing the tail of
# the daemon logs and killing the daemons (DIR stays for the caller's `stop`).
# `osd-start` has the same bound.
#
# RT_CLUSTER_STORE=bluestore (at `start`) puts the OSD on BlueStore in a
# sparse 2 GiB file, DIR/osd/osd.0/block, with small caches, instead of
# memstore: slower to make but it keeps its objects across a SIGKILL, which
# the fault tests need (memstore loses everything when the process dies).
set -u
# Our own commands name their config and identity; a CEPH_ARGS of the
# caller's (say --id someone) must not leak into them.
unset CEPH_ARGS

prog=${0##*/}
timeout_s=${RT_CLUSTER_TIMEOUT:-60}
# The system interpreter: it has the rados bindings (python3-rados comes with
# ceph-common), a pyenv or venv python3 on PATH may not.
py=/usr/bin/python3
helper_pid=	# the setup client or I/O probe running in the background

die() {
	echo "$prog: $*" >&2
	exit 1
}

# Absolute path of an existing directory, so the config does not depend on
# where the caller stands.
absdir() {
	(cd "$1" 2>/dev/null && pwd -P)
}

# Kills the pids listed in DIR/pids that still run our daemons, the last
# started first: the OSD tells the mon it is going down and waits for the
# answer, so with the mon gone first it would hang on that.  Each gets TERM,
# up to ~5 s of grace, then KILL.  A pid is ours only while its command line
# names our ceph.conf; a recycled pid belongs to someone else.
kill_daemons() {
	local dir=$1 pid name rc=0
	local pids=()
	[ -f "$dir/pids" ] || return 0
	while read -r pid name; do
		[ -n "$pid" ] && pids=("$pid" ${pids[@]+"${pids[@]}"})
	done <"$dir/pids"
	for pid in ${pids[@]+"${pids[@]}"}; do
		is_ours "$pid" "$dir" || continue
		kill -TERM "$pid" 2>/dev/null
		wait_gone "$pid" 50 && continue
		kill -KILL "$pid" 2>/dev/null
		wait_gone "$pid" 50 && continue
		echo "$prog: pid $pid still running after KILL" >&2
		rc=1
	done
	return $rc
}

# wait_gone PID TENTHS: waits up to TENTHS/10 s for PID to be gone.  Once it
# was ours, "still there" means only "alive": an exiting process may already
# show an empty command line.
wait_gone() {
	for _ in $(seq "$2"); do
		is_alive "$1" || return 0
		sleep 0.1
	done
	! is_alive "$1"
}

# True while PID exists and is not a finished zombie.  A thread-group leader
# shows state Z as soon as it exits while its other threads are still being
# torn down, so a zombie counts as alive while it has more than one task.
is_alive() {
	local state tasks
	state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)
	[ -n "$state" ] || return 1
	[ "$state" != Z ] && return 0
	tasks=$(find "/proc/$1/task" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
	[ "$tasks" -gt 1 ]
}

# True when PID is alive and was started with DIR/ceph.conf.
is_ours() {
	is_alive "$1" &&
		tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | grep -qxF "$2/ceph.conf"
}

# spawn NAME CMD...: runs a daemon in the foreground, in the background, and
# records its pid.  The subshell execs the daemon, so $! is the daemon
# itself.  Every inherited descriptor but 0-2 is closed first, and those go
# to /dev/null and the log: a daemon holding a pipe of the caller (make's
# output, a $(...) capture, a test runner) would keep its reader waiting
# for EOF until the cluster stops.
spawn() {
	local name=$1
	shift
	(
		# No redirection on this loop: bash would park the saved
		# descriptor above 2 and the loop would close it.
		for fd in "/proc/$BASHPID/fd"/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		exec "$@"
	) </dev/null >>"$dir/log/$name.out" 2>&1 &
	echo "$! $name" >>"$dir/pids"
}

show_logs() {
	local dir=$1 f
	for f in "$dir"/log/*; do
		[ -s "$f" ] || continue
		echo "--- tail of $f:" >&2
		# Without the mon store's (rocksdb) statistics dumps.
		grep -v -E 'rocksdb|^(\*\*|Level |Priority |[ ]Sum|[ ]Int|-----|Uptime|Flush|AddFile|Cumulative|Interval|Stalls|$)' \
			"$f" | tail -n 20 >&2
	done
}

fail_start() {
	echo "$prog: start $dir: $*" >&2
	[ -n "$helper_pid" ] && kill "$helper_pid" 2>/dev/null
	show_logs "$dir"
	kill_daemons "$dir"
	exit 1
}

# One write, read and remove through pool rt as client.admin, the way the
# tests will talk to the cluster.
probe() {
	local conf=$dir/ceph.conf
	timeout 5 rados -c "$conf" -p rt put probe /etc/hostname >"$dir/log/probe.out" 2>&1 &&
		timeout 5 rados -c "$conf" -p rt get probe - >/dev/null 2>>"$dir/log/probe.out" &&
		timeout 5 rados -c "$conf" -p rt rm probe >>"$dir/log/probe.out" 2>&1
}

interrupted() {
	trap - INT TERM HUP
	[ -n "$helper_pid" ] && kill "$helper_pid" 2>/dev/null
	kill_daemons "$dir"
	exit "$1"
}

# Fails the start when a daemon died or the deadline passed.
check_progress() {
	local pid name
	while read -r pid name; do
		is_ours "$pid" "$dir" || fail_start "$name (pid $pid) exited"
	done <"$dir/pids"
	[ "$(date +%s)" -lt "$deadline" ] ||
		fail_start "not ready after ${timeout_s}s: $1"
}

# Reads the next line of mon_setup (fd 9) and fails unless it is WANT.  A
# read that times out keeps what it read of the line so far (bash reads a
# pipe byte by byte, so the timeout can fall inside a line): that part is
# kept for the next read, or a loaded machine sees "sd" for "osd".
await_line() {
	local line rc part=
	while :; do
		line=
		read -r -t 0.5 line <&9
		rc=$?
		line=$part$line
		if [ $rc -eq 0 ]; then
			[ "$line" = "$1" ] && return 0
			fail_start "mon setup printed \"$line\", expected \"$1\""
		fi
		[ $rc -gt 128 ] || fail_start "mon setup failed before \"$1\""
		part=$line
		check_progress "mon setup did not reach \"$1\""
	done
}

# Prints a base port B such that B..B+15 are all free on 127.0.0.1.  The mon
# takes B, the OSD binds inside B+1..B+15.  Picked at random below the
# kernel's ephemeral range, so outgoing connections do not take them either,
# and far from Ceph's defaults (3300, 6789, 6800-7300).
pick_ports() {
	"$py" - <<'EOF'
import random, socket
lo, hi = 10000, 32768
try:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        eph_lo, eph_hi = map(int, f.read().split())
    if eph_lo >= lo + 2000:
        hi = eph_lo
    else:
        lo, hi = eph_hi + 1, 65536
except (OSError, ValueError):
    pass
def free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()
for _ in range(500):
    base = random.randrange(lo, hi - 16)
    if all(free(p) for p in range(base, base + 16)):
        print(base)
        break
else:
    raise SystemExit("no 16 consecutive free ports")
EOF
}

# Mon commands through one client connection: create osd.0 in the osdmap and
# the two pools.  Prints "osd" once osd.0 exists, so the caller can boot the
# OSD while the pools are being made.
mon_setup() {
	exec "$py" - "$dir/ceph.conf" "$osd_uuid" "$timeout_s" <<'EOF'
import errno, json, sys, time
import rados
conf, osd_uuid, timeout = sys.argv[1:4]
r = rados.Rados(conffile=conf, name="client.admin")
r.conf_set("client_mount_timeout", timeout)
r.conf_set("rados_mon_op_timeout", timeout)
r.connect()
def cmd(**kw):
    for _ in range(100):
        ret, out, outs = r.mon_command(json.dumps(kw), b"")
        if ret in (-errno.EAGAIN, -errno.EBUSY):
            time.sleep(0.1)
            continue
        if ret != 0:
            raise SystemExit("%s: %s (%d)" % (kw["prefix"], outs, ret))
        return
    raise SystemExit("%s: still busy" % kw["prefix"])
cmd(prefix="osd new", uuid=osd_uuid, id=0)
print("osd", flush=True)
for pool in ("rt", "rt2"):
    cmd(prefix="osd pool create", pool=pool, pg_num=8, pgp_num=8)
    cmd(prefix="osd pool application enable", pool=pool, app="rados")
r.shutdown()
print("pools", flush=True)
EOF
}

# The [osd] lines that choose and size the objectstore (RT_CLUSTER_STORE).
store_conf() {
	case $store in
	memstore)
		echo "osd_objectstore = memstore"
		echo "memstore_device_bytes = 4294967296"
		;;
	bluestore)
		# A sparse file made by mkfs; 2 GiB leaves BlueFS and the
		# allocator room, and only what is written takes disk space.
		cat <<EOF
osd_objectstore = bluestore
bluestore_block_create = true
bluestore_block_size = 2147483648
bluestore_block_db_create = false
bluestore_block_wal_create = false
# Small, fixed caches: several test clusters share one small machine.
bluestore_cache_autotune = false
bluestore_cache_size = 67108864
osd_memory_target = 939524096
# mkfs would read back everything it just wrote; a test cluster need not.
bluestore_fsck_on_mkfs = false
# RocksDB's defaults less the big memtables (256 MiB, 1 GiB of WAL): a
# restart after SIGKILL replays the WAL, which took ~15 s at those sizes
# after a few thousand tracker writes, and the small ones bound it.
bluestore_rocksdb_options = compression=kNoCompression,max_write_buffer_number=4,min_write_buffer_number_to_merge=1,recycle_log_file_num=4,write_buffer_size=16777216,writable_file_max_buffer_size=0,compaction_readahead_size=2097152,max_background_compactions=2,max_total_wal_size=67108864
EOF
		;;
	esac
}

start() {
	local t0 base mon_port osd_lo osd_hi fsid
	t0=$(date +%s%N)
	[ -d "$1" ] || die "start: $1: no such directory"
	dir=$(absdir "$1") || die "start: $1: cannot enter"
	case $dir in
	*[[:space:]\$\;\#=]*) die "start: $dir: Ceph config cannot hold this path" ;;
	esac
	[ -z "$(ls -A "$dir")" ] || die "start: $dir is not empty"
	store=${RT_CLUSTER_STORE:-memstore}
	case $store in
	memstore | bluestore) ;;
	*) die "start: RT_CLUSTER_STORE=$store: want memstore or bluestore" ;;
	esac
	if ! command -v ceph-mon >/dev/null || ! command -v ceph-osd >/dev/null ||
		! command -v rados >/dev/null || ! [ -x "$py" ]; then
		die "start: needs ceph-mon, ceph-osd, ceph-common, python3 (apt-get install ceph-mon ceph-osd ceph-common python3)"
	fi

	# The marker and pids file first: `stop` of a half-started cluster then
	# still knows the directory is ours.
	: >"$dir/pids" || die "start: cannot write in $dir"
	# Killed half-way (a test's timeout, ^C): take the daemons along.
	trap 'interrupted 130' INT
	trap 'interrupted 143' TERM
	trap 'interrupted 129' HUP
	mkdir "$dir/log" "$dir/run" "$dir/mon" "$dir/osd" "$dir/osd/osd.0" "$dir/crash"

	base=$(pick_ports) || fail_start "cannot find free ports"
	mon_port=$base
	osd_lo=$((base + 1))
	osd_hi=$((base + 15))
	fsid=$(cat /proc/sys/kernel/random/uuid)
	osd_uuid=$(cat /proc/sys/kernel/random/uuid)

	# Each client its own keyring; the mon's holds every key so that its
	# mkfs puts them all into the auth database (no auth commands later).
	if ! {
		ceph-authtool --create-keyring "$dir/keyring.admin" --gen-key \
			-n client.admin --cap mon 'allow *' --cap osd 'allow *' \
			--cap mgr 'allow *' --cap mds 'allow *' &&
		ceph-authtool --create-keyring "$dir/keyring.rtro" --gen-key \
			-n client.rtro --cap mon 'allow r' --cap osd 'allow r' &&
		ceph-authtool --create-keyring "$dir/keyring.osd" --gen-key \
			-n osd.0 --cap mon 'allow profile osd' --cap osd 'allow *' \
			--cap mgr 'allow profile osd' &&
		ceph-authtool --create-keyring "$dir/keyring.mon.only" --gen-key \
			-n mon. --cap mon 'allow *'
	} >"$dir/log/mkfs.out" 2>&1; then
		fail_start "ceph-authtool failed"
	fi
	cat "$dir/keyring.mon.only" "$dir/keyring.admin" "$dir/keyring.osd" \
		"$dir/keyring.rtro" >"$dir/keyring.mon"
	rm -f "$dir/keyring.mon.only"
	chmod 600 "$dir"/keyring.*

	cat >"$dir/ceph.conf" <<EOF
# Throwaway test cluster made by tests/cluster.sh; removed by its "stop".
[global]
fsid = $fsid
mon_host = [v2:127.0.0.1:$mon_port]
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_msgr1 = false
ms_bind_msgr2 = true
ms_bind_ipv6 = false
ms_bind_port_min = $osd_lo
ms_bind_port_max = $osd_hi
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
keyring = $dir/keyring.admin
run_dir = $dir/run
crash_dir = $dir/crash
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_allow_pool_delete = true
mon_warn_on_pool_no_redundancy = false

[mon]
mon_data = $dir/mon/\$name
keyring = $dir/keyring.mon
log_file = $dir/log/\$name.log
admin_socket = $dir/run/\$name.asok
pid_file = $dir/run/\$name.pid
# A single mon on a disk shared with the build: do not refuse to start
# because the host disk is nearly full.
mon_data_avail_crit = 0
mon_data_avail_warn = 0
# The cluster and audit logs would go to /var/log/ceph; mon.a.log has them.
mon_cluster_log_to_file = false
# Commit mon changes (osd boot, pool creation) without the 1 s batching delay.
paxos_propose_interval = 0.05

[osd]
osd_data = $dir/osd/\$name
$(store_conf)
keyring = $dir/keyring.osd
log_file = $dir/log/\$name.log
admin_socket = $dir/run/\$name.asok
pid_file = $dir/run/\$name.pid
# If the mon is already gone, do not wait the default 5 s for its answer to
# "going down".
osd_mon_shutdown_timeout = 1

[client.rtro]
keyring = $dir/keyring.rtro
EOF

	cat >"$dir/env" <<EOF
# Source this (. $dir/env) to talk to the throwaway cluster as client.admin.
export CEPH_CONF=$dir/ceph.conf
export RT_TEST_POOL=rt
export RT_TEST_POOL2=rt2
export RT_TEST_RO_KEYRING=$dir/keyring.rtro
export RT_TEST_RO_ID=rtro
export RT_CLUSTER_DIR=$dir
EOF

	monmaptool --create --fsid "$fsid" \
		--addv a "[v2:127.0.0.1:$mon_port]" "$dir/monmap" \
		>>"$dir/log/mkfs.out" 2>&1 || fail_start "monmaptool failed"
	ceph-mon --mkfs -i a -c "$dir/ceph.conf" --monmap "$dir/monmap" \
		--keyring "$dir/keyring.mon" >>"$dir/log/mkfs.out" 2>&1 ||
		fail_start "ceph-mon --mkfs failed"
	ceph-osd --mkfs -i 0 -c "$dir/ceph.conf" --osd-uuid "$osd_uuid" \
		--no-mon-config >>"$dir/log/mkfs.out" 2>&1 ||
		fail_start "ceph-osd --mkfs failed"

	spawn mon.a ceph-mon -f -i a -c "$dir/ceph.conf"

	# mon_setup prints "osd" once osd.0 exists; boot the OSD then, while
	# the pools are created.
	deadline=$(($(date +%s) + timeout_s))
	exec 9< <(mon_setup 2>"$dir/log/setup.out")
	helper_pid=$!
	await_line osd
	spawn osd.0 "${osd_cmd[@]}" "$dir/ceph.conf" --no-mon-config
	await_line pools
	exec 9<&-
	helper_pid=

	# Ready means a real write and read went through.  An op waits while
	# the PGs peer, so a try may block a little before it succeeds; it runs
	# in the background so that a daemon dying meanwhile is seen at once.
	while :; do
		probe &
		helper_pid=$!
		while is_alive "$helper_pid"; do
			check_progress "no I/O through pool rt: $(tail -n 3 "$dir/log/probe.out")"
			sleep 0.1
		done
		wait "$helper_pid" && break
		check_progress "no I/O through pool rt: $(tail -n 3 "$dir/log/probe.out")"
		sleep 0.2
	done
	helper_pid=
	echo "$prog: up in $((($(date +%s%N) - t0) / 1000000)) ms: $dir (mon 127.0.0.1:$mon_port, OSD ports $osd_lo-$osd_hi)" >&2
}

# The OSD's command line, for `start` and `osd-start` alike.
osd_cmd=(ceph-osd -f -i 0 -c)

# The directory of a running cluster of ours, or die.
cluster_dir() {
	dir=$(absdir "$1") || die "$2: $1: cannot enter"
	[ -f "$dir/pids" ] && [ -f "$dir/ceph.conf" ] ||
		die "$2: $dir holds no cluster (no pids file)"
}

# The pid of the OSD as DIR/pids records it (the last start).
osd_pid() {
	awk '$2 == "osd.0" { p = $1 } END { if (p) print p }' "$dir/pids"
}

# mon_cmd PREFIX [JSON-ARGS]: one mon command as client.admin, bounded by
# the timeout; prints its JSON output.
mon_cmd() {
	local args=${2:-}
	[ -n "$args" ] || args='{}'
	"$py" - "$dir/ceph.conf" "$timeout_s" "$1" "$args" <<'EOF'
import json, sys
import rados
conf, timeout, prefix, args = sys.argv[1:5]
r = rados.Rados(conffile=conf, name="client.admin")
r.conf_set("client_mount_timeout", timeout)
r.conf_set("rados_mon_op_timeout", timeout)
r.connect()
cmd = dict(json.loads(args), prefix=prefix, format="json")
ret, out, outs = r.mon_command(json.dumps(cmd), b"")
r.shutdown()
if ret != 0:
    raise SystemExit("%s: %s (%d)" % (prefix, outs, ret))
sys.stdout.write(out.decode())
EOF
}

# SIGKILL, by the pid `start` recorded, and wait until the process is gone
# (its threads too: a half-dead OSD still holds its block file's lock).
osd_kill() {
	local pid
	cluster_dir "$1" osd-kill
	pid=$(osd_pid)
	[ -n "$pid" ] && is_ours "$pid" "$dir" || die "osd-kill: no OSD of $dir is running"
	kill -KILL "$pid" 2>/dev/null
	wait_gone "$pid" $((timeout_s * 10)) ||
		die "osd-kill: pid $pid still there ${timeout_s}s after SIGKILL"
}

# Starts the OSD again, then waits until the mon has it up and in (booted
# after the start, so not the dead instance's record) and every PG of both
# pools has served an op: with one OSD and size 1 that is active+clean,
# which without a ceph-mgr cannot be asked for directly.
osd_start() {
	local pid epoch
	cluster_dir "$1" osd-start
	pid=$(osd_pid)
	[ -n "$pid" ] && is_ours "$pid" "$dir" && die "osd-start: the OSD of $dir runs (pid $pid)"
	deadline=$(($(date +%s) + timeout_s))
	epoch=$(mon_cmd "osd dump" | "$py" -c 'import json, sys; print(json.load(sys.stdin)["epoch"])') ||
		die "osd-start: the mon does not answer"
	# The pids file gets the new OSD pid in place of the old one.
	grep -v ' osd\.0$' "$dir/pids" >"$dir/pids.new" && mv "$dir/pids.new" "$dir/pids"
	spawn osd.0 "${osd_cmd[@]}" "$dir/ceph.conf" --no-mon-config
	pid=$(osd_pid)
	"$py" - "$dir/ceph.conf" "$epoch" "$deadline" >"$dir/log/osd-start.out" 2>&1 <<'EOF' &
import errno, json, sys, time
import rados
conf, epoch, deadline = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def handle():
    r = rados.Rados(conffile=conf, name="client.admin")
    left = str(max(1, deadline - int(time.time())))
    r.conf_set("client_mount_timeout", left)
    r.conf_set("rados_mon_op_timeout", left)
    r.conf_set("rados_osd_op_timeout", left)
    r.connect()
    return r
def mon(r, **kw):
    ret, out, outs = r.mon_command(json.dumps(dict(kw, format="json")), b"")
    if ret != 0:
        raise SystemExit("%s: %s (%d)" % (kw["prefix"], outs, ret))
    return json.loads(out)
r = handle()
while True:
    osd = [o for o in mon(r, prefix="osd dump")["osds"] if o["osd"] == 0][0]
    if osd["up"] and osd["in"] and osd["up_from"] > epoch:
        break
    if time.time() > deadline:
        raise SystemExit("osd.0 not up and in: %s" % json.dumps(osd))
    time.sleep(0.1)
# One object name per PG of each pool, and a stat of each through a handle
# made now, whose first map has the new OSD: the stat waits for its PG to
# go active, and ENOENT is an answer.
pools = {}
for p in mon(r, prefix="osd pool ls", detail="detail"):
    pools[p["pool_name"]] = p["pg_num"]
names = {}
for pool, pgs in pools.items():
    seen, i = {}, 0
    while len(seen) < pgs:
        m = mon(r, prefix="osd map", pool=pool, object="pg-probe-%d" % i)
        seen.setdefault(m["pgid"], "pg-probe-%d" % i)
        i += 1
    names[pool] = sorted(seen.values())
r.shutdown()
r = handle()
for pool, objs in names.items():
    io = r.open_ioctx(pool)
    for o in objs:
        try:
            io.stat(o)
        except rados.ObjectNotFound:
            pass
    io.close()
r.shutdown()
print("osd.0 up, in, %d PGs answered" % sum(len(v) for v in names.values()))
EOF
	helper_pid=$!
	while is_alive "$helper_pid"; do
		is_ours "$pid" "$dir" || { kill "$helper_pid" 2>/dev/null; helper_pid=; die "osd-start: the OSD (pid $pid) exited: $(tail -n 5 "$dir/log/osd.0.out")"; }
		if [ "$(date +%s)" -gt $((deadline + 5)) ]; then
			kill "$helper_pid" 2>/dev/null
			die "osd-start: not ready after ${timeout_s}s"
		fi
		sleep 0.1
	done
	wait "$helper_pid" || die "osd-start: $(tail -n 3 "$dir/log/osd-start.out")"
	helper_pid=
}

stop() {
	[ -e "$1" ] || return 0
	dir=$(absdir "$1") || die "stop: $1: cannot enter"
	if [ ! -e "$dir/pids" ]; then
		# Never rm -rf a directory we did not make; an empty one is fine.
		rmdir "$dir" 2>/dev/null && return 0
		die "stop: $dir holds no cluster (no pids file); not removing it"
	fi
	kill_daemons "$dir" || die "stop: could not kill every daemon; $dir kept"
	rm -rf "$dir"
}

case ${1:-} in
start) [ $# -eq 2 ] || die "usage: $prog start DIR"; start "$2" ;;
stop) [ $# -eq 2 ] || die "usage: $prog stop DIR"; stop "$2" ;;
osd-kill) [ $# -eq 2 ] || die "usage: $prog osd-kill DIR"; osd_kill "$2" ;;
osd-start) [ $# -eq 2 ] || die "usage: $prog osd-start DIR"; osd_start "$2" ;;
pause | unpause)
	[ $# -eq 2 ] || die "usage: $prog $1 DIR"
	cluster_dir "$2" "$1"
	mon_cmd "osd $1" >/dev/null || die "$1: the mon refused"
	;;
*) die "usage: $prog start|stop|osd-kill|osd-start|pause|unpause DIR" ;;
esac
