/*
 * journal.c - opening a journal, its meta record, transactions and the
 * growth of the LMDB map.
 *
 * The layout is described in journal_int.h.  Two rules shape this file:
 *  - A journal we do not understand is never written to.  Everything that
 *    could tell us "this is not ours" or "this is newer than us" is checked
 *    in a read transaction before any write transaction is started.
 *  - MDB_MAP_FULL leaves the LMDB transaction unusable, and the map may only
 *    be resized while no transaction is open, so a full map ends the
 *    transaction, grows the map, and asks for the whole transaction again
 *    (RT_ETRANSIENT, which rt_journal_write() does by itself).
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "journal_int.h"

#define META_MAGIC "reftrack-journal"
#define ROUND_MAP ((uint64_t)1 << 20)

#ifdef RT_TEST_HOOKS
uint64_t rt__test_journal_map;
int rt__test_journal_presize = 1;
#endif

/* ---- messages ------------------------------------------------------------ */

int rt__jerr(rt_journal *j, int code, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!j)
		return code;
	n = snprintf(j->errmsg, sizeof(j->errmsg), "journal %s: ",
	             j->create_at ? j->create_at : j->dir ? j->dir : "?");
	if (n < 0 || (size_t)n >= sizeof(j->errmsg))
		return code;
	va_start(ap, fmt);
	vsnprintf(j->errmsg + n, sizeof(j->errmsg) - (size_t)n, fmt, ap);
	va_end(ap);
	return code;
}

int rt__jerr_decode(rt_journal *j, int drc, const char *kind,
                    unsigned long long key)
{
	return rt__jerr(j, RT_EJOURNAL,
	                "%s %llu is damaged (%s); not acting on it; run "
	                "`reftrack check`",
	                kind, key,
	                drc == RT__DECODE_CHECKSUM ? "its checksum does not match"
	                                           : "it does not decode");
}

/* LMDB turns a short write into EIO: that is how a disk that fills up in
 * the middle of a commit shows.  Whether the journal's file system is full
 * now says which it was, so that the operator reads "No space left on
 * device", not a disk failure. */
static int journal_fs_full(const rt_journal *j)
{
	struct statvfs fs;
	unsigned long long avail;

	if (!j->dir || statvfs(j->dir, &fs) != 0)
		return 0;
	avail = (unsigned long long)(geteuid() == 0 ? fs.f_bfree : fs.f_bavail) *
	        fs.f_frsize;
	return avail < (1ULL << 20);
}

int rt__jerr_mdb(rt_journal *j, struct rt_journal_txn *t, int rc,
                 const char *what)
{
	switch (rc) {
	case MDB_MAP_FULL:
		if (t)
			t->full = 1;
		if (j->map_size >= RT_JOURNAL_MAP_MAX)
			return rt__jerr(j, RT_EJOURNAL,
			                "%s: journal full (map size cap of %llu "
			                "GiB reached)",
			                what,
			                (unsigned long long)(RT_JOURNAL_MAP_MAX >> 30));
		return rt__jerr(j, RT_ETRANSIENT,
		                "%s: map of %llu MiB full; it will be enlarged, "
		                "redo the transaction",
		                what, (unsigned long long)(j->map_size >> 20));
	case MDB_TXN_FULL:
		return rt__jerr(j, RT_EJOURNAL, "%s: transaction too large", what);
	case MDB_READERS_FULL:
		return rt__jerr(j, RT_EBUSY, "%s: too many readers", what);
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_PANIC:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
	case MDB_INCOMPATIBLE:
	case MDB_BAD_DBI:
	case MDB_BAD_TXN:
	case MDB_BAD_VALSIZE:
		return rt__jerr(j, RT_EJOURNAL, "%s: %s", what, mdb_strerror(rc));
	case ENOMEM:
		return rt__jerr(j, RT_ENOMEM, "%s: out of memory", what);
	case EACCES:
	case EPERM:
	case EROFS:
		return rt__jerr(j, RT_EPERM, "%s: %s", what, strerror(rc));
	default:
		if (rc == EIO && journal_fs_full(j))
			rc = ENOSPC;
		return rt__jerr(j, RT_EIO, "%s: %s", what, mdb_strerror(rc));
	}
}

const char *rt_journal_errmsg(const rt_journal *j)
{
	return j ? j->errmsg : "";
}

const char *rt_journal_dir(const rt_journal *j)
{
	return j && j->dir ? j->dir : "";
}

const char *rt_journal_id(const rt_journal *j)
{
	return j ? j->id : "";
}

/* ---- names ----------------------------------------------------------------- */

static const char *const state_names[RT_ENTRY_STATE_SLOTS] = {
	[RT_ENTRY_PENDING] = "pending",
	[RT_ENTRY_IN_FLIGHT] = "in-flight",
	[RT_ENTRY_DONE] = "done",
	[RT_ENTRY_FAILED] = "failed",
	[RT_ENTRY_SKIPPED] = "skipped",
	[RT_ENTRY_BLOCKED] = "blocked",
	[RT_ENTRY_NEEDS_REVIEW] = "needs-review",
};

const char *rt_entry_state_name(int state)
{
	if (state < 0 || state >= RT_ENTRY_STATE_SLOTS)
		return NULL;
	return state_names[state];
}

int rt_entry_state_parse(const char *name)
{
	int i;

	for (i = 0; name && i < RT_ENTRY_STATE_SLOTS; i++)
		if (state_names[i] && strcmp(state_names[i], name) == 0)
			return i;
	return RT_EINVAL;
}

const char *rt_entry_result_name(int result)
{
	switch (result) {
	case RT_RESULT_NONE:
		return "none";
	case RT_RESULT_CREATED:
		return "created";
	case RT_RESULT_DELETED:
		return "deleted";
	case RT_RESULT_CHANGED:
		return "changed";
	case RT_RESULT_NOOP:
		return "no-op";
	default:
		return NULL;
	}
}

int64_t rt__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- where the journal lives ---------------------------------------------- */

static char *join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 2);

	if (!s)
		return NULL;
	memcpy(s, a, la);
	s[la] = '/';
	memcpy(s + la + 1, b, lb + 1);
	return s;
}

int rt_journal_resolve_dir(char **out, const char *dir)
{
	const char *env, *home;
	struct passwd *pw;

	*out = NULL;
	if (!dir || !*dir) {
		env = getenv("REFTRACK_JOURNAL");
		if (env && *env)
			dir = env;
	}
	if (dir && *dir) {
		*out = strdup(dir);
		return *out ? 0 : RT_ENOMEM;
	}
	if (geteuid() == 0) {
		*out = strdup("/var/lib/reftrack/journal");
		return *out ? 0 : RT_ENOMEM;
	}
	/* XDG says relative values are invalid and must be ignored. */
	env = getenv("XDG_STATE_HOME");
	if (env && env[0] == '/') {
		*out = join(env, "reftrack/journal");
		return *out ? 0 : RT_ENOMEM;
	}
	home = getenv("HOME");
	if (!home || home[0] != '/') {
		pw = getpwuid(geteuid());
		home = pw ? pw->pw_dir : NULL;
	}
	if (!home || home[0] != '/')
		return RT_EINVAL;
	*out = join(home, ".local/state/reftrack/journal");
	return *out ? 0 : RT_ENOMEM;
}

/* mkdir -p with mode 0700 for every directory it creates; existing ones
 * keep their mode (they may be shared, like ~/.local).  *made (if `made`
 * is not NULL) gets the first directory it created, malloc'd, or NULL. */
static int make_dirs(rt_journal *j, const char *path, char **made)
{
	char *p = strdup(path), *s;
	int rc = 0;

	if (made)
		*made = NULL;
	if (!p)
		return rt__jerr(j, RT_ENOMEM, "out of memory");
	for (s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char save = *s;

		*s = '\0';
		if (mkdir(p, 0700) == 0) {
			if (made && !*made && !(*made = strdup(p))) {
				rc = rt__jerr(j, RT_ENOMEM, "out of memory");
				goto done;
			}
		} else if (errno != EEXIST) {
			rc = rt__jerr(j, errno == EACCES ? RT_EPERM : RT_EIO,
			              "cannot create directory %s: %s", p,
			              strerror(errno));
			goto done;
		}
		*s = save;
		if (save == '\0')
			break;
	}
done:
	free(p);
	return rc;
}

/* ---- map size ---------------------------------------------------------- */

static int env_refresh_map(rt_journal *j)
{
	MDB_envinfo info;
	int rc = mdb_env_info(j->env, &info);

	if (rc)
		return rt__jerr_mdb(j, NULL, rc, "reading the environment");
	j->map_size = info.me_mapsize;
	return 0;
}

uint64_t rt__journal_used(rt_journal *j)
{
	MDB_envinfo info;
	MDB_stat st;

	if (mdb_env_info(j->env, &info) || mdb_env_stat(j->env, &st))
		return 0;
	return ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
}

int rt__journal_reserve(rt_journal *j, uint64_t bytes)
{
	uint64_t want;
	int rc;

	if (j->txn)
		return rt__jerr(j, RT_EINVAL,
		                "cannot resize the map inside a transaction");
	if (bytes <= j->map_size)
		return 0;
	want = j->map_size * 2;
	if (want < bytes)
		want = bytes;
	want = (want + ROUND_MAP - 1) / ROUND_MAP * ROUND_MAP;
	if (want > RT_JOURNAL_MAP_MAX)
		want = RT_JOURNAL_MAP_MAX;
	if (want <= j->map_size)
		return 0;
	rc = mdb_env_set_mapsize(j->env, (size_t)want);
	if (rc)
		return rt__jerr_mdb(j, NULL, rc, "enlarging the map");
	return env_refresh_map(j);
}

/* After a transaction failed with MDB_MAP_FULL: double the map. */
static void grow_after_full(rt_journal *j)
{
	uint64_t before = j->map_size;

	if (rt__journal_reserve(j, j->map_size * 2) == 0 &&
	    j->map_size > before)
		j->map_grown = 1;
}

/* ---- tracker keys ---------------------------------------------------------- */

int rt__tracker_hash(void *mdctx, const void *md,
                     uint8_t out[RT__TRACKER_KEY_LEN], const char *pool,
                     size_t pool_len, const char *ns, size_t ns_len,
                     const char *tracker, size_t tracker_len)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	static const char nul = '\0';

	if (!EVP_DigestInit_ex(mdctx, md, NULL) ||
	    !EVP_DigestUpdate(mdctx, pool, pool_len) ||
	    !EVP_DigestUpdate(mdctx, &nul, 1) ||
	    !EVP_DigestUpdate(mdctx, ns, ns_len) ||
	    !EVP_DigestUpdate(mdctx, &nul, 1) ||
	    !EVP_DigestUpdate(mdctx, tracker, tracker_len) ||
	    !EVP_DigestFinal_ex(mdctx, digest, &len) ||
	    len < RT__TRACKER_KEY_LEN)
		return -1;
	memcpy(out, digest, RT__TRACKER_KEY_LEN);
	return 0;
}

const void *rt__journal_md(rt_journal *j)
{
	/* Fetching the digest once, not per call, is what makes hashing a
	 * million names cheap with OpenSSL 3. */
	if (!j->md)
		j->md = EVP_MD_fetch(NULL, "SHA256", NULL);
	return j->md;
}

int rt__tracker_key(rt_journal *j, uint8_t out[RT__TRACKER_KEY_LEN],
                    const char *pool, size_t pool_len, const char *ns,
                    size_t ns_len, const char *tracker, size_t tracker_len)
{
	if (!rt__journal_md(j))
		return rt__jerr(j, RT_ENOMEM, "cannot load SHA-256");
	if (!j->mdctx) {
		j->mdctx = EVP_MD_CTX_new();
		if (!j->mdctx)
			return rt__jerr(j, RT_ENOMEM, "out of memory");
	}
	if (rt__tracker_hash(j->mdctx, j->md, out, pool, pool_len, ns, ns_len,
	                     tracker, tracker_len))
		return rt__jerr(j, RT_ENOMEM, "SHA-256 failed");
	return 0;
}

/* ---- meta --------------------------------------------------------------------- */

int rt__meta_get_u64(struct rt_journal_txn *t, const char *key, uint64_t *v)
{
	MDB_val k = mkval(key, strlen(key)), d;
	int rc = mdb_get(t->txn, t->j->meta, &k, &d);

	if (rc == 0 && d.mv_size == 8) {
		*v = rt__be64_get(d.mv_data);
		return 0;
	}
	if (rc == 0 || rc == MDB_NOTFOUND)
		return rt__jerr(t->j, RT_EJOURNAL, "meta record \"%s\" %s", key,
		                rc ? "missing" : "malformed");
	return rt__jerr_mdb(t->j, t, rc, "reading the meta record");
}

/* Values below this are not worth a look at /proc/self/maps. */
#define DROP_BYTES (1 << 20)

void rt__journal_drop_value(rt_journal *j, const void *p, size_t len)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), lo, hi, ms, me;
	unsigned long long ino;
	struct stat st;
	char line[512];
	mdb_filehandle_t fd;
	FILE *f;

	if (len < DROP_BYTES || page == 0 || mdb_env_get_fd(j->env, &fd) ||
	    fstat(fd, &st) != 0)
		return;
	/* Whole pages inside the value only: LMDB gives a large value
	 * pages of its own, but the edges are not ours to judge. */
	lo = ((uintptr_t)p + page - 1) / page * page;
	hi = ((uintptr_t)p + len) / page * page;
	if (hi <= lo || !(f = fopen("/proc/self/maps", "re")))
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %*s %*s %*s %llu", &ms, &me, &ino) != 3)
			continue;
		if (ino == (unsigned long long)st.st_ino && lo >= ms && hi <= me) {
			(void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
			break;
		}
	}
	fclose(f);
}

int rt__visible_end(struct rt_journal_txn *t, uint64_t *end)
{
	return rt__meta_get_u64(t, "next_seq", end);
}

/* Sets or clears RT__FORMAT_STAGING in meta "format". */
static int format_staging(struct rt_journal_txn *t, int on)
{
	MDB_val k = mkval("format", 6), d;
	uint8_t b[4];
	int rc = mdb_get(t->txn, t->j->meta, &k, &d);

	if (rc)
		return rt__jerr_mdb(t->j, t, rc, "reading the format");
	if (d.mv_size != 4)
		return rt__jerr(t->j, RT_EJOURNAL, "meta record has no valid format");
	memcpy(b, d.mv_data, 4);
	if (!!(b[0] & 0x80) == on)
		return 0;
	b[0] = on ? (uint8_t)(b[0] | 0x80) : (uint8_t)(b[0] & 0x7f);
	d = mkval(b, 4);
	rc = mdb_put(t->txn, t->j->meta, &k, &d, 0);
	return rc ? rt__jerr_mdb(t->j, t, rc, "writing the format") : 0;
}

int rt__staging_mark(struct rt_journal_txn *t, uint64_t first_seq)
{
	int rc = rt__meta_put_u64(t, RT__META_STAGING, first_seq);

	return rc ? rc : format_staging(t, 1);
}

int rt__staging_clear(struct rt_journal_txn *t)
{
	MDB_val k = mkval(RT__META_STAGING, strlen(RT__META_STAGING));
	int rc = mdb_del(t->txn, t->j->meta, &k, NULL);

	if (rc && rc != MDB_NOTFOUND)
		return rt__jerr_mdb(t->j, t, rc, "writing the meta record");
	return format_staging(t, 0);
}

int rt__meta_put_u64(struct rt_journal_txn *t, const char *key, uint64_t v)
{
	uint8_t b[8];
	MDB_val k = mkval(key, strlen(key)), d = mkval(b, 8);
	int rc;

	rt__be64_put(b, v);
	rc = mdb_put(t->txn, t->j->meta, &k, &d, 0);
	if (rc)
		return rt__jerr_mdb(t->j, t, rc, "writing the meta record");
	t->mods++;
	return 0;
}

int rt__meta_get_counts(struct rt_journal_txn *t,
                        uint64_t counts[RT_ENTRY_STATE_SLOTS])
{
	MDB_val k = mkval("counts", 6), d;
	struct rt__rd r;
	int rc = mdb_get(t->txn, t->j->meta, &k, &d);

	if (rc == MDB_NOTFOUND)
		return rt__jerr(t->j, RT_EJOURNAL, "meta record \"counts\" missing");
	if (rc)
		return rt__jerr_mdb(t->j, t, rc, "reading the counts");
	r.p = d.mv_data;
	r.end = r.p + d.mv_size;
	r.bad = 0;
	rt__counts_read(&r, counts);
	if (r.bad || r.p != r.end)
		return rt__jerr(t->j, RT_EJOURNAL, "meta record \"counts\" malformed");
	return 0;
}

int rt__meta_put_counts(struct rt_journal_txn *t,
                        const uint64_t counts[RT_ENTRY_STATE_SLOTS])
{
	uint8_t tmp[RT_ENTRY_STATE_SLOTS * 10 + 10];
	struct rt__buf b = { tmp, 0, sizeof(tmp), 0 };
	MDB_val k = mkval("counts", 6), d;
	int rc;

	rt__counts_encode(&b, counts);
	d = mkval(b.p, b.len);
	rc = mdb_put(t->txn, t->j->meta, &k, &d, 0);
	if (rc)
		return rt__jerr_mdb(t->j, t, rc, "writing the counts");
	t->mods++;
	return 0;
}

/* ---- open ------------------------------------------------------------------------ */

struct dbspec {
	const char *name;
	unsigned flags;
	size_t off;
};

static const struct dbspec dbs[] = {
	{ "batches", 0, offsetof(rt_journal, batches) },
	{ "batch_ids", 0, offsetof(rt_journal, batch_ids) },
	{ "entries", 0, offsetof(rt_journal, entries) },
	{ "by_tracker", MDB_DUPSORT | MDB_DUPFIXED,
	  offsetof(rt_journal, by_tracker) },
	{ "by_state", MDB_DUPSORT | MDB_DUPFIXED,
	  offsetof(rt_journal, by_state) },
};

static int open_tables(rt_journal *j, MDB_txn *txn, unsigned create)
{
	size_t i;
	int rc;

	for (i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
		MDB_dbi *dbi = (MDB_dbi *)((char *)j + dbs[i].off);

		rc = mdb_dbi_open(txn, dbs[i].name, dbs[i].flags | create, dbi);
		if (rc == MDB_NOTFOUND)
			return rt__jerr(j, RT_EJOURNAL,
			                "table \"%s\" is missing: not a reftrack "
			                "journal, or a damaged one",
			                dbs[i].name);
		if (rc == MDB_INCOMPATIBLE)
			return rt__jerr(j, RT_EJOURNAL,
			                "table \"%s\" has the wrong shape: not a "
			                "reftrack journal, or a damaged one",
			                dbs[i].name);
		if (rc)
			return rt__jerr_mdb(j, NULL, rc, "opening the tables");
	}
	return 0;
}

static void make_uuid(char out[37])
{
	uint8_t b[16];
	size_t got = 0;
	int i, n = 0;

	while (got < sizeof(b)) {
		ssize_t r = getrandom(b + got, sizeof(b) - got, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* No entropy source at all: fall back to time and pid,
			 * which still makes two journals' ids differ. */
			uint64_t t = (uint64_t)rt__now_ns() ^ ((uint64_t)getpid() << 32);

			for (; got < sizeof(b); got++, t = t * 6364136223846793005ULL + 1)
				b[got] = (uint8_t)(t >> 56);
			break;
		}
		got += (size_t)r;
	}
	b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[n++] = '-';
		n += snprintf(out + n, 3, "%02x", b[i]);
	}
	out[36] = '\0';
}

/* Writes a new journal's tables and meta record, unless another process did
 * it first (the write lock serialises us). */
static int initialize(rt_journal *j)
{
	struct rt_journal_txn t = { 0 };
	MDB_dbi main_dbi;
	MDB_stat st;
	MDB_val k, d;
	uint8_t b[8];
	uint64_t zero[RT_ENTRY_STATE_SLOTS] = { 0 };
	char id[37];
	int rc;

	t.j = j;
	rc = mdb_txn_begin(j->env, NULL, 0, &t.txn);
	if (rc)
		return rt__jerr_mdb(j, NULL, rc, "starting a transaction");
	rc = mdb_dbi_open(t.txn, "meta", 0, &j->meta);
	if (rc == 0) {
		rc = mdb_txn_commit(t.txn);
		t.txn = NULL;
		if (rc)
			rc = rt__jerr_mdb(j, NULL, rc, "opening the meta table");
		goto done;
	}
	rc = mdb_dbi_open(t.txn, NULL, 0, &main_dbi);
	if (rc == 0)
		rc = mdb_stat(t.txn, main_dbi, &st);
	if (rc) {
		rc = rt__jerr_mdb(j, NULL, rc, "reading the environment");
		goto done;
	}
	if (st.ms_entries != 0) {
		rc = rt__jerr(j, RT_EJOURNAL,
		              "data.mdb is an LMDB environment of something else, "
		              "not a reftrack journal; refusing to touch it");
		goto done;
	}
	rc = mdb_dbi_open(t.txn, "meta", MDB_CREATE, &j->meta);
	if (rc) {
		rc = rt__jerr_mdb(j, NULL, rc, "creating the meta table");
		goto done;
	}
	rc = open_tables(j, t.txn, MDB_CREATE);
	if (rc)
		goto done;

	make_uuid(id);
	k = mkval("magic", 5);
	d = mkval(META_MAGIC, strlen(META_MAGIC));
	rc = mdb_put(t.txn, j->meta, &k, &d, 0);
	if (rc == 0) {
		b[0] = b[1] = b[2] = 0;
		b[3] = RT_JOURNAL_FORMAT;
		k = mkval("format", 6);
		d = mkval(b, 4);
		rc = mdb_put(t.txn, j->meta, &k, &d, 0);
	}
	if (rc == 0) {
		k = mkval("id", 2);
		d = mkval(id, 36);
		rc = mdb_put(t.txn, j->meta, &k, &d, 0);
	}
	if (rc) {
		rc = rt__jerr_mdb(j, NULL, rc, "writing the meta record");
		goto done;
	}
	if ((rc = rt__meta_put_u64(&t, "created", (uint64_t)rt__now_ns())) ||
	    (rc = rt__meta_put_u64(&t, "next_seq", 1)) ||
	    (rc = rt__meta_put_u64(&t, "next_batch", 1)) ||
	    (rc = rt__meta_put_counts(&t, zero)))
		goto done;
	rc = mdb_txn_commit(t.txn);
	t.txn = NULL;
	if (rc)
		rc = rt__jerr_mdb(j, NULL, rc, "creating the journal");
done:
	if (t.txn)
		mdb_txn_abort(t.txn);
	return rc;
}

/* Rewrites every record of table `dbi` from codec 1 to codec 2. */
static int migrate_table(rt_journal_txn *t, MDB_dbi dbi, int entries)
{
	MDB_cursor *cur = NULL;
	struct rt__buf b = { 0 };
	struct rt__entry_rec e;
	struct rt__batch_rec br;
	uint8_t kb[8];
	MDB_val k, d;
	int rc;

	rc = mdb_cursor_open(t->txn, dbi, &cur);
	if (rc)
		return rt__jerr_mdb(t->j, t, rc, "migrating");
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		unsigned long long key =
			k.mv_size == 8 ? (unsigned long long)rt__be64_get(k.mv_data)
			               : 0ULL;

		rt__buf_reset(&b);
		if (entries) {
			if (rt__entry_decode_v1(&e, d.mv_data, d.mv_size) ||
			    e.unknown_fields) {
				rc = rt__jerr_decode(t->j, RT__DECODE_MALFORMED,
				                     "entry", key);
				goto done;
			}
			rt__entry_encode(&b, &e);
		} else {
			if (rt__batch_decode_v1(&br, d.mv_data, d.mv_size)) {
				rc = rt__jerr_decode(t->j, RT__DECODE_MALFORMED,
				                     "batch record", key);
				goto done;
			}
			rt__batch_encode(&b, &br);
		}
		if (b.oom) {
			rc = rt__jerr(t->j, RT_ENOMEM, "out of memory");
			goto done;
		}
		/* k points into the page the put rewrites: copy it first. */
		if (k.mv_size != 8) {
			rc = rt__jerr(t->j, RT_EJOURNAL, "malformed record key");
			goto done;
		}
		memcpy(kb, k.mv_data, 8);
		k.mv_data = kb;
		d.mv_data = b.p;
		d.mv_size = b.len;
		rc = mdb_cursor_put(cur, &k, &d, MDB_CURRENT);
		if (rc) {
			rc = rt__jerr_mdb(t->j, t, rc, "migrating a record");
			goto done;
		}
		t->mods++;
	}
	rc = rc == MDB_NOTFOUND ? 0 : rt__jerr_mdb(t->j, t, rc, "migrating");
done:
	mdb_cursor_close(cur);
	rt__buf_free(&b);
	return rc;
}

static int migrate_fn(void *arg, rt_journal_txn *t)
{
	rt_journal *j = arg;
	MDB_val k = mkval("format", 6), d;
	uint8_t b[4] = { 0, 0, 0, RT_JOURNAL_FORMAT };
	int rc;

	/* Another process may have migrated it since we looked. */
	rc = mdb_get(t->txn, j->meta, &k, &d);
	if (rc)
		return rt__jerr_mdb(j, t, rc, "reading the format");
	if (d.mv_size == 4 && ((const uint8_t *)d.mv_data)[3] == 1 &&
	    ((rc = migrate_table(t, j->entries, 1)) ||
	     (rc = migrate_table(t, j->batches, 0))))
		return rc;
	d = mkval(b, 4);
	rc = mdb_put(t->txn, j->meta, &k, &d, 0);
	return rc ? rt__jerr_mdb(j, t, rc, "writing the format") : 0;
}

/* Format 1 had no record checksums: give every record its checksum, in one
 * transaction, so that a journal is either all format 1 or all format 2. */
static int migrate(rt_journal *j)
{
	int rc = rt_journal_write(j, migrate_fn, j);

	if (rc)
		return rc;
	j->format = RT_JOURNAL_FORMAT;
	return 0;
}

/* Checks that the environment is a journal we may use, and opens its
 * tables.  Returns 1 if it has no meta table yet (a new environment). */
static int validate(rt_journal *j)
{
	MDB_txn *txn = NULL;
	MDB_val k, d;
	uint32_t format;
	int rc;

	rc = mdb_txn_begin(j->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return rt__jerr_mdb(j, NULL, rc, "starting a transaction");
	rc = mdb_dbi_open(txn, "meta", 0, &j->meta);
	if (rc == MDB_NOTFOUND) {
		rc = 1;
		goto done;
	}
	if (rc == MDB_INCOMPATIBLE) {
		rc = rt__jerr(j, RT_EJOURNAL,
		              "data.mdb is an LMDB environment of something "
		              "else, not a reftrack journal");
		goto done;
	}
	if (rc) {
		rc = rt__jerr_mdb(j, NULL, rc, "opening the meta table");
		goto done;
	}
	k = mkval("magic", 5);
	rc = mdb_get(txn, j->meta, &k, &d);
	if (rc == MDB_NOTFOUND ||
	    (rc == 0 && (d.mv_size != strlen(META_MAGIC) ||
	                 memcmp(d.mv_data, META_MAGIC, d.mv_size) != 0))) {
		rc = rt__jerr(j, RT_EJOURNAL,
		              "data.mdb is an LMDB environment without a reftrack "
		              "meta record: not a reftrack journal");
		goto done;
	}
	if (rc == 0) {
		k = mkval("format", 6);
		rc = mdb_get(txn, j->meta, &k, &d);
	}
	if (rc == MDB_NOTFOUND || (rc == 0 && d.mv_size != 4)) {
		rc = rt__jerr(j, RT_EJOURNAL, "meta record has no valid format");
		goto done;
	}
	if (rc) {
		rc = rt__jerr_mdb(j, NULL, rc, "reading the meta record");
		goto done;
	}
	format = (uint32_t)((const uint8_t *)d.mv_data)[0] << 24 |
	         (uint32_t)((const uint8_t *)d.mv_data)[1] << 16 |
	         (uint32_t)((const uint8_t *)d.mv_data)[2] << 8 |
	         ((const uint8_t *)d.mv_data)[3];
	j->staging = !!(format & RT__FORMAT_STAGING);
	format &= ~RT__FORMAT_STAGING;
	if (format > RT_JOURNAL_FORMAT) {
		rc = rt__jerr(j, RT_EVERSION,
		              "journal format %u is newer than this reftrack "
		              "understands (%u); use a newer reftrack, the journal "
		              "is left untouched",
		              format, RT_JOURNAL_FORMAT);
		goto done;
	}
	if (format < 1) {
		rc = rt__jerr(j, RT_EJOURNAL, "invalid journal format %u", format);
		goto done;
	}
	j->format = format;
	k = mkval("id", 2);
	rc = mdb_get(txn, j->meta, &k, &d);
	if (rc || d.mv_size != 36) {
		rc = rt__jerr(j, RT_EJOURNAL, "meta record has no valid id");
		goto done;
	}
	memcpy(j->id, d.mv_data, 36);
	j->id[36] = '\0';
	k = mkval(RT__META_BACKUP, strlen(RT__META_BACKUP));
	j->restored = mdb_get(txn, j->meta, &k, &d) == 0;
	rc = open_tables(j, txn, 0);
	if (rc)
		goto done;
	/* Handles opened in a transaction survive it only through a commit. */
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc)
		rc = rt__jerr_mdb(j, NULL, rc, "opening the tables");
done:
	if (txn)
		mdb_txn_abort(txn);
	return rc;
}

/* "NAME" of a uid for messages, or its number. */
static const char *user_name(char buf[32], uid_t uid)
{
	struct passwd *pw = getpwuid(uid);

	if (pw && pw->pw_name && strlen(pw->pw_name) < 32)
		snprintf(buf, 32, "%s", pw->pw_name);
	else
		snprintf(buf, 32, "%u", (unsigned)uid);
	return buf;
}

/* StrictModes, as sshd has it: whoever can write the journal can put in
 * entries that this user (often root, with admin credentials) replays.
 * So the directory and its files must belong to the user running us and
 * be writable by nobody else. */
static int check_owner_mode(rt_journal *j, const char *path,
                            const struct stat *st)
{
	char owner[32], me[32];
	uid_t euid = geteuid();

	if (st->st_uid != euid)
		return rt__jerr(j, RT_EPERM,
		                "%s is owned by %s, not by %s who runs reftrack: "
		                "whoever owns it can change what is replayed; "
		                "fix: chown %s %s (or run reftrack as %s)",
		                path, user_name(owner, st->st_uid),
		                user_name(me, euid), me, path, owner);
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return rt__jerr(j, RT_EPERM,
		                "%s is writable by %s (mode %04o): anyone who can "
		                "write it can change what is replayed; fix: chmod "
		                "%s %s",
		                path,
		                (st->st_mode & S_IWOTH) ? "others" : "its group",
		                (unsigned)(st->st_mode & 07777),
		                S_ISDIR(st->st_mode) ? "700" : "600", path);
	return 0;
}

/* The files LMDB and the replay lock leave in a journal directory. */
static const char *const journal_files[] = { "data.mdb", "lock.mdb",
	                                     "replay.lock" };
#define NJOURNAL_FILES (sizeof(journal_files) / sizeof(journal_files[0]))

static int journal_file(const char *name)
{
	size_t i;

	for (i = 0; i < NJOURNAL_FILES; i++)
		if (strcmp(name, journal_files[i]) == 0)
			return 1;
	return 0;
}

/* Inspects an existing directory before LMDB touches it.  A journal is only
 * ever created in an empty directory: a data.mdb that is missing or empty
 * beside other files is a damaged journal (LMDB would silently start a new
 * one over it, forgetting every batch, so duplicates would be applied
 * again).  Returns 0 when there is a data.mdb to open, 1 when the directory
 * is empty (a journal may be created), or an RT_E* code. */
static int inspect_dir(rt_journal *j, const char *data, unsigned flags)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	char first[256] = "";
	int ours = 0, rc;

	if (lstat(data, &st) == 0) {
		if (!S_ISREG(st.st_mode))
			return rt__jerr(j, RT_EJOURNAL,
			                "%s is not a regular file; refusing to "
			                "touch it",
			                data);
		if ((rc = check_owner_mode(j, data, &st)))
			return rc;
		if (st.st_size == 0)
			return rt__jerr(j, RT_EJOURNAL,
			                "%s is empty (0 bytes): the journal is "
			                "damaged (truncated?) and would be silently "
			                "replaced by a new one; refusing to use or "
			                "create it; restore it from a backup (see "
			                "reftrack(1), \"backup\")",
			                data);
		return 0;
	}
	if (errno != ENOENT)
		return rt__jerr(j, errno == EACCES ? RT_EPERM : RT_EIO, "%s: %s",
		                data, strerror(errno));
	d = opendir(j->dir);
	if (!d)
		return rt__jerr(j, errno == EACCES ? RT_EPERM : RT_EIO,
		                "cannot read the directory: %s", strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (journal_file(de->d_name))
			ours = 1;
		if (!first[0] || journal_file(de->d_name))
			snprintf(first, sizeof(first), "%s", de->d_name);
	}
	closedir(d);
	if (ours)
		return rt__jerr(j, RT_EJOURNAL,
		                "%s is missing but %s/%s is there: the journal "
		                "is damaged; refusing to create a new one over "
		                "it; restore it from a backup (see reftrack(1), "
		                "\"backup\")",
		                data, j->dir, first);
	if (first[0] && !(flags & RT_JOURNAL_NOCREATE))
		return rt__jerr(j, RT_EJOURNAL,
		                "the directory is not empty (it holds \"%s\") and "
		                "has no journal; a journal is only created in an "
		                "empty or absent directory",
		                first);
	if (flags & RT_JOURNAL_NOCREATE) {
		snprintf(j->errmsg, sizeof(j->errmsg), "no journal at %s", j->dir);
		return RT_ENOTFOUND;
	}
	return 1;
}

/* After mdb_env_open and before any transaction: a data.mdb shorter than
 * the pages its newest meta page says are in use was truncated, and the
 * first read of a page past its end would kill us with SIGBUS.  The meta
 * pages themselves are the first two pages, which LMDB already read. */
static int check_size(rt_journal *j, const char *data)
{
	MDB_envinfo info;
	MDB_stat st;
	struct stat fst;
	uint64_t used;
	int rc;

	if ((rc = mdb_env_info(j->env, &info)) ||
	    (rc = mdb_env_stat(j->env, &st)))
		return rt__jerr_mdb(j, NULL, rc, "reading the environment");
	used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	/* Read the size after the page count: the file only ever grows. */
	if (stat(data, &fst) < 0)
		return rt__jerr(j, RT_EIO, "%s: %s", data, strerror(errno));
	if ((uint64_t)fst.st_size < used)
		return rt__jerr(j, RT_EJOURNAL,
		                "%s is %llu bytes but its own metadata says %llu "
		                "are in use: the file was truncated; refusing to "
		                "read it; restore it from a backup (see "
		                "reftrack(1), \"backup\")",
		                data, (unsigned long long)fst.st_size,
		                (unsigned long long)used);
	return 0;
}

/* ---- a journal created by its first batch ---------------------------------- */

/*
 * RT_JOURNAL_CREATE_ON_SUBMIT: the first submit used to parse its file
 * twice, once to check it (a rejected file must leave no journal behind)
 * and once to write it.  Instead the journal is built in a directory of
 * its own beside the one asked for, and its data.mdb linked into place
 * once the batch is committed there.  Nothing in a journal depends on its
 * path (its id is random, LMDB's lock file is made again at the next open,
 * the submit and replay locks are taken by path when needed), so the
 * moved file is the same journal.  The link is made under the same flock
 * on the directory that rt_journal_open() holds while it looks for a
 * journal and creates one, and only into an empty directory, so it never
 * meets a journal half made by another process; link() fails rather than
 * replace a data.mdb.  A journal made meanwhile by another process wins:
 * the batch is submitted again, into it.
 */

/* The parent directory of `path` (no trailing slash but for "/"),
 * malloc'd. */
static char *parent_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

/* 1 if the directory `path` holds anything, 0 if not, -1 (errno) if it
 * cannot be read. */
static int dir_has_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int any = 0;

	if (!d)
		return -1;
	while (!any && (de = readdir(d)) != NULL)
		any = strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	return any;
}

/* Removes the files a journal directory can hold and the directory. */
static void remove_journal_dir(const char *dir)
{
	size_t i;

	for (i = 0; i < NJOURNAL_FILES; i++) {
		char *f = join(dir, journal_files[i]);

		if (f)
			unlink(f);
		free(f);
	}
	rmdir(dir);
}

/* Removes the journal built beside create_at, and the directories made
 * for it (those left empty). */
static void remove_beside(rt_journal *j)
{
	char *p, *slash;

	if (j->dir)
		remove_journal_dir(j->dir);
	if (!j->made_from)
		return;
	p = parent_of(j->create_at);
	while (p && rmdir(p) == 0 && strcmp(p, j->made_from) != 0 &&
	       (slash = strrchr(p, '/')) != NULL && slash != p)
		*slash = '\0';
	free(p);
}

/* A directory built beside a journal that no handle holds and that is at
 * least this old was left by a killed first submit.  (The age covers the
 * time from mkdtemp() to its maker's flock, taken once the journal in it
 * is open.) */
#define BESIDE_STALE_SEC 60

/* Removes what killed first submits left beside the journal BASE in
 * PARENT: directories .BASE.new-XXXXXX whose flock nobody holds.  Only
 * the files a journal holds are removed, and the directory only if that
 * empties it. */
static void sweep_beside(const char *parent, const char *base)
{
	DIR *d = opendir(parent);
	struct dirent *e;
	char *prefix = NULL;
	size_t plen;

	if (!d)
		return;
	if (asprintf(&prefix, ".%s.new-", base) < 0) {
		closedir(d);
		return;
	}
	plen = strlen(prefix);
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		char *path;
		int fd;

		if (strncmp(e->d_name, prefix, plen) != 0 ||
		    strlen(e->d_name) != plen + 6)
			continue;
		path = join(parent, e->d_name);
		if (!path)
			break;
		fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		                        O_CLOEXEC);
		if (fd >= 0 && fstat(fd, &st) == 0 &&
		    time(NULL) - st.st_mtime >= BESIDE_STALE_SEC &&
		    flock(fd, LOCK_EX | LOCK_NB) == 0)
			remove_journal_dir(path);
		if (fd >= 0)
			close(fd);
		free(path);
	}
	free(prefix);
	closedir(d);
}

/* Ends the flock on a journal built beside create_at. */
static void beside_unlock(rt_journal *j)
{
	if (j->beside_locked)
		close(j->beside_fd);
	j->beside_locked = 0;
}

static int open_beside(rt_journal **out, const char *dir)
{
	rt_journal *j, *nj = NULL;
	char *parent = NULL, *tmp = NULL, *base;
	size_t len;
	struct stat st;
	int rc, fd;

	j = calloc(1, sizeof(*j));
	if (!j)
		return RT_ENOMEM;
	*out = j;
	if ((rc = rt_journal_resolve_dir(&j->create_at, dir)))
		return rc == RT_EINVAL
		               ? rt__jerr(j, rc, "no journal directory given "
		                                 "and no home directory to put "
		                                 "one in")
		               : rc;
	len = strlen(j->create_at);
	while (len > 1 && j->create_at[len - 1] == '/')
		j->create_at[--len] = '\0';
	/* What the plain open refuses at once (a directory holding other
	 * files, not a directory) or creates nowhere else ("/"), it handles;
	 * so it does a journal that has just appeared. */
	if (strcmp(j->create_at, "/") == 0 ||
	    (stat(j->create_at, &st) == 0 &&
	     (!S_ISDIR(st.st_mode) || dir_has_entries(j->create_at) != 0))) {
		rt_journal_close(j);
		return rt_journal_open(out, dir, 0);
	}
	parent = parent_of(j->create_at);
	base = strrchr(j->create_at, '/');
	base = base ? base + 1 : j->create_at;
	if (!parent || asprintf(&tmp, "%s/.%s.new-XXXXXX", parent, base) < 0) {
		tmp = NULL;
		rc = rt__jerr(j, RT_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = make_dirs(j, parent, &j->made_from)))
		goto done;
	sweep_beside(parent, base);
	if (!mkdtemp(tmp)) {
		rc = rt__jerr(j, errno == EACCES ? RT_EPERM : RT_EIO,
		              "cannot create a directory beside it: %s",
		              strerror(errno));
		goto done;
	}
	rc = rt_journal_open(&nj, tmp, 0);
	/* Held from here to the end of the handle; rt_journal_open() took
	 * and dropped the same directory's flock. */
	fd = -1;
	if (rc == 0) {
		fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || flock(fd, LOCK_EX) < 0)
			rc = rt__jerr(nj, RT_EIO, "cannot lock %s: %s", tmp,
			              strerror(errno));
	}
	if (rc) {
		if (nj)
			memcpy(j->errmsg, nj->errmsg, sizeof(j->errmsg));
		rt_journal_close(nj);
		if (fd >= 0)
			close(fd);
		/* j->dir names it for remove_beside(). */
		j->dir = tmp;
		tmp = NULL;
		goto done;
	}
	nj->beside_fd = fd;
	nj->beside_locked = 1;
	nj->create_at = j->create_at;
	nj->made_from = j->made_from;
	j->create_at = j->made_from = NULL;
	rt_journal_close(j);
	*out = nj;
done:
	free(parent);
	free(tmp);
	return rc;
}

/* fsync() of the directory `path`. */
static int sync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int rt__journal_install(rt_journal *j)
{
	char *src = join(j->dir, "data.mdb"), *dst = join(j->create_at,
	                                                  "data.mdb");
	char *parent = parent_of(j->create_at);
	rt_journal *nj = NULL, keep;
	int dirfd = -1, appeared = 0, rc = 0;

	if (!src || !dst || !parent) {
		rc = rt__jerr(j, RT_ENOMEM, "out of memory");
		goto done;
	}
	/* Every commit is durable: data.mdb is complete as it stands. */
	mdb_env_close(j->env);
	j->env = NULL;
	if ((rc = make_dirs(j, j->create_at, NULL)))
		goto done;
	dirfd = open(j->create_at, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0 || flock(dirfd, LOCK_EX) < 0) {
		rc = rt__jerr(j, errno == EACCES ? RT_EPERM : RT_EIO,
		              "cannot lock the directory: %s", strerror(errno));
		goto done;
	}
	appeared = dir_has_entries(j->create_at);
	if (appeared < 0) {
		rc = rt__jerr(j, RT_EIO, "cannot read the directory: %s",
		              strerror(errno));
		goto done;
	}
	/* Another file system mounted there (EXDEV) cannot take a link:
	 * the batch goes into a journal made there the plain way. */
	if (!appeared && link(src, dst) < 0) {
		if (errno != EEXIST && errno != EXDEV) {
			rc = rt__jerr(j, RT_EIO, "cannot link %s to %s: %s", src,
			              dst, strerror(errno));
			goto done;
		}
		appeared = 1;
	}
	if (!appeared && (fsync(dirfd) < 0 || sync_dir(parent) < 0)) {
		rc = rt__jerr(j, RT_EIO, "%s: fsync: %s", j->create_at,
		              strerror(errno));
		/* Still under the flock: nobody has seen it. */
		unlink(dst);
		goto done;
	}
	close(dirfd);
	dirfd = -1;
	/* Ours or not, the journal there now holds the directories made. */
	free(j->made_from);
	j->made_from = NULL;
	remove_journal_dir(j->dir);
	beside_unlock(j);
	rc = rt_journal_open(&nj, j->create_at, 0);
	if (rc) {
		if (nj)
			memcpy(j->errmsg, nj->errmsg, sizeof(j->errmsg));
		rt_journal_close(nj);
		free(j->create_at);
		j->create_at = NULL;
		goto done;
	}
	/* The handle becomes the one just opened, its callbacks kept. */
	keep = *j;
	*j = *nj;
	j->submit_progress = keep.submit_progress;
	j->submit_progress_arg = keep.submit_progress_arg;
	free(nj);
	EVP_MD_CTX_free(keep.mdctx);
	EVP_MD_free(keep.md);
	free(keep.dir);
	free(keep.create_at);
	rc = appeared;
done:
	if (dirfd >= 0)
		close(dirfd);
	free(src);
	free(dst);
	free(parent);
	return rc;
}

int rt_journal_open(rt_journal **out, const char *dir, unsigned flags)
{
	rt_journal *j;
	struct stat st;
	char *data = NULL;
	uint64_t initial;
	int rc, dead = 0, dirfd = -1;

	*out = NULL;
	if (flags & RT_JOURNAL_CREATE_ON_SUBMIT) {
		rc = rt_journal_open(out, dir, RT_JOURNAL_NOCREATE);
		if (rc != RT_ENOTFOUND)
			return rc;
		rt_journal_close(*out);
		return open_beside(out, dir);
	}
	j = calloc(1, sizeof(*j));
	if (!j)
		return RT_ENOMEM;
	*out = j;
	rc = rt_journal_resolve_dir(&j->dir, dir);
	if (rc == RT_EINVAL)
		return rt__jerr(j, rc, "no journal directory given and no home "
		                       "directory to put one in");
	if (rc)
		return rc;

	if (stat(j->dir, &st) < 0) {
		if (errno != ENOENT)
			return rt__jerr(j, errno == EACCES ? RT_EPERM : RT_EIO,
			                "%s", strerror(errno));
		if (flags & RT_JOURNAL_NOCREATE) {
			/* Nothing is created: a typo must not become a new,
			 * empty journal that a replay then "finishes". */
			snprintf(j->errmsg, sizeof(j->errmsg),
			         "no journal at %s", j->dir);
			return RT_ENOTFOUND;
		}
		rc = make_dirs(j, j->dir, NULL);
		if (rc)
			return rc;
		if (stat(j->dir, &st) < 0)
			return rt__jerr(j, RT_EIO, "%s", strerror(errno));
	} else if (!S_ISDIR(st.st_mode)) {
		return rt__jerr(j, RT_EJOURNAL, "not a directory");
	}
	/* Messages and status name the journal by an absolute path, which
	 * still means something in a log read elsewhere. */
	{
		char *abs = realpath(j->dir, NULL);

		if (abs) {
			free(j->dir);
			j->dir = abs;
		}
	}
	if ((rc = check_owner_mode(j, j->dir, &st)))
		return rc;
	data = join(j->dir, "data.mdb");
	if (!data)
		return rt__jerr(j, RT_ENOMEM, "out of memory");
	/* Two processes creating the same journal at once must not see each
	 * other's half-made files as damage: the look at the directory and
	 * LMDB's creation of its files happen under a lock on the directory. */
	dirfd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0 || flock(dirfd, LOCK_EX) < 0) {
		rc = rt__jerr(j, errno == EACCES ? RT_EPERM : RT_EIO,
		              "cannot lock the directory: %s", strerror(errno));
		goto done;
	}
	rc = inspect_dir(j, data, flags);
	if (rc < 0)
		goto done;

	initial = rt__test_journal_map ? rt__test_journal_map
	                               : RT_JOURNAL_MAP_INITIAL;
	if ((rc = mdb_env_create(&j->env)) ||
	    (rc = mdb_env_set_maxdbs(j->env, 8)) ||
	    (rc = mdb_env_set_mapsize(j->env, (size_t)initial))) {
		rc = rt__jerr_mdb(j, NULL, rc, "creating the environment");
		goto done;
	}
	/* MDB_NOTLS: a read transaction belongs to its handle, not to a
	 * thread, so a caller may hand work between threads. */
	rc = mdb_env_open(j->env, j->dir, MDB_NOTLS, 0600);
	if (rc) {
		if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH ||
		    rc == MDB_CORRUPTED)
			rc = rt__jerr(j, RT_EJOURNAL,
			              "%s is not a reftrack journal (%s); refusing "
			              "to touch it",
			              data, mdb_strerror(rc));
		else
			rc = rt__jerr_mdb(j, NULL, rc, "opening the environment");
		mdb_env_close(j->env);
		j->env = NULL;
		goto done;
	}
	if ((rc = check_size(j, data)))
		goto done;
	/* Adopt the size recorded in the file when it is larger than ours, so
	 * that a grown journal does not start every run by filling up. */
	if ((rc = mdb_env_set_mapsize(j->env, 0)) ||
	    (rc = env_refresh_map(j)) != 0) {
		rc = rc > 0 ? rt__jerr_mdb(j, NULL, rc, "sizing the map") : rc;
		goto done;
	}
	if (j->map_size < initial && (rc = rt__journal_reserve(j, initial)))
		goto done;
	/* Reader slots of crashed processes would pin old pages forever. */
	mdb_reader_check(j->env, &dead);

	rc = validate(j);
	if (rc == 1) {
		rc = initialize(j);
		if (rc == 0)
			rc = validate(j);
		if (rc == 1)
			rc = rt__jerr(j, RT_EJOURNAL, "journal vanished while "
			                              "being created");
	}
	if (rc == 0 && j->format < RT_JOURNAL_FORMAT)
		rc = migrate(j);
	if (rc == 0 && j->staging)
		rc = rt__journal_discard_staged(j);
done:
	if (rc && j->env) {
		/* A handle that failed to open is never used: no transaction
		 * may touch a damaged or foreign file through it. */
		mdb_env_close(j->env);
		j->env = NULL;
	}
	if (dirfd >= 0)
		close(dirfd);
	free(data);
	return rc;
}

void rt_journal_close(rt_journal *j)
{
	if (!j)
		return;
	if (j->txn)
		rt_journal_txn_abort(j->txn);
	rt__journal_lock_detach(j);
	if (j->env)
		mdb_env_close(j->env);
	/* A journal built for a first batch that never got in goes. */
	if (j->create_at)
		remove_beside(j);
	beside_unlock(j);
	EVP_MD_CTX_free(j->mdctx);
	EVP_MD_free(j->md);
	free(j->dir);
	free(j->create_at);
	free(j->made_from);
	free(j);
}

/* ---- transactions --------------------------------------------------------------- */

/* The first write to a restored backup copy moves next_seq past every seq
 * the journal it was copied from can have given out since the copy: to
 * max(next_seq, unix seconds << 20).  The entries submitted to the original
 * after the copy are unknown here, but their writes left their seqs in the
 * markers on the trackers, and the replayer's evidence (replay.c) needs a
 * seq to name one entry of the journal only.  Time-based, so that a copy
 * restored twice, or a journal restored again later, also starts above the
 * earlier range (as long as fewer than 2^20 entries a second were
 * submitted since); below 2^53, so seqs stay exact in JSON. */
static int restore_bump(rt_journal_txn *t)
{
	MDB_val k = mkval(RT__META_BACKUP, strlen(RT__META_BACKUP));
	uint64_t next, floor = ((uint64_t)rt__now_ns() / 1000000000) << 20;
	int rc;

	if ((rc = rt__meta_get_u64(t, "next_seq", &next)))
		return rc;
	if (next < floor) {
		uint64_t skipped = 0;
		MDB_val sk = mkval("skipped_seqs", 12), sd;

		/* Keep "entries ever submitted" = next_seq - 1 - skipped. */
		if (mdb_get(t->txn, t->j->meta, &sk, &sd) == 0 &&
		    sd.mv_size == 8)
			skipped = rt__be64_get(sd.mv_data);
		if ((rc = rt__meta_put_u64(t, "skipped_seqs",
		                           skipped + (floor - next))) ||
		    (rc = rt__meta_put_u64(t, "next_seq", floor)))
			return rc;
	}
	rc = mdb_del(t->txn, t->j->meta, &k, NULL);
	if (rc && rc != MDB_NOTFOUND)
		return rt__jerr_mdb(t->j, t, rc, "writing the meta record");
	t->restore_bumped = 1;
	t->mods++;
	return 0;
}

int rt_journal_txn_begin(rt_journal_txn **out, rt_journal *j, unsigned flags)
{
	rt_journal_txn *t;
	int rc, tries;

	*out = NULL;
	if (!j->env)
		return rt__jerr(j, RT_EINVAL, "journal is not open");
	if (j->txn)
		return rt__jerr(j, RT_EINVAL,
		                "a transaction is already open on this handle");
	t = calloc(1, sizeof(*t));
	if (!t)
		return rt__jerr(j, RT_ENOMEM, "out of memory");
	t->j = j;
	t->rdonly = !!(flags & RT_TXN_RDONLY);
	for (tries = 0;; tries++) {
		rc = mdb_txn_begin(j->env, NULL, t->rdonly ? MDB_RDONLY : 0,
		                   &t->txn);
		/* Another process grew the map past ours: adopt its size. */
		if (rc == MDB_MAP_RESIZED && tries < 3 &&
		    mdb_env_set_mapsize(j->env, 0) == 0 &&
		    env_refresh_map(j) == 0)
			continue;
		break;
	}
	if (rc) {
		free(t);
		return rt__jerr_mdb(j, NULL, rc, "starting a transaction");
	}
	j->txn = t;
	j->map_grown = 0;
	if (!t->rdonly && j->restored && (rc = restore_bump(t)) != 0) {
		rt_journal_txn_abort(t);
		return rc;
	}
	*out = t;
	return 0;
}

static void txn_free(rt_journal_txn *t)
{
	t->j->txn = NULL;
	rt__buf_free(&t->buf);
	free(t);
}

void rt_journal_txn_abort(rt_journal_txn *t)
{
	rt_journal *j;
	int full;

	if (!t)
		return;
	j = t->j;
	full = t->full;
	mdb_txn_abort(t->txn);
	txn_free(t);
	if (full)
		grow_after_full(j);
}

int rt_journal_txn_commit(rt_journal_txn *t)
{
	rt_journal *j = t->j;
	int rc;

	if (t->full) {
		rt_journal_txn_abort(t);
		return rt__jerr_mdb(j, NULL, MDB_MAP_FULL, "committing");
	}
	if (t->refused[0]) {
		rc = rt__jerr(j, RT_EINVAL, "not committed: %s", t->refused);
		rt_journal_txn_abort(t);
		return rc;
	}
	rc = mdb_txn_commit(t->txn);
	if (rc == 0 && t->restore_bumped)
		j->restored = 0;
	txn_free(t);
	if (rc == MDB_MAP_FULL) {
		/* mdb_txn_commit already freed the LMDB transaction. */
		rc = rt__jerr_mdb(j, NULL, rc, "committing");
		grow_after_full(j);
		return rc;
	}
	if (rc)
		return rt__jerr_mdb(j, NULL, rc, "committing");
	return 0;
}

int rt_journal_write(rt_journal *j, int (*fn)(void *arg, rt_journal_txn *txn),
                     void *arg)
{
	rt_journal_txn *t;
	int rc;

	for (;;) {
		rc = rt_journal_txn_begin(&t, j, 0);
		if (rc)
			return rc;
		rc = fn(arg, t);
		if (rc == 0) {
			rc = rt_journal_txn_commit(t);
		} else {
			rt_journal_txn_abort(t);
		}
		/* Only a map that has really been enlarged is worth a redo;
		 * anything else (including the cap) goes to the caller. */
		if (rc == RT_ETRANSIENT && j->map_grown)
			continue;
		return rc;
	}
}
