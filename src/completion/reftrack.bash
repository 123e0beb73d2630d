# bash completion for reftrack(1): subcommands, options, and where an option
# takes them, the journal's states and batch ids (read with
# `reftrack status --format json`, from the --journal given on the line).

_reftrack_journal_json()
{
	local i journal=()
	for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
		case ${COMP_WORDS[i]} in
		--journal) journal=(--journal "${COMP_WORDS[i + 1]}") ;;
		--journal=*) journal=("${COMP_WORDS[i]}") ;;
		esac
	done
	reftrack "${journal[@]}" status --limit 1 --format json 2>/dev/null
}

_reftrack()
{
	local cur prev sub i
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	local subs="add rm show submit status show-entry replay retry skip run prune export check backup repair scan"
	local common="--conf --cluster --id --user --name --keyring --pool --namespace --op-timeout --journal --format --json --help"
	for ((i = 1; i < COMP_CWORD; i++)); do
		case " $subs " in *" ${COMP_WORDS[i]} "*) sub=${COMP_WORDS[i]}; break ;; esac
	done

	case $prev in
	-c | --conf | -k | --keyring | --metrics-file | --live-keys | --emit-batch)
		COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--journal | --spool | --backup)
		COMPREPLY=($(compgen -d -- "$cur")); return ;;
	-f | --format)
		COMPREPLY=($(compgen -W "plain json json-pretty" -- "$cur")); return ;;
	--log-format)
		COMPREPLY=($(compgen -W "text json" -- "$cur")); return ;;
	--state)
		COMPREPLY=($(compgen -W "pending in-flight done failed skipped blocked needs-review" -- "$cur")); return ;;
	--batch)
		local ids
		ids=$(_reftrack_journal_json | python3 -c 'import json,sys
for b in json.load(sys.stdin).get("batches", []): print(b["id"])' 2>/dev/null)
		COMPREPLY=($(compgen -W "$ids" -- "$cur")); return ;;
	-p | --pool | -N | --namespace | -i | --id | --user | -n | --name | --cluster | --op-timeout | -m | --reason | --entry | --limit | --inflight | --max-attempts | --max-time | --retention | --batch-retention | --done-older-than | --backup-keep | --expect-version | --mass-release-threshold)
		return ;;
	esac

	if [ -z "$sub" ]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$common --version" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$subs" -- "$cur"))
		fi
		return
	fi
	if [[ $cur == -* ]]; then
		local own
		own=$(reftrack "$sub" --help 2>/dev/null | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u)
		COMPREPLY=($(compgen -W "$common $own" -- "$cur"))
		return
	fi
	case $sub in
	submit) COMPREPLY=($(compgen -f -- "$cur")) ;;
	backup) COMPREPLY=($(compgen -d -- "$cur")) ;;
	esac
}
complete -F _reftrack reftrack
