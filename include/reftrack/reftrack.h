/*
 * reftrack.h - reference trackers kept in Ceph RADOS.
 *
 * This header is the library's core API: error codes, cluster connection,
 * pool handles and the tracker operations.  batch.h (batch files),
 * journal.h (the LMDB journal), replay.h (the replayer) and scan.h (the
 * audit of a pool's trackers) build on it; sys/journal.h holds the
 * journal's low-level writes, for tools and tests.
 *
 * Conventions, for every function in every reftrack header:
 *  - Functions return int: 0 on success, a negative RT_E* code on failure.
 *    rt_strerror() names any code.  A handle that failed also carries a
 *    message naming what was involved (pool, namespace, tracker, key), read
 *    with that handle's *_errmsg() call; it stays valid until the next call
 *    on that handle.
 *  - Out-parameters come first.  Where a caller may not care, NULL is allowed
 *    and documented.
 *  - Every close and free function accepts NULL.
 *  - The library never prints, exits or aborts on bad input.
 *  - A handle is used by one thread at a time; distinct handles are
 *    independent.
 */
#ifndef REFTRACK_REFTRACK_H
#define REFTRACK_REFTRACK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* RT_EXTERN starts every function declaration of the API, in every public
 * header (include/reftrack/ and include/reftrack/sys/):
 *
 *	RT_EXTERN int rt_example(rt_thing **out, const char *name);
 *
 * The library is compiled with -fvisibility=hidden, so libreftrack.so
 * exports exactly the functions declared with it; without it a function is
 * missing from the shared library (`make test-symbols` catches that), and
 * internal rt__ functions stay hidden.  Other compilers get a plain
 * declaration. */
#if defined(__GNUC__) && __GNUC__ >= 4
#define RT_EXTERN __attribute__((visibility("default")))
#else
#define RT_EXTERN
#endif

/* The version of these headers.  RT_VERSION_STRING is the three numbers
 * joined by dots, written out so that the Makefile can read it; a unit test
 * checks that they agree, and that rt_version() says the same. */
#define RT_VERSION_MAJOR 0
#define RT_VERSION_MINOR 1
#define RT_VERSION_PATCH 0
#define RT_VERSION_STRING "0.1.0"

/* Error codes.  The range is reserved so that callers can tell them apart
 * from anything else they mix in. */
enum rt_error {
	RT_OK = 0,
	RT_ENOTFOUND = -30900, /* tracker, pool or entry does not exist */
	RT_ECONFLICT,          /* concurrent writers won every retry */
	RT_ECORRUPT,           /* tracker bytes violate the v1 format */
	RT_EFOREIGN,           /* an object of another layout (e.g. the draft tool's) */
	RT_EVERSION,           /* tracker or journal of an unknown format version */
	RT_EINVAL,             /* invalid argument or input */
	RT_EPERM,              /* permission denied by the cluster or the OS */
	RT_ETRANSIENT,         /* timeout, connection loss, EAGAIN: try later */
	RT_EOVERFLOW,          /* refcount would exceed UINT32_MAX */
	RT_ENOMEM,             /* out of memory */
	RT_EIO,                /* any other failure; the message has the errno */
	RT_EBUSY,              /* a shared resource is exhausted for now
	                        * (LMDB's reader table is full): try later */
	RT_EJOURNAL,           /* journal is corrupt, foreign or full */
	RT_ECONFIG,            /* Ceph configuration unusable: unreadable or
	                        * invalid file, no monitor address, no
	                        * readable keyring or no key in it */
	RT_ELOCKED,            /* the journal's replay lock is held by another
	                        * handle or process (the message names its
	                        * pid) */
};

/* Returns a static description of an RT_E* code (or "success"). */
RT_EXTERN const char *rt_strerror(int code);

/* Limits.  RADOS object names and omap keys have no hard cap in the OSD, but
 * the OSD rejects names longer than osd_max_object_name_len (2048 by
 * default); keys are kept to the same bound so a batch validated offline is
 * never refused by a default-configured cluster.  Namespaces are bounded by
 * the OSD's osd_max_object_namespace_len (256 by default). */
#define RT_TRACKER_NAME_MAX 2048
#define RT_KEY_MAX 2048
#define RT_POOL_NAME_MAX 256
#define RT_NAMESPACE_MAX 256

/* The on-RADOS format, version 1 (byte-compatible with ceph-csi). */
#define RT_FORMAT_VERSION 1
#define RT_VERSION_XATTR "csi.ceph.com/rt-version"

typedef enum rt_ref_type {
	RT_REF_NORMAL = 1, /* counts towards the refcount */
	RT_REF_MASK = 2    /* present but not counted; ignored by add */
} rt_ref_type;

/* One reference key with its type.  key is a NUL-terminated string. */
typedef struct rt_ref {
	const char *key;
	rt_ref_type type;
} rt_ref;

/* What one add or remove did to its tracker. */
typedef struct rt_outcome {
	int created;             /* the tracker object was created */
	int deleted;             /* the tracker is gone (removed now, or missing) */
	uint32_t added;          /* keys added as normal */
	uint32_t removed;        /* keys removed from the omap */
	uint32_t masked;         /* keys turned into masks or added as masks */
	uint32_t refcount;       /* refcount after the change (0 if deleted) */
	uint64_t object_version; /* RADOS object version after the change; 0 if
	                          * nothing was written or the object is gone */
	unsigned attempts;       /* read/write rounds it took (>= 1) */
} rt_outcome;

/* ---- cluster connection ---------------------------------------------- */

typedef struct rt_cluster rt_cluster;

/* Options structs carry a version as their first member, so they can grow
 * without breaking programs built against older headers: declare one with
 * its _INIT macro (or fill it with its _init() function), then set the
 * fields wanted.  A function refuses a version it does not know with
 * RT_EINVAL. */
#define RT_CONNECT_OPTS_VERSION 1
#define RT_CONNECT_OPTS_INIT { RT_CONNECT_OPTS_VERSION, NULL, NULL, NULL, \
                               NULL, 0, 0, NULL, NULL, 0 }

typedef struct rt_connect_opts {
	unsigned int version;    /* RT_CONNECT_OPTS_VERSION */
	const char *conf_path;   /* NULL: $CEPH_CONF, then Ceph's default paths */
	const char *name;        /* entity name, e.g. "client.admin"; or NULL */
	const char *id;          /* client id, e.g. "admin"; used if name is NULL */
	const char *keyring;     /* NULL: whatever the configuration says */
	int use_ceph_args;       /* apply $CEPH_ARGS (lower precedence than the
	                          * fields above, higher than the conf file) */
	unsigned op_timeout_sec; /* 0: librados defaults; else bounds mon/osd ops
	                          * and the connection attempt */
	const char *cluster;     /* cluster name; NULL: "ceph".  Picks the
	                          * default configuration file
	                          * (/etc/ceph/CLUSTER.conf) and keyring */
	/* Ceph configuration overrides as a Ceph tool's command line has them
	 * ("--debug-rados", "20", "--log-file=F", "--ms-crc-data"), handed to
	 * librados' own parser after the configuration file, $CEPH_ARGS and
	 * the fields above, so they win over all of those.  An argument
	 * librados does not take is RT_EINVAL.  Borrowed for the call. */
	const char *const *ceph_argv;
	size_t ceph_argc;
} rt_connect_opts;

/* Sets *opts to the defaults of that version (every field 0 or NULL) with
 * its version.  Errors: RT_EINVAL (a version this library does not know;
 * *opts is left alone). */
RT_EXTERN int rt_connect_opts_init(rt_connect_opts *opts, unsigned int version);

/* Connects to a cluster.  On failure *out is still set (unless ENOMEM) so
 * that rt_cluster_errmsg() can say why; close it in either case.  The
 * configuration is checked before any monitor is contacted: mon_host must
 * be set (monitors are not looked up in DNS), and unless auth_client_required
 * leaves cephx out, a key, a readable keyfile or a readable keyring must be
 * configured.  Errors: RT_ECONFIG (unreadable or invalid conf file or
 * $CEPH_ARGS, invalid entity name, no mon_host, no readable keyring, no key
 * for the entity in it; the message names the file or setting), RT_EPERM
 * (auth refused by the cluster), RT_ETRANSIENT (no monitor answered in
 * time), RT_EINVAL (opts of an unknown version), RT_ENOMEM.  opts may be
 * NULL: the defaults.
 * SIGPIPE: librados writes to sockets (monitors, OSDs, and at start-up an
 * existing admin socket whose owner may have just exited), so the caller
 * must ignore or block SIGPIPE before connecting, as Ceph's own tools do;
 * the library changes no process-wide signal disposition. */
RT_EXTERN int rt_cluster_connect(rt_cluster **out, const rt_connect_opts *opts);
RT_EXTERN void rt_cluster_close(rt_cluster *cluster);
RT_EXTERN const char *rt_cluster_errmsg(const rt_cluster *cluster);

/* What librados makes of the configuration option `name` (without the
 * leading "--"; dashes and underscores are the same to it): RT_CEPH_OPT_VALUE
 * if it takes a value ("--NAME VALUE" or "--NAME=VALUE"), RT_CEPH_OPT_FLAG
 * if it is a boolean ("--NAME" alone sets it; also "no-NAME", which clears
 * it), 0 if librados knows no such option, or RT_ENOMEM.  Connects to
 * nothing and reads no file. */
#define RT_CEPH_OPT_VALUE 1
#define RT_CEPH_OPT_FLAG 2
RT_EXTERN int rt_ceph_option_kind(const char *name);

/* The versions reftrack runs with: its own and those of the libraries it
 * is linked with at run time (which may differ from the headers it was
 * built against).  Strings are static. */
typedef struct rt_versions {
	const char *reftrack;   /* RT_VERSION_STRING */
	int rados_major, rados_minor, rados_extra; /* librados' API version */
	const char *lmdb;       /* e.g. "LMDB 0.9.24: (July 24, 2019)" */
	const char *yaml;       /* e.g. "0.2.2" */
} rt_versions;
RT_EXTERN void rt_versions_get(rt_versions *out);

/* The version of the library linked at run time, which may differ from
 * RT_VERSION_* of the headers a program was built with.  Any pointer may be
 * NULL.  Returns RT_VERSION_STRING of the library, a static string. */
RT_EXTERN const char *rt_version(int *major, int *minor, int *patch);

/* ---- pools ----------------------------------------------------------- */

typedef struct rt_pool rt_pool;

/* Retry policy for one tracker change.  Conflicts (a racing writer) are
 * re-read and re-planned at once; transient errors back off exponentially
 * from base_delay_ms to max_delay_ms with full jitter. */
typedef struct rt_retry_policy {
	unsigned max_attempts;  /* read/write rounds before RT_ECONFLICT or
	                         * RT_ETRANSIENT is returned; default 64 */
	unsigned base_delay_ms; /* default 1 */
	unsigned max_delay_ms;  /* default 250 */
} rt_retry_policy;

/* Opens pool `pool` in RADOS namespace `ns` (NULL or "" = default).  The
 * pool handle borrows `cluster`, which must outlive it.  On failure *out is
 * set as for rt_cluster_connect().  Errors: RT_ENOTFOUND (no such pool),
 * RT_EINVAL, RT_ENOMEM. */
RT_EXTERN int rt_pool_open(rt_pool **out, rt_cluster *cluster, const char *pool,
                           const char *ns);
RT_EXTERN void rt_pool_close(rt_pool *pool);
RT_EXTERN const char *rt_pool_errmsg(const rt_pool *pool);
/* Copies *policy into the handle.  Zero fields keep their defaults. */
RT_EXTERN void rt_pool_set_retry(rt_pool *pool, const rt_retry_policy *policy);

/* ---- tracker operations ---------------------------------------------- */

/* Adds `keys` as normal references to tracker `tracker`, creating it if it
 * does not exist.  Duplicate keys count once.  Keys already present (normal
 * or mask) are left alone.  `out` may be NULL.
 * The empty key "" is a key like any other (ceph-csi accepts it too).
 * Errors: RT_EINVAL (no keys, an over-long key, an empty or over-long name),
 * RT_ECORRUPT, RT_EFOREIGN, RT_EVERSION (nothing written), RT_EOVERFLOW,
 * RT_ECONFLICT, RT_ETRANSIENT (retry budget spent), RT_EPERM, RT_ENOTFOUND
 * (pool vanished), RT_EIO, RT_ENOMEM. */
RT_EXTERN int rt_tracker_add(rt_outcome *out, rt_pool *pool,
                             const char *tracker, const char *const *keys,
                             size_t nkeys);

/* Removes references.  A normal ref removes the key (counted only if it was
 * normal); a mask ref turns a normal key into a mask or records a new mask.
 * When the count reaches 0 the object is removed in the same guarded write.
 * A missing tracker is reported as out->deleted = 1.  Duplicates of the same
 * key and type count once; one key given as both normal and mask is
 * RT_EINVAL.  Errors as for rt_tracker_add(), plus RT_ECORRUPT on refcount
 * underflow. */
RT_EXTERN int rt_tracker_remove(rt_outcome *out, rt_pool *pool,
                                const char *tracker, const rt_ref *refs,
                                size_t nrefs);

/* A whole tracker, as rt_tracker_read() saw it. */
typedef struct rt_tracker_info {
	uint64_t object_version;
	uint32_t format_version;
	uint32_t refcount;
	size_t nrefs;
	rt_ref *refs; /* sorted by key; owned by the info */
} rt_tracker_info;

/* Reads every key of a tracker.  *out is owned by the caller and freed with
 * rt_tracker_info_free().  Errors: RT_ENOTFOUND, RT_ECORRUPT, RT_EFOREIGN,
 * RT_EVERSION, RT_EPERM, RT_ETRANSIENT, RT_EIO, RT_ENOMEM. */
RT_EXTERN int rt_tracker_read(rt_tracker_info **out, rt_pool *pool,
                              const char *tracker);
RT_EXTERN void rt_tracker_info_free(rt_tracker_info *info);

/* ---- repair ---------------------------------------------------------- */

/* What rt_tracker_recount() read, and what it did. */
typedef struct rt_recount {
	uint64_t object_version; /* object version of the read */
	uint32_t refcount;       /* the stored count, as read */
	uint64_t normal_keys;    /* normal keys, the empty key "" included */
	uint64_t mask_keys;      /* mask keys, "" included */
	int needed;              /* refcount != normal_keys */
	int written;             /* the count was rewritten to normal_keys */
	uint64_t new_version;    /* object version after the write; 0 if
	                          * nothing was written */
} rt_recount;

/* rt_tracker_recount() flags. */
#define RT_RECOUNT_WRITE 1u /* write the count; without it, only report */

/* Reads the whole tracker (every page at one object version, every value
 * checked, "" looked up) and, when its stored count disagrees with its
 * normal keys and flags has RT_RECOUNT_WRITE, rewrites the count (the 4
 * data bytes) to the number of normal keys in one write that asserts the
 * object version just read.  Nothing else is changed: keys, masks and the
 * version xattr stay as they are, and a tracker whose count is right, or
 * whose normal keys are 0, is never deleted (a count of 0 is written).
 * expect_version, if not 0, is the object version the caller saw (say, in
 * an earlier dry run): any other version is RT_ECONFLICT and nothing is
 * written.  *out is filled as far as the read got (zeroed first).
 * Errors: RT_ENOTFOUND (no such tracker), RT_ECORRUPT, RT_EFOREIGN,
 * RT_EVERSION (any flaw but the count: nothing written, ever), RT_ECONFLICT
 * (the version is not expect_version, or the tracker changed between the
 * read and the write: nothing written), RT_EOVERFLOW (more normal keys
 * than a count holds), RT_EINVAL (a bad name or unknown flags), RT_EPERM,
 * RT_ETRANSIENT, RT_EIO, RT_ENOMEM. */
RT_EXTERN int rt_tracker_recount(rt_recount *out, rt_pool *pool, const char *tracker,
                       uint64_t expect_version, unsigned flags);

#ifdef __cplusplus
}
#endif

#endif
