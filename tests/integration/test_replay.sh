#!/bin/bash
# test_replay.sh - the replayer against a real cluster: crashes at each
# failpoint, kill -9 at random moments, concurrent writers, a tracker
# deleted and created again behind a crash, two replays on one journal, an
# unreachable cluster, failed entries with retry and skip.  Run by
# tests/run-integration.sh (CEPH_CONF, RT_TEST_POOL, RT_BUILD, RT_SRC).
#
# What the cluster and the journal hold afterwards is compared with an
# independent model of the batch semantics (replay_model.py): the trackers
# read back with the python rados bindings, every entry's outcome with
# `reftrack export`.
#
# Knobs: RT_REPLAY_SEED (the workloads' seed; printed, so a failure can be
# replayed), RT_REPLAY_CASES (names of the cases to run, default all).
#
# Every case has its own journal and RADOS namespace ("rplay-PID-CASE").
set -u

. "$(dirname "$0")/../testlib.sh"
tl_require replay CEPH_CONF RT_TEST_POOL RT_BUILD RT_SRC

tl_replay_env

seed=${RT_REPLAY_SEED:-$(( $(date +%s) % 100000 ))}
echo "test_replay.sh: seed $seed (RT_REPLAY_SEED=$seed to run the same workloads)"

tl_tmpdir rt-replay
bg_pids=()	# background processes of ours still running
# On the way out, kills what is left of ours: a pid still running a command
# that names our directory (a pid of ours that exited may have been handed
# to someone else).  The writers stop by themselves once the directory is
# gone.
on_exit() {
	local p
	for p in ${bg_pids[@]+"${bg_pids[@]}"}; do
		if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF "$tmp"; then
			kill -9 "$p" 2>/dev/null
		fi
	done
}

ns=
jdir=
tl_timed=1
# Every case (of RT_REPLAY_CASES, if set) gets a fresh namespace and journal.
case_setup() {
	case " ${RT_REPLAY_CASES:-$1} " in *" $1 "*) ;; *) return 1 ;; esac
	ns="rplay-$$-$1"
	jdir=$tmp/$1/journal
	mkdir -p "$tmp/$1"
}

rtk() {
	run "$reftrack" "$@"
}

model() {
	"$py" "$model_py" "$@"
}

# gen ARGS...: the case's workload into $tmp/CASE/gen (batch-NN.yaml,
# plan.json, anchors.txt).
gen() {
	model gen --pool "$pool" --ns "$ns" --out "$tmp/$case_name/gen" "$@" \
		>/dev/null || fail "replay_model.py gen $*"
}

submit() {
	rtk submit --journal "$jdir" "$1"
	expect_rc 0
}

# check_model [ARGS...]: the trackers and the entries against the model.
check_model() {
	model check --plan "$tmp/$case_name/gen/plan.json" --reftrack "$reftrack" \
		--journal "$jdir" "$@" >"$tmp/model.out" 2>&1
	local st=$?
	sed 's/^/  /' "$tmp/model.out"
	[ "$st" -eq 0 ] || fail "the cluster or the journal differs from the model"
}

# replay_until_done: plain replays until one exits 0, at most three.  With
# no other writers one run should do; more are allowed (exit 75 means
# "pending, try again later") but said.
replay_until_done() {
	local i
	for i in 1 2 3; do
		rtk replay --journal "$jdir"
		if [ "$rc" -eq 0 ]; then
			[ "$i" -eq 1 ] || echo "  note: replay needed $i runs to finish"
			return 0
		fi
		[ "$rc" -eq 75 ] || break
	done
	fail "replay did not finish: exit $rc
  stdout: $out
  stderr: $err"
	return 1
}

# count_of STATE: the journal's number of entries in STATE.
count_of() {
	"$reftrack" status --journal "$jdir" --json |
		"$py" -c 'import json, sys; print(json.load(sys.stdin)["counts"][sys.argv[1]])' "$1"
}

# expect_entries SEQ:FIELD=VALUE... | SEQ:error~TEXT...: fields of entries
# (state, result, attempts; the error text contains TEXT), read with
# `reftrack export`.
expect_entries() {
	model expect --reftrack "$reftrack" --journal "$jdir" "$@" 2>"$tmp/expect.err" ||
		fail "$(cat "$tmp/expect.err")"
}

# entry_state SEQ
entry_state() {
	"$reftrack" export --journal "$jdir" |
		"$py" -c 'import json, sys
for line in sys.stdin:
    e = json.loads(line)
    if e["seq"] == int(sys.argv[1]):
        print(e["state"])' "$1"
}

# expect_tracker TRACKER "KEY:TYPE,... count=HEX": the tracker's omap (type
# bytes in hex) and data, or "absent".
expect_tracker() {
	local got
	got=$(model dump --pool "$pool" --ns "$ns" "$1")
	[ "$got" = "$2" ] || fail "tracker $1 is '$got', want '$2'"
}

# ---- 1. a crash at each failpoint ------------------------------------------

# One journal per failpoint: die there (the N-th time), die there again in
# the run that recovers, then run plainly to the end.  --inflight 8 on 8
# trackers makes rounds of several writes ("mid-window" needs two in one
# round), and deletes split each tracker's entries into several rounds.
failpoint_case() {
	local fp=$1 n=$2 s=$3 inflight
	gen --seed "$s" --entries 40 --trackers t:8:mask --keys 3
	submit "$tmp/$case_name/gen/batch-00.yaml"
	REFTRACK_FAILPOINT=$fp:$n reftrack=$tl_hooks/reftrack rtk replay --journal "$jdir" --inflight 8
	expect_rc 137
	# The crash left writes whose fate the next run must work out.
	inflight=$(count_of in_flight)
	[ "$inflight" -gt 0 ] ||
		fail "after the crash at $fp:$n no entry is in flight"
	REFTRACK_FAILPOINT=$fp:1 reftrack=$tl_hooks/reftrack rtk replay --journal "$jdir" --inflight 8
	[ "$rc" -eq 137 ] || [ "$rc" -eq 0 ] ||
		fail "second run with $fp:1: exit $rc, want 137 or 0: $err"
	replay_until_done
	check_model --all-done
}

case_fp_after_inflight_commit() { failpoint_case after-inflight-commit 3 "$((seed + 1))"; }
case_fp_mid_window() { failpoint_case mid-window 1 "$((seed + 2))"; }
case_fp_after_write() { failpoint_case after-write 4 "$((seed + 3))"; }
case_fp_final_commit() { failpoint_case final-commit 1 "$((seed + 4))"; }
# Killed in the committer thread, a batch written but not committed while
# the loop goes on: the writes that wait for it must not be out.
case_fp_mid_commit() { failpoint_case mid-commit 3 "$((seed + 11))"; }

# ---- 2. kill -9 at random moments -------------------------------------------

# 6,000 entries on 240 trackers in 24 batches, submitted as the replay goes:
# one when the journal has drained, and one after every 3 kills.  Each run
# is killed after a random delay, drawn up to a bound that steers the work
# done per kill towards ~70 entries (halved after a run that finished,
# scaled by 70 / entries done after a kill, between 10 ms and 5 s).
# Start-up and speed vary tenfold with the machine's load and the bound
# follows; with 24 batches in
# hand the quota of 55 kills is met long before the work runs out.  What is
# left is submitted and applied by a last plain run.
case_random_kills() {
	local files=() next=1 kills=0 natural=0 runs=0 maxms=60 d
	local drained=0 st ms inf inflights=(1 1 2) left_in_flight=0
	local done_before=0 done_now inflight_now
	gen --seed "$((seed + 5))" --entries 6000 --batches 24 --trackers t:240:mask --keys 4
	files=("$tmp/$case_name/gen"/batch-*.yaml)
	submit "${files[0]}"
	RANDOM=$seed
	while [ "$runs" -lt 300 ]; do
		if [ "$next" -lt "${#files[@]}" ] &&
			{ [ "$drained" -eq 1 ] || [ "$kills" -ge $((next * 3)) ]; }; then
			submit "${files[$next]}"
			next=$((next + 1))
			drained=0
		fi
		if [ "$kills" -ge 55 ] ||
			{ [ "$next" -ge "${#files[@]}" ] && [ "$drained" -eq 1 ]; }; then
			break
		fi
		inf=${inflights[RANDOM % 3]}
		ms=$((RANDOM % maxms + 1))
		# timeout(1) sends the SIGKILL: the replay is its child, not yet
		# reaped, so the pid cannot be someone else's.  --foreground:
		# without it timeout also SIGKILLs its own process group, itself
		# included, and so returns before the replay is reaped and has
		# let go of the journal lock; the next run then finds the lock
		# held (exit 75) now and then under load.  With it, timeout
		# waits for the replay and exits 137 once it is gone.  (The
		# braces take bash's "Killed" notice.)
		{ timeout --foreground -s KILL "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))" \
			"$reftrack" replay --journal "$jdir" --inflight "$inf" \
			>>"$tmp/$case_name/runs.log" 2>&1; } 2>/dev/null
		st=$?
		runs=$((runs + 1))
		# (awk rather than a Python start-up: this runs after every kill.
		# The journal's counts come first, then each batch's.)
		read -r done_now inflight_now < <("$reftrack" status --journal "$jdir" --format json-pretty |
			awk -F'[:,]' '/"in_flight"/ && !f { i = $2 + 0 }
				/"done"/ && !f { d = $2 + 0; f = 1 }
				END { print d, i }')
		case $st in
		137)
			kills=$((kills + 1))
			[ "$inflight_now" -gt 0 ] && left_in_flight=$((left_in_flight + 1))
			# Scaled by 70 / entries done, within half and twice.
			d=$((done_now - done_before))
			if [ "$d" -gt 140 ]; then
				maxms=$((maxms / 2))
			elif [ "$d" -lt 35 ]; then
				maxms=$((maxms * 2))
			else
				maxms=$((maxms * 70 / d))
			fi
			;;
		0 | 124)
			# 124: the run ended by itself just as the timer
			# fired, and timeout(1) says so instead of passing
			# on its status (seen under load: the run's summary
			# line says "exit 0").  Whatever it left pending, the
			# next runs take.
			natural=$((natural + 1))
			drained=1
			maxms=$((maxms / 2))
			;;
		*)
			fail "replay run $runs exited $st (see below)"
			tail -n 5 "$tmp/$case_name/runs.log" >&2
			return
			;;
		esac
		# Up to 5 s: on a machine loaded ten times over its cores,
		# start-up and connecting alone took more than 1 s, and a cap
		# of 1 s killed every run before it sent anything.
		maxms=$((maxms < 10 ? 10 : maxms > 5000 ? 5000 : maxms))
		done_before=$done_now
	done
	echo "  $runs runs: $kills killed ($left_in_flight of them left" \
		"entries in flight), $natural finished;" \
		"$next of ${#files[@]} batches submitted, $done_now entries done"
	while [ "$next" -lt "${#files[@]}" ]; do
		submit "${files[$next]}"
		next=$((next + 1))
	done
	# A run is only started with work pending: every kill counts.
	[ "$kills" -ge 50 ] || fail "only $kills kills before the journal ran out, want >= 50"
	[ "$left_in_flight" -ge 10 ] ||
		fail "only $left_in_flight kills left entries in flight, want >= 10"
	replay_until_done
	check_model --all-done
}

# ---- 3. other writers while the replay runs ---------------------------------

# cli_writer ID TRACKER...: until $tmp/CASE/stop exists (and for at least
# 20 requests), adds and removes keys wID-0..2 on the trackers with the CLI,
# and writes the keys it holds at the end to $tmp/CASE/writer-ID as
# "TRACKER KEY" lines.  A request that fails leaves the key's state
# unknown: it is read back (only this writer touches its keys).
cli_writer() {
	local id=$1 t k st ops=0 d=$tmp/$case_name
	shift
	local trk=("$@")
	local -A held=()
	RANDOM=$((seed * 7 + id))
	# Also stops if the test's directory is gone: the test died.
	while [ -d "$d" ] && { [ ! -e "$d/stop" ] || [ "$ops" -lt 20 ]; }; do
		t=${trk[RANDOM % ${#trk[@]}]}
		k="w$id-$((RANDOM % 3))"
		if [ -n "${held[$t:$k]:-}" ]; then
			"$reftrack" -p "$pool" -N "$ns" rm "$t" "$k" >/dev/null 2>>"$d/writer-$id.err"
			st=$?
			[ "$st" -eq 0 ] && unset "held[$t:$k]"
		else
			"$reftrack" -p "$pool" -N "$ns" add "$t" "$k" >/dev/null 2>>"$d/writer-$id.err"
			st=$?
			[ "$st" -eq 0 ] && held[$t:$k]=1
		fi
		if [ "$st" -ne 0 ]; then
			echo "writer $id: exit $st on $t $k" >>"$d/writer-$id.err"
			unset "held[$t:$k]"
			if "$reftrack" -p "$pool" -N "$ns" show --json "$t" 2>/dev/null |
				"$py" -c 'import json, sys; sys.exit(0 if {"key": sys.argv[1], "type": "normal"} in json.load(sys.stdin)["refs"] else 1)' "$k"; then
				held[$t:$k]=1
			fi
		fi
		ops=$((ops + 1))
	done
	for k in "${!held[@]}"; do
		echo "${k%%:*} ${k#*:}"
	done >"$d/writer-$id"
	echo "$ops" >"$d/writer-$id.ops"
}

# Other writers on the replay's trackers, with keys of their own: two that
# write through librados directly, as fast as they can (replay_model.py
# writer: they make the replay's guarded writes conflict), and one running
# `reftrack add/rm`.  Anchored trackers (a*) hold a key no one removes, so
# they are never deleted and the journal's masks there are exactly the
# model's; on the others (u*) the journal has no masks, and the writers'
# keys decide when a tracker is deleted or created, so only the outcome's
# kind is free there.
case_concurrent_writers() {
	local d=$tmp/$case_name t trk=() wpids=() i retries=0 r c wops=0 wconf=0
	gen --seed "$((seed + 6))" --entries 1200 --batches 4 --trackers a:4:anchor,u:4:nomask --keys 3
	while read -r t; do
		rtk -p "$pool" -N "$ns" add "$t" anchor
		expect_rc 0
	done <"$d/gen/anchors.txt"
	for i in 0 1 2 3; do
		trk+=("a00$i" "u00$i")
	done
	for i in 1 2; do
		"$py" "$model_py" writer --id "$i" --seed "$((seed * 7 + i))" --pool "$pool" \
			--ns "$ns" --trackers "$(IFS=,; echo "${trk[*]}")" \
			--stop "$d/stop" --out "$d/writer-$i" >"$d/writer-$i.ops" &
		wpids+=($!)
	done
	cli_writer 3 "${trk[@]}" &
	wpids+=($!)
	bg_pids=("${wpids[@]}")
	# Batch by batch, each replayed while the writers run.
	for f in "$d/gen"/batch-*.yaml; do
		submit "$f"
		# A tracker that conflicts too often in a row is left pending
		# for the next run: run again until done.
		for _ in 1 2 3 4 5; do
			rtk replay --journal "$jdir" --inflight 2 --json
			r=$(printf '%s' "$out" | "$py" -c 'import json, sys; print(json.load(sys.stdin)["retries"])' 2>/dev/null)
			retries=$((retries + ${r:-0}))
			[ "$rc" -eq 75 ] || break
		done
		expect_rc 0
	done
	touch "$d/stop"
	for i in "${wpids[@]}"; do
		wait "$i" || fail "writer $i failed"
	done
	bg_pids=()
	cat "$d"/writer-[0-9] >"$d/writers"
	for i in 1 2 3; do
		read -r r c <"$d/writer-$i.ops"
		wops=$((wops + r))
		wconf=$((wconf + ${c:-0}))
	done
	echo "  writers: $wops requests, $wconf conflicts (raw writers);" \
		"replay: $retries retries"
	# The CLI writer's failures are allowed (their keys are read back)
	# but shown.
	grep -h '^writer' "$d/writer-3.err" 2>/dev/null | head -n 5 | sed 's/^/  /'
	[ "$retries" -gt 0 ] || fail "the replay never met a concurrent write"
	check_model --all-done --writers "$d/writers" \
		--relaxed u000,u001,u002,u003
}

# ---- 4. a tracker deleted by the replay, then made again by someone else ----

# The replay's write deleted T, the process died before recording it, and
# another writer made T again.  The next run must not take the new keys:
# the entry ends done (deleted, as planned) or needs-review, never a write
# that removes what the other writer added.
delete_recreate() {
	local readd=$1
	cat >"$tmp/$case_name/b1.yaml" <<EOF
version: 1
defaults: {pool: $pool, namespace: $ns}
requests:
  - {tracker: T, add: [a]}
  - {tracker: M, add: [a, b]}
EOF
	cat >"$tmp/$case_name/b2.yaml" <<EOF
version: 1
defaults: {pool: $pool, namespace: $ns}
requests:
  - {tracker: T, remove: [a]}
EOF
	submit "$tmp/$case_name/b1.yaml"
	rtk replay --journal "$jdir"
	expect_rc 0
	expect_tracker T "a:01 count=00000001"
	submit "$tmp/$case_name/b2.yaml"
	REFTRACK_FAILPOINT=after-write:1 reftrack=$tl_hooks/reftrack rtk replay --journal "$jdir"
	expect_rc 137
	expect_tracker T absent
	expect_entries 3:state=in-flight
	if [ "$readd" = readd ]; then
		rtk -p "$pool" -N "$ns" add T a new
	else
		rtk -p "$pool" -N "$ns" add T new
	fi
	expect_rc 0
	rtk replay --journal "$jdir"
	st=$(entry_state 3)
	echo "  entry 3: $st"
	case $st in
	done)
		[ "$rc" -eq 0 ] || fail "replay exit $rc with entry 3 done: $err"
		expect_entries 3:result=deleted
		;;
	needs-review)
		[ "$rc" -eq 1 ] || fail "replay exit $rc with entry 3 needs-review, want 1"
		;;
	*) fail "entry 3 is $st, want done or needs-review" ;;
	esac
	if [ "$readd" = readd ]; then
		# "a" is back: applying the removal again would take a
		# reference added after our write.  Only an operator knows.
		[ "$st" = needs-review ] || fail "entry 3 is $st, want needs-review"
		expect_tracker T "a:01,new:01 count=00000002"
		# The operator decides the removal is still wanted.
		rtk retry --journal "$jdir" --entry 3
		expect_rc 0
		rtk replay --journal "$jdir"
		expect_rc 0
		expect_entries 3:state=done
		expect_tracker T "new:01 count=00000001"
	else
		expect_tracker T "new:01 count=00000001"
	fi
	expect_tracker M "a:01,b:01 count=00000002"
}

case_delete_recreate() { delete_recreate new-key; }
case_delete_recreate_same_key() { delete_recreate readd; }

# ---- 5. two replays on one journal ---------------------------------------------

# A ceph.conf whose monitor is a loopback port where nothing listens.
dead_conf() {
	local port
	port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	cp "$RT_CLUSTER_DIR/keyring.admin" "$tmp/$case_name/keyring"
	cat >"$tmp/$case_name/dead.conf" <<EOF
[global]
mon_host = [v2:127.0.0.1:$port]
ms_bind_msgr1 = false
auth_client_required = cephx
keyring = $tmp/$case_name/keyring
EOF
}

# The lock holder is a replay stuck connecting to a dead cluster, so that it
# holds the lock for a known while.
case_two_replays() {
	local hold t0 dir
	cat >"$tmp/$case_name/b.yaml" <<EOF
version: 1
defaults: {pool: $pool, namespace: $ns}
requests:
  - {tracker: A, add: [a, b]}
  - {tracker: A, mask: [a]}
  - {tracker: B, add: [x]}
EOF
	submit "$tmp/$case_name/b.yaml"
	dead_conf
	"$reftrack" -c "$tmp/$case_name/dead.conf" replay --journal "$jdir" \
		--op-timeout 10 >/dev/null 2>"$tmp/$case_name/hold.err" &
	hold=$!
	bg_pids=("$hold")
	dir=$("$reftrack" status --journal "$jdir" --json | "$py" -c 'import json, sys; print(json.load(sys.stdin)["journal"]["dir"])')
	# Until the holder has the lock (it writes its pid into the file).
	for _ in $(seq 50); do
		[ "$(cat "$jdir/replay.lock" 2>/dev/null)" = "$hold" ] && break
		sleep 0.1
	done
	[ "$(cat "$jdir/replay.lock" 2>/dev/null)" = "$hold" ] ||
		fail "the holder (pid $hold) never took the lock"
	rtk replay --journal "$jdir"
	expect_rc 75
	expect_err_has "journal $dir is being replayed by pid $hold"
	[ "$(count_of pending)" -eq 3 ] || fail "entries changed by a refused replay"
	rtk replay --journal "$jdir" --wait=1
	expect_rc 75
	expect_err_has "being replayed by pid $hold"
	t0=$SECONDS
	rtk replay --journal "$jdir" --wait
	expect_rc 0
	# The holder says why it gives up before it lets go of the lock.
	[ -s "$tmp/$case_name/hold.err" ] ||
		fail "replay --wait went ahead while pid $hold held the lock"
	wait "$hold"
	[ $? -eq 75 ] || fail "the lock holder on a dead cluster did not exit 75"
	bg_pids=()
	[ "$((SECONDS - t0))" -le 30 ] || fail "replay --wait took $((SECONDS - t0)) s"
	expect_tracker A "a:02,b:01 count=00000001"
	expect_tracker B "x:01 count=00000001"
	[ "$(count_of "done")" -eq 3 ] || fail "not every entry is done"
}

# Two real replays with --wait started together: whichever gets the lock
# applies everything, the other waits for it, finds nothing left, and
# succeeds too; every effect happens once.
case_two_replays_racing() {
	local p1 p2 s1 s2 d=$tmp/$case_name
	gen --seed "$((seed + 7))" --entries 1500 --trackers t:30:mask --keys 4
	submit "$d/gen/batch-00.yaml"
	"$reftrack" replay --journal "$jdir" --inflight 1 --wait >"$d/r1" 2>&1 &
	p1=$!
	"$reftrack" replay --journal "$jdir" --inflight 1 --wait >"$d/r2" 2>&1 &
	p2=$!
	bg_pids=("$p1" "$p2")
	wait "$p1"
	s1=$?
	wait "$p2"
	s2=$?
	bg_pids=()
	[ "$s1" -eq 0 ] && [ "$s2" -eq 0 ] ||
		fail "replays exited $s1 and $s2, want 0 and 0: $(cat "$d/r1" "$d/r2")"
	# One of them applied all 1500, the other nothing.
	grep -q '^replay: 1500 applied' "$d/r1" "$d/r2" ||
		fail "no run applied all 1500 entries: $(cat "$d/r1" "$d/r2")"
	grep -q '^replay: 0 applied' "$d/r1" "$d/r2" ||
		fail "both runs applied entries: $(cat "$d/r1" "$d/r2")"
	check_model --all-done
}

# ---- 6. the cluster is unreachable -------------------------------------------------

case_unreachable() {
	local t0
	cat >"$tmp/$case_name/b.yaml" <<EOF
version: 1
defaults: {pool: $pool, namespace: $ns}
requests:
  - {tracker: A, add: [a]}
  - {tracker: B, remove: [b]}
EOF
	submit "$tmp/$case_name/b.yaml"
	dead_conf
	t0=$SECONDS
	rtk -c "$tmp/$case_name/dead.conf" replay --journal "$jdir" --op-timeout 3
	expect_rc 75
	[ "$((SECONDS - t0))" -le 15 ] ||
		fail "replay on a dead cluster took $((SECONDS - t0)) s with --op-timeout 3"
	[ "$(count_of pending)" -eq 2 ] || fail "entries are no longer pending"
	[ "$(count_of failed)" -eq 0 ] || fail "entries failed"
	expect_entries 1:attempts=0 1:state=pending 2:state=pending
	# The same journal on the live cluster.
	replay_until_done
	expect_tracker A "a:01 count=00000001"
	expect_tracker B absent
	expect_entries 1:result=created 2:result=deleted
	# With nothing left to apply, a dead cluster is not needed: all done.
	t0=$SECONDS
	rtk -c "$tmp/$case_name/dead.conf" replay --journal "$jdir" --op-timeout 3
	expect_rc 0
	[ "$((SECONDS - t0))" -le 2 ] ||
		fail "replay with nothing to do took $((SECONDS - t0)) s on a dead cluster"
}

# ---- 7. failed entries: blocked behind them, skip and retry -----------------

# corrupt TRACKER: a tracker of format version 2, which reftrack refuses to
# change.
corrupt() {
	printf '\0\0\0\1' >"$tmp/data"
	printf '\1' >"$tmp/one"
	rados -p "$pool" -N "$ns" put "$1" "$tmp/data" &&
		printf '\0\0\0\2' | rados -p "$pool" -N "$ns" setxattr "$1" csi.ceph.com/rt-version &&
		rados -p "$pool" -N "$ns" setomapval "$1" x --input-file "$tmp/one" ||
		fail "could not craft $1"
}

case_retry_skip() {
	local nopool="rplay-nopool-$$"
	cat >"$tmp/$case_name/b.yaml" <<EOF
version: 1
defaults: {pool: $pool, namespace: $ns}
requests:
  - {tracker: C, add: [y]}
  - {tracker: G, add: [a]}
  - {tracker: C, add: [z]}
  - {tracker: D, remove: [x]}
  - {tracker: C, remove: [x]}
  - {tracker: D, add: [w]}
  - {tracker: G, add: [b]}
  - {tracker: P, pool: $nopool, add: [a]}
  - {tracker: P, pool: $nopool, remove: [a]}
EOF
	corrupt C
	corrupt D
	submit "$tmp/$case_name/b.yaml"
	rtk replay --journal "$jdir"
	expect_rc 1
	expect_err_has "unknown tracker version 2"
	expect_entries 1:state=failed "1:error~tracker 'C'" "1:error~version 2" \
		2:state=done 3:state=blocked 4:state=failed 5:state=blocked \
		6:state=blocked 7:state=done 8:state=failed "8:error~$nopool" \
		9:state=blocked
	expect_tracker G "a:01,b:01 count=00000002"
	# Untouched: still version 2, still one key.
	[ "$(rados -p "$pool" -N "$ns" getxattr C csi.ceph.com/rt-version | od -An -tx1 | tr -d ' \n')" = 00000002 ] ||
		fail "C's version xattr changed"
	expect_tracker C "x:01 count=00000001"
	# A rerun changes nothing and still says an operator is needed.
	rtk replay --journal "$jdir"
	expect_rc 1
	expect_entries 3:state=blocked 1:state=failed

	# C: fixed by hand, its failed entry skipped: the blocked ones apply.
	printf '\0\0\0\1' | rados -p "$pool" -N "$ns" setxattr C csi.ceph.com/rt-version
	rtk skip --journal "$jdir" 1 --reason "y is not wanted"
	expect_rc 0
	expect_entries 1:state=skipped
	# D: fixed by hand, every failed entry retried.  P's pool is still
	# missing: it fails again.
	printf '\0\0\0\1' | rados -p "$pool" -N "$ns" setxattr D csi.ceph.com/rt-version
	rtk retry --journal "$jdir" --failed
	expect_rc 0
	rtk replay --journal "$jdir"
	expect_rc 1
	expect_entries 3:state=done 3:result=changed 5:state=done \
		5:result=changed 4:state=done 4:result=deleted 6:state=done \
		6:result=created 8:state=failed 9:state=blocked
	expect_tracker C "z:01 count=00000001"
	expect_tracker D "w:01 count=00000001"
	# Skip both entries of the missing pool: nothing is left.
	rtk skip --journal "$jdir" 8 --reason "pool gone"
	expect_rc 0
	rtk skip --journal "$jdir" 9 --reason "pool gone"
	expect_rc 0
	rtk replay --journal "$jdir"
	expect_rc 0
	[ "$(count_of skipped)" -eq 3 ] || fail "want 3 skipped entries"
	[ "$(count_of "done")" -eq 6 ] || fail "want 6 done entries"
	# Done entries are neither retried nor skipped.
	rtk skip --journal "$jdir" 2 --reason no
	expect_rc 65
	rtk retry --journal "$jdir" --entry 2
	expect_rc 65
}

for tool in "$reftrack" "$py"; do
	[ -x "$tool" ] || echo "test_replay.sh: $tool is missing" >&2
done

run_case case_fp_after_inflight_commit
run_case case_fp_mid_window
run_case case_fp_after_write
run_case case_fp_final_commit
run_case case_fp_mid_commit
run_case case_random_kills
run_case case_concurrent_writers
run_case case_delete_recreate
run_case case_delete_recreate_same_key
run_case case_two_replays
run_case case_two_replays_racing
run_case case_unreachable
run_case case_retry_skip

finish replay
