#!/bin/bash
# run.sh BUILD_DIR - `make bench`: every contender on the same workloads, on
# one throwaway cluster, in one run; prints a table of entries per second,
# the ratios between contenders, the cluster work each did per entry and
# peak memory, then the targets of issue 5.
#
# Times from different runs or machines do not compare; ratios within one
# run do.  The targets are informational: the exit status is 0 whatever the
# speed, 1 only when a contender failed or a check found a tracker or a
# journal in the wrong state.
#
# Contenders:
#   raw pipelined   bench_raw: read op + guarded write op per entry, many in
#                   flight on distinct objects, librados only: the limit.
#                   Run at every RT_BENCH_INFLIGHTS value; the best counts.
#   raw checked     bench_raw --mode checked: raw pipelined plus what a
#                   replayer that vouches for each tracker asks the OSD for
#                   (every xattr and the omap listing in the read, a marker
#                   xattr in the write): the least such a replayer costs.
#                   At every in-flight count, one entry on each of W1d's
#                   20,000 trackers (a probe on distinct objects costs the
#                   OSD more than raw's on 1,000): W1d's own minimum
#   raw create-only bench_raw --setup: one exclusive create per tracker
#                   (version xattr, count, one key), W4's minimum, at every
#                   in-flight count right before the W4 replay
#   raw write-only  bench_raw --mode write: the guarded write alone (what a
#                   replayer that needs no read would pay), at the best
#                   in-flight count of the raw pipelined runs
#   sync calls      bench_sync: rt_tracker_add/remove, one at a time
#   CLI loop        one reference-tracker process per entry, 500 entries
#   reftrack replay on a journal made by `reftrack submit`, at every
#                   RT_BENCH_INFLIGHTS value (each right after the raw run
#                   at the same count, so that both see the same machine);
#                   the best counts.  Also on W1d, W1 spread over 20,000
#                   trackers: the replayer merges a tracker's queued entries
#                   into one read and one write, and W1d leaves it nothing
#                   to merge, so it shows the per-entry pipeline against
#                   the raw probe, one read and one write each
#   replay, no-op   a journal whose entries all add a key the tracker holds
#                   already: the replayer reads to find that out and writes
#                   nothing (checked on the OSD's counters), so this is the
#                   journal's own cost with the cluster's part cut to reads.
#                   Once at W1's size and once at W3's (memory stays flat)
#   reftrack submit W3, 1,000,000 entries, no cluster work
#   reftrack scan   (issue 14) RT_BENCH_SCAN_TRACKERS trackers (default
#                   20,000) in a pool of their own (rt2): the pipelined
#                   scan (--inflight 64, the default) against a sequential
#                   one (--inflight 1, one tracker at a time), its rate,
#                   peak RSS, and that the OSD counted no write
#   W4 replay       20,000 adds, each to a tracker that does not exist yet
#                   (issue 13): a replayer that creates without reading
#                   first needs one op per entry.  At every in-flight count,
#                   right after W1d
#   two replayers   W5, two batches over the same 20,000 trackers with
#                   disjoint keys (issue 13, "Scaling out"): one replayer
#                   applying both (one journal) against two replayers, one
#                   journal each, started together; the same trackers are
#                   checked against the state both batches imply
#
# Each contender works on trackers of its own (its own RADOS namespace),
# created before the clock starts by `bench_raw --setup`, and is checked
# afterwards by bench_check (librados only, not the library) against the
# state gen_workload.py computed from its own model of the semantics.
#
# Knobs (environment):
#   RT_BENCH_INFLIGHTS     in-flight counts swept (default "128 256 512")
#   RT_BENCH_CLI_ENTRIES   entries of the CLI loop (default 500)
#   RT_BENCH_W3_ENTRIES    entries of W3 (default 1000000)
#   RT_BENCH_NOOP_ENTRIES  entries of the large no-op replay (default: W3's)
#   RT_BENCH_W3_REPLAY     1: also replay the W3 journal on the cluster
#                          (minutes; default 0)
#   RT_BENCH_LIMITS        0: skip the runs at the documented limits (issue
#                          13): submit of a 0.96 GiB file of 50 maximum-size
#                          requests (10,000 keys of 2,048 bytes each), and
#                          replay of 16 of them; default 1
#   RT_BENCH_SCAN_TRACKERS trackers of the scan section (default 20000)
#   RT_BENCH_W4_ENTRIES    entries of W4 (default 20000)
#   RT_BENCH_W5_TRACKERS   trackers of W5, entries per replayer (default
#                          20000)
#
# Output: the tables on stdout and in BUILD_DIR/bench/results.md; each
# contender's output in BUILD_DIR/bench/logs/.
set -u
unset CEPH_ARGS

prog=tests/bench/run.sh

# Hidden subcommand: the per-entry CLI loop, run as one child of bench_time
# so that its wall time and its biggest process are measured together.
#   run.sh --cli-loop REFERENCE_TRACKER OPSFILE NAMESPACE  (CEPH_CONF set)
if [ "${1:-}" = --cli-loop ]; then
	[ $# -eq 4 ] || exit 64
	tool=$2 ns=$4
	while read -r tracker op key; do
		case $op in
		add) how=(-o add) ;;
		rm) how=(-o rem) ;;
		mask) how=(-o rem -t mask) ;;
		*) echo "$prog: bad op $op" >&2; exit 1 ;;
		esac
		"$tool" -i admin -p "$RT_TEST_POOL" -c "$CEPH_CONF" -n "$ns" \
			-r "$tracker" -k "$key" "${how[@]}" >/dev/null || exit 1
	done <"$3"
	exit 0
fi

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
	echo "usage: $prog BUILD_DIR" >&2
	exit 64
fi
root=$(cd "$(dirname "$0")/../.." && pwd -P)
build=$(cd "$1" && pwd -P)
bin=$build/tests/bench
read -r -a inflights <<<"${RT_BENCH_INFLIGHTS:-128 256 512}"
cli_entries=${RT_BENCH_CLI_ENTRIES:-500}
w3_entries=${RT_BENCH_W3_ENTRIES:-1000000}
noop_entries=${RT_BENCH_NOOP_ENTRIES:-$w3_entries}
w3_replay=${RT_BENCH_W3_REPLAY:-0}
scan_trackers=${RT_BENCH_SCAN_TRACKERS:-20000}
limits=${RT_BENCH_LIMITS:-1}
w4_entries=${RT_BENCH_W4_ENTRIES:-20000}
w5_trackers=${RT_BENCH_W5_TRACKERS:-20000}
gen=$root/tests/bench/gen_workload.py
# The system interpreter starts in a tenth of the time a pyenv shim takes,
# and it runs twice per contender (the OSD's counters).
py=/usr/bin/python3
[ -x "$py" ] || py=python3

for v in "${inflights[@]}" "$cli_entries" "$w3_entries" "$noop_entries" "$scan_trackers" \
	"$w4_entries" "$w5_trackers"; do
	case $v in
	'' | *[!0-9]* | 0) echo "$prog: not a positive number: '$v'" >&2; exit 64 ;;
	esac
done
[ ${#inflights[@]} -gt 0 ] || { echo "$prog: RT_BENCH_INFLIGHTS is empty" >&2; exit 64; }
for b in bench_raw bench_sync bench_check bench_time; do
	[ -x "$bin/$b" ] || { echo "$prog: $bin/$b missing (make bench builds it)" >&2; exit 1; }
done
for b in reftrack reference-tracker; do
	[ -x "$build/$b" ] || { echo "$prog: $build/$b missing" >&2; exit 1; }
done

out=$build/bench
logs=$out/logs
rm -rf "$logs"
mkdir -p "$logs" || exit 1
work=$(mktemp -d "${TMPDIR:-/tmp}/reftrack-bench.XXXXXX") || exit 1
cluster=$work/cluster
mkdir "$cluster"

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
	"$root/tests/cluster.sh" stop "$cluster"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

t_start=$(date +%s)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
say() {
	echo "bench [$(($(date +%s) - t_start))s]: $*" >&2
}

failures=0
fail() {
	echo "$prog: FAILED: $*" >&2
	failures=$((failures + 1))
}

# val KEY FILE: the value of the first KEY=VALUE word in FILE.
val() {
	grep -o "\b$1=[^ ]*" "$2" 2>/dev/null | head -n 1 | cut -d= -f2
}

# jval KEY FILE: the value of the first "KEY":VALUE in FILE (flat JSON).
jval() {
	grep -o "\"$1\":[^,}]*" "$2" 2>/dev/null | head -n 1 | cut -d: -f2
}

# calc EXPR: awk arithmetic, printed with up to 6 significant digits.
calc() {
	awk "BEGIN { print $1 }"
}

# ---- the OSD's own view -------------------------------------------------------
# The client's timing says how fast; the OSD says how much work each entry
# cost it: its op counter (so a replayer that merges entries shows fewer ops
# per entry than the probes) and its CPU time (on this machine the OSD's CPU
# is the limit, and CPU seconds are far less disturbed by other load on the
# machine than wall seconds are).
osd_pid=
osd_asok=

# osd_snap FILE: writes "ops=N writes=N cpu=S" for the OSD now.  ops are
# the client requests its messengers received: the op counter leaves out
# an op that fails before it runs (a read of a missing object), which W4's
# replayer would otherwise seem not to send.
osd_snap() {
	"$py" - "$osd_asok" "$osd_pid" >"$1" 2>>"$logs/osd.err" <<'EOF'
import json, os, socket, struct, sys

# The admin socket: a JSON command and a NUL out; a 4-byte big-endian
# length and that much JSON back.
s = socket.socket(socket.AF_UNIX)
s.settimeout(30)
s.connect(sys.argv[1])
s.sendall(b'{"prefix": "perf dump"}\0')
def read(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            sys.exit("admin socket closed early")
        b += c
    return b
dump = json.loads(read(struct.unpack(">I", read(4))[0]))
osd = dump["osd"]
msgs = sum(v.get("msgr_recv_messages", 0) for k, v in dump.items()
           if k.startswith("AsyncMessenger::Worker"))
with open("/proc/%s/stat" % sys.argv[2]) as f:
    fields = f.read().rsplit(")", 1)[1].split()
ticks = os.sysconf("SC_CLK_TCK")
# op_rw: writes that also read (assert_version makes every guarded write
# one), so writes = op_w + op_rw.
print("ops=%d writes=%d cpu=%.2f" % (msgs, osd["op_w"] + osd["op_rw"],
      (int(fields[11]) + int(fields[12])) / ticks))
EOF
}

# osd_delta NAME: logs/NAME.osd from logs/NAME.osd0 and logs/NAME.osd1.
osd_delta() {
	local a=$logs/$1.osd0 b=$logs/$1.osd1
	if [ -s "$a" ] && [ -s "$b" ]; then
		echo "ops=$(($(val ops "$b") - $(val ops "$a")))" \
			"writes=$(($(val writes "$b") - $(val writes "$a")))" \
			"cpu=$(calc "$(val cpu "$b") - $(val cpu "$a")")" >"$logs/$1.osd"
	else
		: >"$logs/$1.osd"
	fi
}

# timed NAME CMD...: runs CMD under bench_time with its output in
# logs/NAME.out (stdout) and logs/NAME.err, the bench_time line in
# logs/NAME.time and the OSD's work in logs/NAME.osd.  Returns CMD's status.
timed() {
	local name=$1 rc
	shift
	osd_snap "$logs/$name.osd0"
	"$bin/bench_time" "$logs/$name.time" "$@" >"$logs/$name.out" 2>"$logs/$name.err"
	rc=$?
	osd_snap "$logs/$name.osd1"
	osd_delta "$name"
	[ $rc -eq 0 ] || { echo "--- $name (exit $rc):" >&2; tail -n 5 "$logs/$name.err" >&2; }
	return $rc
}

# ---- results ------------------------------------------------------------------
# One row per contender, in parallel arrays: workload, key (for lookups),
# label, entries, seconds, log name (for RSS, CPU and OSD figures), note
# (non-empty: shown instead of the figures).
r_work=() r_key=() r_label=() r_n=() r_sec=() r_log=() r_note=()
row() {
	r_work+=("$1") r_key+=("$2") r_label+=("$3") r_n+=("$4") r_sec+=("$5") r_log+=("$6") r_note+=("${7:-}")
}

# rate_of KEY WORKLOAD: entries/s of that row, or "" if it has no figures.
rate_of() {
	local i
	for i in "${!r_key[@]}"; do
		if [ "${r_key[$i]}" = "$1" ] && [ "${r_work[$i]}" = "$2" ] && [ -z "${r_note[$i]}" ]; then
			calc "${r_n[$i]} / ${r_sec[$i]}"
			return
		fi
	done
}

# log_of KEY WORKLOAD: the log name of that row.
log_of() {
	local i
	for i in "${!r_key[@]}"; do
		if [ "${r_key[$i]}" = "$1" ] && [ "${r_work[$i]}" = "$2" ] && [ -z "${r_note[$i]}" ]; then
			echo "${r_log[$i]}"
			return
		fi
	done
}

# The in-flight sweep, one entry per count: rates or "".
declare -A sweep

# best KIND: "RATE INFLIGHT" of the fastest sweep run of KIND (raw, w1,
# w1d, w2).
best() {
	local k r b="" bi=""
	for k in "${inflights[@]}"; do
		r=${sweep[$1,$k]:-}
		[ -n "$r" ] || continue
		if [ -z "$b" ] || awk -v a="$r" -v b="$b" 'BEGIN { exit !(a > b) }'; then
			b=$r bi=$k
		fi
	done
	[ -n "$b" ] && echo "$b $bi"
}

# ---- checks -------------------------------------------------------------------
# check NAME NS ARGS...: bench_check on namespace NS.
check() {
	local name=$1 ns=$2
	shift 2
	if ! "$bin/bench_check" -N "$ns" "$@" >"$logs/$name.check" 2>&1; then
		fail "$name: tracker state wrong ($(head -n 3 "$logs/$name.check" | tr '\n' ' '))"
		return 1
	fi
}

# setup NS PREFIX TRACKERS KEYS: create the trackers (not timed).
setup() {
	"$bin/bench_raw" --setup -N "$1" --prefix "$2" --trackers "$3" --keys "$4" \
		>>"$logs/setup.out" 2>&1 || { fail "setup of $1/$2 failed"; return 1; }
}

# journal_counts NAME JOURNAL: prints "DONE PENDING TOTAL" from
# `reftrack status --json`.
journal_counts() {
	local s
	s=$("$build/reftrack" status --journal "$2" --json 2>>"$logs/$1.err") &&
		"$py" -c 'import json, sys
c = json.load(sys.stdin)["counts"]
print(c["done"], c["pending"], c["total"])' <<<"$s"
}

# journal_done NAME JOURNAL N: the journal says all N entries are done.
journal_done() {
	local s
	s=$(journal_counts "$1" "$2") || { fail "$1: reftrack status failed"; return 1; }
	[ "$s" = "$3 0 $3" ] || { fail "$1: journal says done/pending/total = $s, expected $3 0 $3"; return 1; }
}

# no_writes NAME: the OSD counted no write op during NAME.
no_writes() {
	local w
	w=$(val writes "$logs/$1.osd")
	[ "$w" = 0 ] || { fail "$1: the OSD counted ${w:-?} write ops, expected none"; return 1; }
}

# batch FILE NS OUT: the batch FILE retargeted at namespace NS (the
# generator writes a one-line defaults mapping).
batch() {
	sed "s/^defaults: .*/defaults: {pool: $RT_TEST_POOL, namespace: $2}/" "$1" >"$3"
}

# submit_quiet NAME JOURNAL FILE: builds a journal (not timed).
submit_quiet() {
	"$build/reftrack" submit --journal "$2" "$3" >>"$logs/$1.submit" 2>&1 ||
		{ fail "$1: reftrack submit $3 failed"; return 1; }
}

# replay NAME JOURNAL INFLIGHT: one timed replay; the rate is the replay's
# own "seconds" (journal open and connect included).
replay() {
	timed "$1" "$build/reftrack" replay --journal "$2" -c "$CEPH_CONF" \
		--inflight "$3" --json || return 1
	[ -n "$(jval seconds "$logs/$1.out")" ] || { fail "$1: no summary"; return 1; }
}

# ---- workloads (not timed) ----------------------------------------------------
# W1: 20,000 entries over 1,000 trackers made with base + p0..p3.
# W1d: W1's mix, one entry on each of 20,000 trackers (base + p0..p3).
# W2: 20,000 entries over 200 trackers made with base + p0..p59.
say "generating workloads"
w=$work/w
mkdir "$w"
if ! { "$py" "$gen" w1 --ops "$w/w1.ops" --expect "$w/w1.expect" --yaml "$w/w1.yaml" \
	--noop-yaml "$w/w1-noop.yaml" &&
	"$py" "$gen" w1 --noop-yaml "$w/big-noop.yaml" --noop-entries "$noop_entries" &&
	"$py" "$gen" w1d --expect "$w/w1d.expect" --yaml "$w/w1d.yaml" &&
	"$py" "$gen" w1 --entries "$cli_entries" --ops "$w/cli.ops" --expect "$w/cli.expect" &&
	"$py" "$gen" w2 --ops "$w/w2.ops" --expect "$w/w2.expect" --yaml "$w/w2.yaml" &&
	"$py" "$gen" w3 --entries "$w3_entries" --namespace w3 --yaml "$w/w3.yaml" &&
	"$py" "$gen" w4 --entries "$w4_entries" --trackers "$w4_entries" --expect "$w/w4.expect" \
		--yaml "$w/w4.yaml" &&
	"$py" "$gen" w5 --trackers "$w5_trackers" --expect "$w/w5.expect" \
		--yaml "$w/w5-{part}.yaml"; }; then
	echo "$prog: gen_workload.py failed" >&2
	exit 1
fi
w1_n=$(wc -l <"$w/w1.ops")
w2_n=$(wc -l <"$w/w2.ops")
w1d_n=$(($(wc -l <"$w/w1d.yaml") - 4)) # less the header lines
w4_n=$w4_entries

# sweep_replay KIND LABEL N TRACKERS KEYS INFLIGHT: one replay of the
# sweep.  The batch is $w/KIND.yaml on namespace KIND-replay-INFLIGHT, whose
# trackers KIND.t000000 .. are made first (TRACKERS 0: none, the replay
# makes them), checked afterwards against $w/KIND.expect; the rate goes to
# sweep[KIND,INFLIGHT].
sweep_replay() {
	local kind=$1 label=$2 n=$3 trackers=$4 keys=$5 k=$6
	local ns=$1-replay-$6 j=$work/j-$1-$6
	say "$label reftrack replay, $k in flight"
	batch "$w/$kind.yaml" "$ns" "$w/b.yaml"
	if { [ "$trackers" = 0 ] || setup "$ns" "$kind.t" "$trackers" "$keys"; } &&
		submit_quiet "$ns" "$j" "$w/b.yaml" &&
		replay "$ns" "$j" "$k"; then
		sweep[$kind,$k]=$(calc "$n / $(jval seconds "$logs/$ns.out")")
		journal_done "$ns" "$j" "$n"
		check "$ns" "$ns" --expect "$w/$kind.expect"
	else
		fail "reftrack replay ($label), $k in flight"
	fi
	rm -rf "$j"
}

say "starting a throwaway cluster"
"$root/tests/cluster.sh" start "$cluster" || exit 1
# shellcheck disable=SC1091
. "$cluster/env"
osd_pid=$(awk '$2 == "osd.0" { print $1 }' "$cluster/pids")
osd_asok=$cluster/run/osd.0.asok
osd_snap "$logs/probe.osd" || { echo "$prog: cannot read the OSD's counters ($(tail -n 1 "$logs/osd.err"))" >&2; exit 1; }

# ---- W1, W1d, W4 and W2, swept over in-flight counts ------------------------
# At each count: raw, then the replays, so that a replay and the raw run it
# is compared with see the same machine load.
for k in "${inflights[@]}"; do
	say "W1 raw pipelined, $k in flight"
	if setup "raw-$k" w1.t 1000 4 &&
		timed "w1-raw-$k" "$bin/bench_raw" -N "raw-$k" --prefix w1.t --trackers 1000 \
			--entries "$w1_n" --inflight "$k" --key-prefix r; then
		sweep[raw,$k]=$(val rate "$logs/w1-raw-$k.out")
		check "w1-raw-$k" "raw-$k" --prefix w1.t --trackers 1000 --normal-total $((5000 + w1_n))
	else
		fail "raw pipelined, $k in flight"
	fi

	say "W1d raw checked, $k in flight"
	if setup "rawck-$k" w1d.t 20000 4 &&
		timed "w1d-rawck-$k" "$bin/bench_raw" -N "rawck-$k" --prefix w1d.t --trackers 20000 \
			--entries "$w1d_n" --inflight "$k" --key-prefix c --mode checked; then
		sweep[rawck,$k]=$(val rate "$logs/w1d-rawck-$k.out")
		check "w1d-rawck-$k" "rawck-$k" --prefix w1d.t --trackers 20000 \
			--normal-total $((100000 + w1d_n))
	else
		fail "raw checked, $k in flight"
	fi

	sweep_replay w1 W1 "$w1_n" 1000 4 "$k"
	sweep_replay w1d W1d "$w1d_n" 20000 4 "$k"
	# W4 (issue 13): every tracker is made by the replay itself; the raw
	# create-only probe makes as many, one exclusive create each.
	say "W4 raw create-only, $k in flight"
	if timed "w4-rawcreate-$k" "$bin/bench_raw" --setup -N "rawcreate-$k" --prefix w4.t \
		--trackers "$w4_n" --keys 0 --inflight "$k"; then
		sweep[rawcreate,$k]=$(val rate "$logs/w4-rawcreate-$k.out")
		check "w4-rawcreate-$k" "rawcreate-$k" --prefix w4.t --trackers "$w4_n" --normal-total "$w4_n"
	else
		fail "raw create-only, $k in flight"
	fi
	sweep_replay w4 W4 "$w4_n" 0 0 "$k"
	sweep_replay w2 W2 "$w2_n" 200 60 "$k"
done

# The best of each sweep is its row in the table.
read -r _ raw_k <<<"$(best raw)"
read -r _ w1_k <<<"$(best w1)"
read -r _ w1d_k <<<"$(best w1d)"
read -r _ w2_k <<<"$(best w2)"
read -r _ w4_k <<<"$(best w4)"
if [ -n "$raw_k" ]; then
	row W1 raw "raw pipelined ($raw_k in flight)" "$w1_n" \
		"$(val seconds "$logs/w1-raw-$raw_k.out")" "w1-raw-$raw_k"
else
	row W1 raw "raw pipelined" "$w1_n" "" "" FAILED
fi

# ---- W1: the other contenders -----------------------------------------------
k=${raw_k:-${inflights[0]}}
say "W1 raw write-only, $k in flight"
if setup raw-write w1.t 1000 4 &&
	timed w1-rawwrite "$bin/bench_raw" -N raw-write --prefix w1.t --trackers 1000 \
		--entries "$w1_n" --inflight "$k" --key-prefix w --mode write; then
	row W1 rawwrite "raw write-only ($k in flight)" "$w1_n" \
		"$(val seconds "$logs/w1-rawwrite.out")" w1-rawwrite
	check w1-rawwrite raw-write --prefix w1.t --trackers 1000 --normal-total $((5000 + w1_n))
else
	fail "raw write-only"
	row W1 rawwrite "raw write-only" "$w1_n" "" "" FAILED
fi

if [ -n "$w1_k" ]; then
	row W1 replay "reftrack replay ($w1_k in flight)" "$w1_n" \
		"$(jval seconds "$logs/w1-replay-$w1_k.out")" "w1-replay-$w1_k"
else
	row W1 replay "reftrack replay" "$w1_n" "" "" FAILED
fi

say "W1 sequential sync calls"
if setup w1-sync w1.t 1000 4 &&
	timed w1-sync "$bin/bench_sync" -N w1-sync "$w/w1.ops"; then
	row W1 sync "sync calls" "$w1_n" "$(val seconds "$logs/w1-sync.out")" w1-sync
	check w1-sync w1-sync --expect "$w/w1.expect"
else
	fail "sync calls (W1)"
	row W1 sync "sync calls" "$w1_n" "" "" FAILED
fi

say "W1 CLI loop ($cli_entries entries)"
if setup w1-cli w1.t 1000 4 &&
	timed w1-cli bash "$0" --cli-loop "$build/reference-tracker" "$w/cli.ops" w1-cli; then
	row W1 cli "CLI loop" "$cli_entries" "$(val seconds "$logs/w1-cli.time")" w1-cli
	check w1-cli w1-cli --expect "$w/cli.expect"
else
	fail "CLI loop"
	row W1 cli "CLI loop" "$cli_entries" "" "" FAILED
fi

# No-op replays run on trackers a W1 replay left (their state is
# w1.expect), with a journal of their own.  Every entry adds a key that is
# there already: the replayer must still read to learn that, but must write
# nothing, and the trackers must not change.
# noop NAME KEY WORKLOAD LABEL YAML N: one no-op replay and its checks.
noop() {
	local name=$1 key=$2 wl=$3 label=$4 yaml=$5 n=$6 ns=w1-replay-$w1_k k=$w1_k
	batch "$yaml" "$ns" "$w/b.yaml"
	if timed "$name-submit" "$build/reftrack" submit --journal "$work/$name" "$w/b.yaml" &&
		replay "$name" "$work/$name" "$k"; then
		row "$wl" "$key" "$label ($k in flight)" "$n" "$(jval seconds "$logs/$name.out")" "$name"
		journal_done "$name" "$work/$name" "$n"
		no_writes "$name"
		check "$name" "$ns" --expect "$w/w1.expect"
	else
		fail "$label"
		row "$wl" "$key" "$label" "$n" "" "" FAILED
	fi
	rm -rf "${work:?}/$name"
}
if [ -n "$w1d_k" ]; then
	row W1d replay "reftrack replay ($w1d_k in flight)" "$w1d_n" \
		"$(jval seconds "$logs/w1d-replay-$w1d_k.out")" "w1d-replay-$w1d_k"
else
	row W1d replay "reftrack replay" "$w1d_n" "" "" FAILED
fi

if [ -n "$w1_k" ]; then
	say "W1 replay of no-op entries ($w1_n)"
	noop w1-noop noop W1 "replay, no-op entries" "$w/w1-noop.yaml" "$w1_n"
fi

# ---- W2 -----------------------------------------------------------------------
if [ -n "$w2_k" ]; then
	row W2 replay "reftrack replay ($w2_k in flight)" "$w2_n" \
		"$(jval seconds "$logs/w2-replay-$w2_k.out")" "w2-replay-$w2_k"
else
	row W2 replay "reftrack replay" "$w2_n" "" "" FAILED
fi

say "W2 sequential sync calls"
if setup w2-sync w2.t 200 60 &&
	timed w2-sync "$bin/bench_sync" -N w2-sync "$w/w2.ops"; then
	row W2 sync "sync calls" "$w2_n" "$(val seconds "$logs/w2-sync.out")" w2-sync
	check w2-sync w2-sync --expect "$w/w2.expect"
else
	fail "sync calls (W2)"
	row W2 sync "sync calls" "$w2_n" "" "" FAILED
fi

# ---- W4 -----------------------------------------------------------------------
if [ -n "$w4_k" ]; then
	row W4 replay "reftrack replay ($w4_k in flight)" "$w4_n" \
		"$(jval seconds "$logs/w4-replay-$w4_k.out")" "w4-replay-$w4_k"
else
	row W4 replay "reftrack replay" "$w4_n" "" "" FAILED
fi

# ---- two replayers (W5) -------------------------------------------------------
# One replayer applies W5's two parts one after the other (one journal, so
# the same ops as the pair: the second part is submitted once the first is
# done, and nothing merges across them); then, on trackers of their own,
# two replayers, one journal each, apply one part each, started together.
# Both are checked against the state both parts imply (w5.expect).  The
# one replayer's seconds are its two replays'; the pair's, from starting
# the first to the end of the last.  Each row carries the CPU of both
# processes and the larger peak RSS.
w5_n=$((2 * w5_trackers))

# sum_times OUT IN...: one bench_time line for several runs: CPU summed,
# the larger peak RSS.
sum_times() {
	local out=$1
	shift
	awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] += kv[2]
		if (kv[1] == "maxrss_kib" && kv[2] > m) m = kv[2] } }
		END { printf "user=%s sys=%s maxrss_kib=%d\n", v["user"], v["sys"], m }' "$@" >"$out"
}

# scaleout INFLIGHT: the one-replayer and the two-replayer rows.
scaleout() {
	local k=$1 ns t0 t1 rc0 rc1 p0 p1
	say "W5 one replayer, one part after the other ($w5_n entries, $k in flight)"
	ns=w5-one
	batch "$w/w5-0.yaml" "$ns" "$w/b0.yaml"
	batch "$w/w5-1.yaml" "$ns" "$w/b1.yaml"
	if setup "$ns" w5.t "$w5_trackers" 4 &&
		submit_quiet w5-one "$work/j5" "$w/b0.yaml" &&
		osd_snap "$logs/w5-one.osd0" &&
		replay w5-one-a "$work/j5" "$k" &&
		submit_quiet w5-one "$work/j5" "$w/b1.yaml" &&
		replay w5-one-b "$work/j5" "$k"; then
		osd_snap "$logs/w5-one.osd1"
		osd_delta w5-one
		sum_times "$logs/w5-one.time" "$logs/w5-one-a.time" "$logs/w5-one-b.time"
		row W5 one "one replayer, one part after the other ($k in flight)" "$w5_n" \
			"$(calc "$(jval seconds "$logs/w5-one-a.out") + $(jval seconds "$logs/w5-one-b.out")")" \
			w5-one
		journal_done w5-one "$work/j5" "$w5_n"
		check w5-one "$ns" --expect "$w/w5.expect"
	else
		fail "W5, one replayer"
		row W5 one "one replayer" "$w5_n" "" "" FAILED
	fi
	rm -rf "$work/j5"

	say "W5 two replayers, one part each, started together"
	ns=w5-two
	batch "$w/w5-0.yaml" "$ns" "$w/b0.yaml"
	batch "$w/w5-1.yaml" "$ns" "$w/b1.yaml"
	if ! { setup "$ns" w5.t "$w5_trackers" 4 &&
		submit_quiet w5-two "$work/j5a" "$w/b0.yaml" &&
		submit_quiet w5-two "$work/j5b" "$w/b1.yaml"; }; then
		fail "W5, two replayers: setup"
		row W5 two "two replayers" "$w5_n" "" "" FAILED
		return
	fi
	osd_snap "$logs/w5-two.osd0"
	t0=$(date +%s.%N)
	"$bin/bench_time" "$logs/w5-two-a.time" "$build/reftrack" replay --journal "$work/j5a" \
		-c "$CEPH_CONF" --inflight "$k" --json >"$logs/w5-two-a.out" 2>"$logs/w5-two-a.err" &
	p0=$!
	"$bin/bench_time" "$logs/w5-two-b.time" "$build/reftrack" replay --journal "$work/j5b" \
		-c "$CEPH_CONF" --inflight "$k" --json >"$logs/w5-two-b.out" 2>"$logs/w5-two-b.err" &
	p1=$!
	wait "$p0"
	rc0=$?
	wait "$p1"
	rc1=$?
	t1=$(date +%s.%N)
	osd_snap "$logs/w5-two.osd1"
	osd_delta w5-two
	sum_times "$logs/w5-two.time" "$logs/w5-two-a.time" "$logs/w5-two-b.time"
	if [ $rc0 -eq 0 ] && [ $rc1 -eq 0 ]; then
		row W5 two "two replayers, one part each ($k in flight each)" "$w5_n" \
			"$(calc "$t1 - $t0")" w5-two
		journal_done w5-two "$work/j5a" "$w5_trackers"
		journal_done w5-two "$work/j5b" "$w5_trackers"
		check w5-two "$ns" --expect "$w/w5.expect"
	else
		fail "W5, two replayers (exit $rc0 and $rc1)"
		row W5 two "two replayers" "$w5_n" "" "" FAILED
	fi
	rm -rf "$work/j5a" "$work/j5b"
}
scaleout "${w1d_k:-${inflights[0]}}"

# ---- W3 -----------------------------------------------------------------------
say "W3 reftrack submit ($w3_entries entries)"
if timed w3-submit "$build/reftrack" submit --journal "$work/j3" "$w/w3.yaml" &&
	grep -q " $w3_entries entries submitted" "$logs/w3-submit.out" &&
	[ "$(journal_counts w3-submit "$work/j3")" = "0 $w3_entries $w3_entries" ]; then
	row W3 submit "reftrack submit" "$w3_entries" "$(val seconds "$logs/w3-submit.time")" w3-submit
else
	fail "reftrack submit (W3): $(head -n 2 "$logs/w3-submit.out" "$logs/w3-submit.err" | tr '\n' ' ')"
	row W3 submit "reftrack submit" "$w3_entries" "" "" FAILED
fi

if [ -n "$w1_k" ]; then
	say "W3-sized replay of no-op entries ($noop_entries)"
	noop big-noop bignoop W3 "replay, no-op entries" "$w/big-noop.yaml" "$noop_entries"
fi

if [ "$w3_replay" = 1 ]; then
	say "W3 reftrack replay (${inflights[-1]} in flight)"
	# W3's entries add, remove and mask keys on trackers that do not exist
	# yet; only the journal's verdict is checked.
	if replay w3-replay "$work/j3" "${inflights[-1]}"; then
		row W3 w3replay "reftrack replay (${inflights[-1]} in flight)" "$w3_entries" \
			"$(jval seconds "$logs/w3-replay.out")" w3-replay
		journal_done w3-replay "$work/j3" "$w3_entries"
	else
		fail "reftrack replay (W3)"
		row W3 w3replay "reftrack replay" "$w3_entries" "" "" FAILED
	fi
fi
rm -rf "$work/j3"

# ---- scan (issue 14) ----------------------------------------------------------
# scan_bench: reftrack scan over scan_trackers trackers (4 keys each) in
# RT_TEST_POOL2, which nothing else here uses, so that the listing holds
# the trackers only: pipelined (the default window) and sequential
# (--inflight 1), each the whole process under bench_time, rate = trackers
# per second of the scan's own "seconds".  Fills scan_rows.
scan_rows=()
scan_bench() {
	local name mode k secs trk
	say "scan: setting up $scan_trackers trackers"
	"$bin/bench_raw" --setup -p "$RT_TEST_POOL2" -N scan --prefix s.t \
		--trackers "$scan_trackers" --keys 3 >>"$logs/setup.out" 2>&1 ||
		{ fail "scan: setup failed"; return 1; }
	for mode in pipelined:64 sequential:1; do
		name=scan-${mode%%:*} k=${mode#*:}
		say "scan, $name ($k in flight)"
		if ! timed "$name" "$build/reftrack" scan -p "$RT_TEST_POOL2" -N scan \
			--inflight "$k" --json --no-progress; then
			fail "$name"
			scan_rows+=("$name $k failed")
			continue
		fi
		no_writes "$name"
		secs=$(tail -n 1 "$logs/$name.out" | grep -o '"seconds":[^,}]*' | cut -d: -f2)
		trk=$(tail -n 1 "$logs/$name.out" | grep -o '"trackers":[^,}]*' | cut -d: -f2)
		[ "$trk" = "$scan_trackers" ] || fail "$name: scanned ${trk:-?} trackers, want $scan_trackers"
		grep -q '"problem_trackers":0,' "$logs/$name.out" || fail "$name: found problems"
		scan_rate[$name]=$(calc "$trk / $secs")
		scan_rows+=("$name $k $trk $secs")
	done
}
declare -A scan_rate

# (called with the other tables, once mib is defined)
scan_table() {
	local r name k trk secs
	echo "| scan | in flight | trackers | seconds | trackers/s | × sequential | RADOS ops/tracker | OSD CPU µs/tracker | client CPU µs/tracker | peak RSS |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for r in "${scan_rows[@]}"; do
		read -r name k trk secs <<<"$r"
		if [ "$trk" = failed ]; then
			echo "| $name | $k | failed | | | | | | | |"
			continue
		fi
		printf '| %s | %s | %s | %.3f | %.0f | %s | %s | %s | %s | %s |\n' "$name" "$k" "$trk" "$secs" \
			"${scan_rate[$name]}" "$(ratio "${scan_rate[$name]}" "${scan_rate[scan-sequential]:-}")" \
			"$(per_entry "$name" ops "$trk" 1)" "$(per_entry "$name" cpu "$trk" 1000000)" \
			"$(client_us "$name" "$trk")" "$(mib "$(val maxrss_kib "$logs/$name.time")")"
	done
}

scan_bench
# ---- at the documented limits (issue 13) ----------------------------------------
# Memory must not grow with the file or the entry: a 0.96 GiB file of 50
# maximum-size requests through submit, and 16 maximum-size entries
# through replay (each makes a tracker of 10,000 keys of 2,048 bytes).
limits_runs() {
	local ns=limits
	say "submit of 50 maximum-size requests (0.96 GiB)"
	if ! "$py" "$gen" limits --entries 50 --namespace "$ns" --yaml "$w/limits50.yaml"; then
		fail "gen_workload.py limits"
		return
	fi
	if timed limits-submit "$build/reftrack" submit --journal "$work/jl50" "$w/limits50.yaml" &&
		grep -q " 50 entries submitted" "$logs/limits-submit.out"; then
		row L submit "reftrack submit, 0.96 GiB at the limits" 50 \
			"$(val seconds "$logs/limits-submit.time")" limits-submit
	else
		fail "reftrack submit (limits): $(head -n 2 "$logs/limits-submit.out" "$logs/limits-submit.err" | tr '\n' ' ')"
		row L submit "reftrack submit, 0.96 GiB at the limits" 50 "" "" FAILED
	fi
	rm -rf "${work:?}/jl50" "$w/limits50.yaml"

	say "replay of 16 maximum-size entries"
	"$py" "$gen" limits --entries 16 --yaml "$w/limits16.yaml" &&
		batch "$w/limits16.yaml" "$ns" "$w/b.yaml" &&
		submit_quiet limits-replay "$work/jl16" "$w/b.yaml" || return
	if replay limits-replay "$work/jl16" "${inflights[0]}"; then
		row L limreplay "reftrack replay, 16 maximum-size entries" 16 \
			"$(jval seconds "$logs/limits-replay.out")" limits-replay
		journal_done limits-replay "$work/jl16" 16
	else
		fail "reftrack replay (limits)"
		row L limreplay "reftrack replay, 16 maximum-size entries" 16 "" "" FAILED
	fi
	rm -rf "${work:?}/jl16" "$w/limits16.yaml" "$w/b.yaml"
}
[ "$limits" = 1 ] && limits_runs

# ---- the tables ---------------------------------------------------------------
raw=$(rate_of raw W1)
cli=$(rate_of cli W1)
sync1=$(rate_of sync W1)
sync2=$(rate_of sync W2)

# ratio A B: A / B to two decimals, "-" if either is missing.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'
}

# per_entry LOG FIELD N SCALE: FIELD of logs/LOG.osd per entry, times SCALE.
per_entry() {
	local v
	v=$(val "$2" "$logs/$1.osd")
	if [ -z "$v" ]; then
		echo -
	elif [ "$4" = 1 ]; then
		awk -v v="$v" -v n="$3" 'BEGIN { printf "%.2f", v / n }'
	else
		awk -v v="$v" -v n="$3" -v s="$4" 'BEGIN { printf "%.0f", v * s / n }'
	fi
}

# client_us LOG N: user + sys CPU of the command per entry, in µs.
client_us() {
	awk -v u="$(val user "$logs/$1.time")" -v s="$(val sys "$logs/$1.time")" -v n="$2" \
		'BEGIN { printf "%.0f", (u + s) * 1e6 / n }'
}

mib() {
	awk -v k="$1" 'BEGIN { if (k == "") print "-"; else printf "%.1f MiB", k / 1024 }'
}

table() {
	local i rate sync n log
	echo "| workload | contender | entries | seconds | entries/s | × raw limit | × CLI loop | × sync calls | RADOS ops/entry | OSD CPU µs/entry | client CPU µs/entry | peak RSS |"
	echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for i in "${!r_key[@]}"; do
		if [ -n "${r_note[$i]}" ]; then
			echo "| ${r_work[$i]} | ${r_label[$i]} | ${r_n[$i]} | ${r_note[$i]} | | | | | | | | |"
			continue
		fi
		n=${r_n[$i]} log=${r_log[$i]}
		rate=$(calc "$n / ${r_sec[$i]}")
		if [ "${r_key[$i]}" = submit ]; then
			# No cluster work: a ratio to cluster contenders would
			# mean nothing.
			printf '| %s | %s | %s | %.3f | %.0f | - | - | - | - | - | %s | %s |\n' \
				"${r_work[$i]}" "${r_label[$i]}" "$n" "${r_sec[$i]}" "$rate" \
				"$(client_us "$log" "$n")" "$(mib "$(val maxrss_kib "$logs/$log.time")")"
			continue
		fi
		# W1d's entries are W1's mix: sync calls cost the same per entry.
		sync=$sync1
		[ "${r_work[$i]}" = W2 ] && sync=$sync2
		# W4 and W5 have no sync-call contender of their own.
		case ${r_work[$i]} in W4 | W5) sync= ;; esac
		printf '| %s | %s | %s | %.3f | %.0f | %s | %s | %s | %s | %s | %s | %s |\n' \
			"${r_work[$i]}" "${r_label[$i]}" "$n" "${r_sec[$i]}" "$rate" \
			"$(ratio "$rate" "$raw")" "$(ratio "$rate" "$cli")" "$(ratio "$rate" "$sync")" \
			"$(per_entry "$log" ops "$n" 1)" "$(per_entry "$log" cpu "$n" 1000000)" \
			"$(client_us "$log" "$n")" "$(mib "$(val maxrss_kib "$logs/$log.time")")"
	done
}

# int RATE: RATE rounded, or "failed".
int() {
	awk -v r="$1" 'BEGIN { if (r == "") print "failed"; else printf "%.0f", r }'
}

sweep_table() {
	local k x
	echo "| in flight | W1 raw pipelined | W1 replay | ÷ raw | W1d replay | ÷ raw | W2 replay | ÷ raw | W4 replay | ÷ raw | raw checked | W1d ÷ raw checked | raw create-only | W4 ÷ raw create-only |"
	echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for k in "${inflights[@]}"; do
		printf '| %s | %s |' "$k" "$(int "${sweep[raw,$k]:-}")"
		for x in w1 w1d w2 w4; do
			printf ' %s | %s |' "$(int "${sweep[$x,$k]:-}")" \
				"$(ratio "${sweep[$x,$k]:-}" "${sweep[raw,$k]:-}")"
		done
		printf ' %s | %s | %s | %s |\n' "$(int "${sweep[rawck,$k]:-}")" \
			"$(ratio "${sweep[w1d,$k]:-}" "${sweep[rawck,$k]:-}")" \
			"$(int "${sweep[rawcreate,$k]:-}")" \
			"$(ratio "${sweep[w4,$k]:-}" "${sweep[rawcreate,$k]:-}")"
	done
}

memory_table() {
	local i log
	echo "| run | entries | peak RSS (wait4) | of which anonymous (sampled) | of which mapped files (sampled) |"
	echo "|---|---:|---:|---:|---:|"
	for i in "${!r_key[@]}"; do
		case ${r_key[$i]} in submit | noop | bignoop | replay | w3replay | limreplay) ;; *) continue ;; esac
		[ -z "${r_note[$i]}" ] || continue
		log=${r_log[$i]}
		printf '| %s %s | %s | %s | %s | %s |\n' "${r_work[$i]}" "${r_label[$i]}" "${r_n[$i]}" \
			"$(mib "$(val maxrss_kib "$logs/$log.time")")" \
			"$(mib "$(val anon_kib "$logs/$log.time")")" \
			"$(mib "$(val file_kib "$logs/$log.time")")"
	done
}

# target LABEL VALUE OP GOAL: one line of the targets table.
target() {
	local verdict
	if [ -z "$2" ] || [ "$2" = - ]; then
		verdict="n/a"
	else
		verdict=$(awk -v v="$2" -v g="$4" -v op="$3" 'BEGIN {
			ok = (op == ">=") ? (v >= g) : (op == "<=") ? (v <= g) : (v < g)
			print ok ? "PASS" : "FAIL" }')
	fi
	echo "| $1 | ${2:--} | $verdict |"
}

targets() {
	local r1 r2 noop sub sub_rss anon_small anon_big
	r1=$(rate_of replay W1)
	r2=$(rate_of replay W2)
	noop=$(rate_of noop W1)
	sub=$(rate_of submit W3)
	sub_rss=$(val maxrss_kib "$logs/$(log_of submit W3).time" 2>/dev/null)
	anon_small=$(val anon_kib "$logs/$(log_of noop W1).time" 2>/dev/null)
	anon_big=$(val anon_kib "$logs/$(log_of bignoop W3).time" 2>/dev/null)
	echo "| target (issue 5; informational) | measured | verdict |"
	echo "|---|---:|---|"
	target "W1 replay ≥ 0.8 × raw limit" "$(ratio "$r1" "$raw")" ">=" 0.8
	target "W1 replay ≥ 100 × CLI loop" "$(ratio "$r1" "$cli")" ">=" 100
	target "W1 replay ≥ 4 × sync calls" "$(ratio "$r1" "$sync1")" ">=" 4
	target "W2 replay ≥ 1.3 × raw limit" "$(ratio "$r2" "$raw")" ">=" 1.3
	target "W3 submit ≥ 200,000 entries/s" "$(awk -v r="$sub" 'BEGIN { if (r != "") printf "%.0f", r }')" ">=" 200000
	target "W3 submit peak RSS < 256 MiB" "$(awk -v k="$sub_rss" 'BEGIN { if (k != "") printf "%.1f", k / 1024 }')" "<" 256
	target "journal cost: no-op replay ≥ 2 × raw limit" "$(ratio "$noop" "$raw")" ">=" 2
	target "replay memory flat: anonymous peak, $noop_entries no-op entries ÷ $w1_n" "$(ratio "$anon_big" "$anon_small")" "<=" 1.5
	target "scan pipelined ≥ 5 × sequential (issue 14)" "$(ratio "${scan_rate[scan-pipelined]:-}" "${scan_rate[scan-sequential]:-}")" ">=" 5
	limits_targets
}

# kib_mib LOG FIELD: FIELD of logs/LOG.time in MiB, "" without it.
kib_mib() {
	awk -v k="$(val "$2" "$logs/$1.time" 2>/dev/null)" 'BEGIN { if (k != "") printf "%.1f", k / 1024 }'
}

# The targets of issue 13.  The 10M-entry ones are judged only when W3 ran
# at that size (RT_BENCH_W3_ENTRIES=10000000; README has the figure).
limits_targets() {
	local sub="" rss=""
	if [ "$w3_entries" -ge 10000000 ]; then
		sub=$(awk -v r="$(rate_of submit W3)" 'BEGIN { if (r != "") printf "%.0f", r }')
		rss=$(kib_mib "$(log_of submit W3)" maxrss_kib)
	fi
	target "10M-entry submit ≥ 300,000 entries/s (W3 at 10M entries only)" "$sub" ">=" 300000
	target "10M-entry submit peak RSS < 128 MiB (W3 at 10M entries only)" "$rss" "<" 128
	target "0.96 GiB file at the limits: submit peak RSS < 256 MiB" "$(kib_mib limits-submit maxrss_kib)" "<" 256
	target "replay of 16 maximum-size entries: peak RSS < 256 MiB" "$(kib_mib limits-replay maxrss_kib)" "<" 256
}

# The targets of issue 13 this file's W1d, W4 and W5 runs measure.
targets13() {
	local w1d w4 w4log one two
	w1d=$(rate_of replay W1d)
	w4=$(rate_of replay W4)
	w4log=$(log_of replay W4)
	one=$(rate_of one W5)
	two=$(rate_of two W5)
	echo "| target (issue 13; informational) | measured | verdict |"
	echo "|---|---:|---|"
	target "W1d replay ≥ 0.9 × raw limit" "$(ratio "$w1d" "$raw")" ">=" 0.9
	target "W4 replay ≥ 1.5 × raw limit" "$(ratio "$w4" "$raw")" ">=" 1.5
	target "W4 RADOS ops per entry ≤ 1.1" "$([ -n "$w4log" ] && per_entry "$w4log" ops "$w4_n" 1)" "<=" 1.1
	echo "| W5: two replayers ÷ one replayer (no target: the scaling measured) | $(ratio "$two" "$one") | - |"
	# The probes that bound what the ratios above can reach here, best
	# run of each sweep against the best raw run (no targets).
	echo "| raw checked on W1d's trackers ÷ raw limit: the most W1d can reach against raw here (no target) | $(ratio "$(best rawck | cut -d' ' -f1)" "$raw") | - |"
	echo "| raw create-only ÷ raw limit: the most W4 can reach against raw here (no target) | $(ratio "$(best rawcreate | cut -d' ' -f1)" "$raw") | - |"
}

{
	echo "## reftrack benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo
	echo "Machine: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, Linux $(uname -r);" \
		"$(ceph-osd --version 2>/dev/null | awk '{ print "Ceph", $3 }'), one memstore OSD and one mon on the same machine;" \
		"journals on $(df -T "$work" | awk 'NR == 2 { print $2 }');" \
		"load average before the run: $load_before."
	echo
	table
	echo
	echo "In-flight sweep (entries/s; each row's runs back to back):"
	echo
	sweep_table
	echo
	echo "reftrack scan, $scan_trackers trackers of 4 keys in a pool of their own (the whole process; the OSD counted no write):"
	echo
	scan_table
	echo
	echo "Memory of the journal tools:"
	echo
	memory_table
	echo
	targets
	echo
	targets13
	echo
	echo "- × raw limit: against the best W1 raw pipelined run (W1d and W2 have the same entry count)." \
		"The replayer merges the entries it has queued for one tracker into one read and one write (see RADOS ops/entry), which the raw probe never does;" \
		"W1d (W1's mix, one entry per tracker, 20,000 trackers) leaves it nothing to merge." \
		"× sync calls: against sync calls on the same workload (W1's for W1d)." \
		"× CLI loop: against the W1 CLI loop (its per-call cost does not depend on the workload)."
	echo "- Seconds: the timed phase of the probes (raw, sync: connecting and setup excluded; raw connected in $(awk -v c="$(val connect "$logs/w1-raw-${raw_k:-x}.out")" 'BEGIN { printf "%.0f", c * 1000 }') ms);" \
		"the replay's own figure for replay (journal open and connect included);" \
		"the whole process for the CLI loop and submit."
	echo "- RADOS ops/entry and OSD CPU: the client requests the OSD's messengers received (its op counter would leave out reads of missing objects) and its CPU time across the run (a replay that merges a tracker's entries into one read and one write shows fewer than 2 ops per entry)." \
		"Both span the whole process (raw write-only: with its 1,000 untimed starting reads)." \
		"Client CPU: user + sys of the contender's processes, per entry."
	echo "- No-op entries each add a key the tracker already holds: the replay reads the tracker (one read for all such entries of a tracker it has loaded) and writes nothing (the OSD's write counter is checked to stay still), so its rate is the journal's own throughput with the cluster's part cut down to those reads. The W3-sized one shows that replay memory does not grow with the journal: compare its anonymous peak with the W1-sized one's; the mapped-file part is the LMDB journal map, page cache the kernel can drop."
	echo "- Peak RSS: the process (for the CLI loop, its largest reference-tracker)."
	echo "- W4: every entry adds a key to a tracker that does not exist before the run; the replayer creates each. W5: two batches of $w5_trackers entries each over the same $w5_trackers trackers, each batch touching every tracker once and only keys of its own; \"one replayer\" applies one after the other from one journal (seconds: its two replays'), \"two replayers\" run side by side, one journal and one batch each (seconds: from starting the first to the end of the last); client CPU of both processes, the larger peak RSS."
} >"$out/results.md"
cat "$out/results.md"

if [ $failures -gt 0 ]; then
	echo "bench: $failures failure(s); logs in $logs" >&2
	exit 1
fi
say "done"
exit 0
