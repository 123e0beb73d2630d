/*
 * options.c - the versioned options structs of the public API: their
 * _init() functions.  Each function taking options checks the version
 * itself (cluster.c, journal_prune.c, replay.c, scan.c); a new version of a struct
 * adds its fields at the end, and its readers treat the older versions'
 * missing fields as their defaults.
 */
#include <string.h>

#include <reftrack/journal.h>
#include <reftrack/replay.h>
#include <reftrack/scan.h>

/* `version` is the first member of every options struct. */
static int opts_init(void *opts, size_t size, unsigned int version,
                     unsigned int known)
{
	if (!opts || version != known)
		return RT_EINVAL;
	memset(opts, 0, size);
	memcpy(opts, &version, sizeof(version));
	return 0;
}

int rt_connect_opts_init(rt_connect_opts *opts, unsigned int version)
{
	return opts_init(opts, sizeof(*opts), version, RT_CONNECT_OPTS_VERSION);
}

int rt_replay_opts_init(rt_replay_opts *opts, unsigned int version)
{
	return opts_init(opts, sizeof(*opts), version, RT_REPLAY_OPTS_VERSION);
}

int rt_prune_opts_init(rt_prune_opts *opts, unsigned int version)
{
	return opts_init(opts, sizeof(*opts), version, RT_PRUNE_OPTS_VERSION);
}

int rt_scan_opts_init(rt_scan_opts *opts, unsigned int version)
{
	return opts_init(opts, sizeof(*opts), version, RT_SCAN_OPTS_VERSION);
}
