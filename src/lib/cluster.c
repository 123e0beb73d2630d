/*
 * cluster.c - connecting to a cluster and opening pools.  See cluster.h.
 *
 * Precedence, as Ceph's own tools have it: explicit options beat
 * $CEPH_ARGS, which beats the configuration file.  librados applies
 * $CEPH_ARGS itself (rados_conf_parse_env), except for the two things that
 * must be known before that: the entity name (fixed by rados_create2) and
 * the configuration file to read.  Those two are picked out of $CEPH_ARGS
 * here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"

#define DEFAULT_ENTITY "client.admin"

static int cluster_err(rt_cluster *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int cluster_err(rt_cluster *c, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rt__errmsg_vset(c->errmsg, sizeof(c->errmsg), fmt, ap);
	va_end(ap);
	return code;
}

/* What $CEPH_ARGS says about the entity and the conf file.  Words are
 * split on blanks, as Ceph splits them; the last mention wins, as on a
 * command line. */
struct ceph_args {
	char *name; /* "TYPE.ID" */
	char *id;   /* just the ID */
	char *conf;
};

static void ceph_args_free(struct ceph_args *a)
{
	free(a->name);
	free(a->id);
	free(a->conf);
	memset(a, 0, sizeof(*a));
}

/* If word is one of the spellings in `opts` (NULL-terminated), sets *val to
 * the option's value, taken from "--opt=VAL" or the next word, and says how
 * many words were used (0: not this option). */
static int match_opt(const char *const *opts, char **words, size_t n,
                     size_t i, const char **val)
{
	size_t k, len;

	for (k = 0; opts[k]; k++) {
		len = strlen(opts[k]);
		if (strncmp(words[i], opts[k], len) != 0)
			continue;
		if (words[i][len] == '=' && opts[k][1] == '-') {
			*val = words[i] + len + 1;
			return 1;
		}
		if (words[i][len] == '\0' && i + 1 < n) {
			*val = words[i + 1];
			return 2;
		}
	}
	return 0;
}

static int replace(char **slot, const char *val)
{
	char *s = strdup(val);

	if (!s)
		return RT_ENOMEM;
	free(*slot);
	*slot = s;
	return 0;
}

static int parse_ceph_args(struct ceph_args *a, const char *env)
{
	static const char *const name_opts[] = { "--name", "-n", NULL };
	static const char *const id_opts[] = { "--id", "-i", "--user", NULL };
	static const char *const conf_opts[] = { "--conf", "-c", NULL };
	char *copy = NULL, *save = NULL, *w, **words = NULL;
	size_t n = 0, i;
	const char *val;
	int rc = 0, used;

	memset(a, 0, sizeof(*a));
	if (!env || !*env)
		return 0;
	copy = strdup(env);
	/* At most one word per two bytes, plus one. */
	words = calloc(strlen(env) / 2 + 1, sizeof(*words));
	if (!copy || !words) {
		rc = RT_ENOMEM;
		goto done;
	}
	for (w = strtok_r(copy, " \t\n", &save); w;
	     w = strtok_r(NULL, " \t\n", &save))
		words[n++] = w;
	for (i = 0; i < n; i += used ? (size_t)used : 1) {
		if ((used = match_opt(name_opts, words, n, i, &val))) {
			if ((rc = replace(&a->name, val)))
				goto done;
			free(a->id);
			a->id = NULL;
		} else if ((used = match_opt(id_opts, words, n, i, &val))) {
			if ((rc = replace(&a->id, val)))
				goto done;
			free(a->name);
			a->name = NULL;
		} else if ((used = match_opt(conf_opts, words, n, i, &val))) {
			if ((rc = replace(&a->conf, val)))
				goto done;
		}
	}
done:
	if (rc)
		ceph_args_free(a);
	free(words);
	free(copy);
	return rc;
}

static char *client_name(const char *id)
{
	size_t len = strlen("client.") + strlen(id) + 1;
	char *s = malloc(len);

	if (s)
		snprintf(s, len, "client.%s", id);
	return s;
}

/* The configuration file: opts, then $CEPH_ARGS, then librados' own search
 * ($CEPH_CONF, then the default paths).  Only a file nobody asked for may
 * be missing: a cluster can be fully described by $CEPH_ARGS
 * (--mon-host, --keyring). */
static int read_conf(rt_cluster *c, const char *path, int *found)
{
	const char *env = getenv("CEPH_CONF");
	int r;

	*found = 0;
	if (path) {
		r = rados_conf_read_file(c->rados, path);
		if (r < 0)
			return cluster_err(c, RT_ECONFIG, "cannot read Ceph "
			                   "configuration '%s': %s", path,
			                   strerror(-r));
		*found = 1;
		return 0;
	}
	r = rados_conf_read_file(c->rados, NULL);
	if (r == 0) {
		*found = 1;
		return 0;
	}
	if (env && *env)
		return cluster_err(c, RT_ECONFIG, "cannot read Ceph "
		                   "configuration '%s' (from $CEPH_CONF): %s",
		                   env, strerror(-r));
	if (r != -ENOENT)
		return cluster_err(c, RT_ECONFIG, "cannot read Ceph's default "
		                   "configuration: %s", strerror(-r));
	return 0;
}

static int set_opt(rt_cluster *c, const char *opt, const char *val)
{
	int r = rados_conf_set(c->rados, opt, val);

	if (r < 0)
		return cluster_err(c, RT_ECONFIG, "cannot set %s = %s: %s", opt,
		                   val, strerror(-r));
	return 0;
}

/* Hands opts->ceph_argv to librados' own parser; an argument it leaves
 * over is an option it does not know. */
static int apply_argv(rt_cluster *c, const rt_connect_opts *opts)
{
	const char **rest = calloc(opts->ceph_argc + 1, sizeof(*rest));
	int r, rc = 0;

	if (!rest)
		return cluster_err(c, RT_ENOMEM, "out of memory");
	r = rados_conf_parse_argv_remainder(c->rados, (int)opts->ceph_argc,
	                                    (const char **)opts->ceph_argv,
	                                    rest);
	if (r < 0)
		rc = cluster_err(c, RT_EINVAL, "cannot apply the Ceph options "
		                 "given: %s", strerror(-r));
	else if (rest[0])
		rc = cluster_err(c, RT_EINVAL, "librados does not take the "
		                 "option '%s'", rest[0]);
	free(rest);
	return rc;
}

int rt_ceph_option_kind(const char *name)
{
	char key[256], val[64];
	rados_t r;
	size_t i;
	int kind = 0;

	if (!name || !*name || strlen(name) >= sizeof(key))
		return 0;
	for (i = 0; name[i]; i++)
		key[i] = name[i] == '-' ? '_' : name[i];
	key[i] = '\0';
	/* A handle that is never connected costs a few milliseconds and
	 * knows every option with its current (default) value. */
	if (rados_create2(&r, "ceph", DEFAULT_ENTITY, 0) < 0)
		return RT_ENOMEM;
	if (rados_conf_get(r, key, val, sizeof(val)) != -ENOENT) {
		/* -ENAMETOOLONG: a value longer than val is no boolean. */
		kind = strcmp(val, "true") == 0 || strcmp(val, "false") == 0
		           ? RT_CEPH_OPT_FLAG
		           : RT_CEPH_OPT_VALUE;
	} else if (strncmp(key, "no_", 3) == 0 &&
	           rados_conf_get(r, key + 3, val, sizeof(val)) == 0 &&
	           (strcmp(val, "true") == 0 || strcmp(val, "false") == 0)) {
		kind = RT_CEPH_OPT_FLAG;
	}
	rados_shutdown(r);
	return kind;
}

/* Reads option `opt` into buf; "" if librados does not know it. */
static const char *conf_get(rt_cluster *c, const char *opt, char *buf,
                            size_t size)
{
	if (rados_conf_get(c->rados, opt, buf, size) < 0)
		buf[0] = '\0';
	return buf;
}

/* 0 if `path` can be opened for reading, else its errno. */
static int unreadable(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

/* What librados would only find out by trying, and then report as ENOENT
 * after printing its own noise on stderr (a DNS SRV lookup for monitors,
 * "unable to find a keyring"): a monitor address, and a key to
 * authenticate with.  `where` says where the settings come from. */
static int check_setup(rt_cluster *c, const char *where)
{
	char mon[1024], auth[256], key[16], file[4096], list[4096];
	char *s, *save = NULL, *tok;
	size_t n = 0;
	int err = 0, first_err = 0;
	const char *first = NULL;

	if (!*conf_get(c, "mon_host", mon, sizeof(mon)))
		return cluster_err(c, RT_ECONFIG, "no monitor address: mon_host "
		                   "is not set (%s); set it in the configuration "
		                   "or give --mon-host in $CEPH_ARGS", where);
	/* Without cephx among the methods the client accepts, no key is
	 * needed. */
	if (!strstr(conf_get(c, "auth_client_required", auth, sizeof(auth)),
	            "cephx"))
		return 0;
	if (*conf_get(c, "key", key, sizeof(key)))
		return 0;
	if (*conf_get(c, "keyfile", file, sizeof(file))) {
		if ((err = unreadable(file)))
			return cluster_err(c, RT_ECONFIG, "cannot read the key "
			                   "file '%s' (keyfile): %s", file,
			                   strerror(err));
		return 0;
	}
	conf_get(c, "keyring", file, sizeof(file));
	free(c->keyring);
	if (!(c->keyring = strdup(file)))
		return cluster_err(c, RT_ENOMEM, "out of memory");
	/* A list, as Ceph splits it; the first readable one is used. */
	list[0] = '\0';
	for (s = file; (tok = strtok_r(s, ",; \t", &save)); s = NULL) {
		if (n < sizeof(list))
			n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s",
			                      n ? ", " : "", tok);
		if (!(err = unreadable(tok))) {
			if (!(c->keyring_used = strdup(tok)))
				return cluster_err(c, RT_ENOMEM, "out of memory");
			return 0;
		}
		if (!first) {
			first = tok;
			first_err = err;
		}
	}
	if (!first)
		return cluster_err(c, RT_ECONFIG, "no keyring for %s: keyring "
		                   "is empty (%s)", c->entity, where);
	if (!strchr(list, ','))
		return cluster_err(c, RT_ECONFIG, "cannot read the keyring "
		                   "'%s' for %s: %s", first, c->entity,
		                   strerror(first_err));
	return cluster_err(c, RT_ECONFIG, "no readable keyring for %s: none "
	                   "of %s (%s; set keyring in the configuration or "
	                   "give --keyring)", c->entity, list, where);
}

/* Whether the text keyring `path` has a section for `entity`.  A missing
 * key is refused by the monitors like a wrong one (EACCES), but it is a
 * local configuration error, not a permission the cluster withholds.  A
 * file we cannot scan counts as having it. */
static int keyring_has(const char *path, const char *entity)
{
	FILE *f = fopen(path, "re");
	char line[512], want[300];
	int found = 0, sections = 0;

	if (!f)
		return 1;
	snprintf(want, sizeof(want), "[%s]", entity);
	while (!found && fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " \t");

		p[strcspn(p, " \t\r\n")] = '\0';
		sections += p[0] == '[';
		found = strcmp(p, want) == 0;
	}
	fclose(f);
	/* No "[...]" line at all: a binary keyring, not ours to judge. */
	return found || sections == 0;
}

static int connect_err(rt_cluster *c, int r, int conf_found)
{
	const char *hint = conf_found ? "" : " (no configuration file found)";

	switch (-r) {
	case EACCES:
	case EPERM:
		if (c->keyring_used && !keyring_has(c->keyring_used, c->entity))
			return cluster_err(c, RT_ECONFIG, "the keyring '%s' has "
			                   "no key for %s", c->keyring_used,
			                   c->entity);
		return cluster_err(c, RT_EPERM, "authentication failed for %s: "
		                   "%s", c->entity, strerror(-r));
	case ETIMEDOUT:
		if (c->op_timeout_sec)
			return cluster_err(c, RT_ETRANSIENT, "no monitor "
			                   "answered within %u s (connecting as "
			                   "%s)%s", c->op_timeout_sec, c->entity,
			                   hint);
		return cluster_err(c, RT_ETRANSIENT, "no monitor answered in "
		                   "time (connecting as %s)%s", c->entity, hint);
	case ENOENT:
		/* librados says ENOENT both for "no monitor address" and for
		 * "no key for this entity"; check_setup() has ruled out the
		 * first and an unreadable keyring, so the key is missing. */
		return cluster_err(c, RT_ECONFIG, "no key for %s in the keyring "
		                   "(keyring = %s)%s", c->entity,
		                   c->keyring ? c->keyring : "not used", hint);
	}
	return cluster_err(c, rt__err_from_errno(r), "connecting as %s: %s%s",
	                   c->entity, strerror(-r), hint);
}

int rt_cluster_connect(rt_cluster **out, const rt_connect_opts *opts)
{
	static const char *const timeouts[] = { "rados_osd_op_timeout",
	                                        "rados_mon_op_timeout",
	                                        "client_mount_timeout" };
	rt_connect_opts none;
	struct ceph_args args;
	rt_cluster *c;
	const char *conf, *env;
	char num[16], where[1024];
	size_t i;
	int rc, r, conf_found = 0;

	memset(&args, 0, sizeof(args));
	if (!out)
		return RT_EINVAL;
	*out = c = calloc(1, sizeof(*c));
	if (!c)
		return RT_ENOMEM;
	if (!opts) {
		rt_connect_opts_init(&none, RT_CONNECT_OPTS_VERSION);
		opts = &none;
	}
	if (opts->version != RT_CONNECT_OPTS_VERSION) {
		rc = cluster_err(c, RT_EINVAL,
		                 "rt_connect_opts version %u is not one this "
		                 "library knows (%d): set it with "
		                 "RT_CONNECT_OPTS_INIT",
		                 opts->version, RT_CONNECT_OPTS_VERSION);
		goto done;
	}
	c->op_timeout_sec = opts->op_timeout_sec;
	if (opts->use_ceph_args &&
	    parse_ceph_args(&args, getenv("CEPH_ARGS"))) {
		rc = cluster_err(c, RT_ENOMEM, "out of memory");
		goto done;
	}

	if (opts->name)
		c->entity = strdup(opts->name);
	else if (opts->id)
		c->entity = client_name(opts->id);
	else if (args.name)
		c->entity = strdup(args.name);
	else if (args.id)
		c->entity = client_name(args.id);
	else
		c->entity = strdup(DEFAULT_ENTITY);
	if (!c->entity) {
		rc = cluster_err(c, RT_ENOMEM, "out of memory");
		goto done;
	}
	r = rados_create2(&c->rados,
	                  opts->cluster && *opts->cluster ? opts->cluster
	                                                  : "ceph",
	                  c->entity, 0);
	if (r < 0) {
		rc = r == -EINVAL
		         ? cluster_err(c, RT_ECONFIG, "invalid entity name '%s' "
		                       "(want TYPE.ID, e.g. client.admin)",
		                       c->entity)
		         : cluster_err(c, rt__err_from_errno(r), "creating "
		                       "the cluster handle for %s: %s",
		                       c->entity, strerror(-r));
		goto done;
	}
	c->created = 1;

	conf = opts->conf_path ? opts->conf_path : args.conf;
	rc = read_conf(c, conf, &conf_found);
	if (rc)
		goto done;
	env = getenv("CEPH_CONF");
	if (conf)
		snprintf(where, sizeof(where), "configuration '%.900s'", conf);
	else if (env && *env)
		snprintf(where, sizeof(where), "configuration '%.900s' from "
		         "$CEPH_CONF", env);
	else
		snprintf(where, sizeof(where), conf_found
		         ? "Ceph's default configuration file"
		         : "no configuration file found");
	if (opts->use_ceph_args) {
		r = rados_conf_parse_env(c->rados, "CEPH_ARGS");
		if (r < 0) {
			rc = cluster_err(c, RT_ECONFIG, "cannot apply $CEPH_ARGS: "
			                 "%s", strerror(-r));
			goto done;
		}
	}
	if (opts->keyring && (rc = set_opt(c, "keyring", opts->keyring)))
		goto done;
	if (opts->op_timeout_sec) {
		snprintf(num, sizeof(num), "%u", opts->op_timeout_sec);
		for (i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++)
			if ((rc = set_opt(c, timeouts[i], num)))
				goto done;
	}
	/* Last, so that an explicit librados setting (say
	 * --rados-osd-op-timeout) beats what the fields above implied. */
	if (opts->ceph_argc && (rc = apply_argv(c, opts)))
		goto done;

	rc = check_setup(c, where);
	if (rc)
		goto done;
	r = rados_connect(c->rados);
	if (r < 0) {
		rc = connect_err(c, r, conf_found);
		goto done;
	}
	c->connected = 1;
	c->errmsg[0] = '\0';
	rc = 0;
done:
	ceph_args_free(&args);
	return rc;
}

void rt_cluster_close(rt_cluster *cluster)
{
	if (!cluster)
		return;
	if (cluster->created)
		rados_shutdown(cluster->rados);
	free(cluster->entity);
	free(cluster->keyring);
	free(cluster->keyring_used);
	free(cluster);
}

int rt__cluster_refresh_osdmap(rt_cluster *c)
{
	const char *cmd[] = { "{\"prefix\": \"osd stat\", \"format\": \"json\"}" };
	char *outbuf = NULL, *outs = NULL;
	size_t outbuf_len = 0, outs_len = 0;
	int r;

	if (!c || !c->connected || !c->op_timeout_sec)
		return -EAGAIN;
	/* Bounded by rados_mon_op_timeout, set to the op timeout. */
	r = rados_mon_command(c->rados, cmd, 1, "", 0, &outbuf, &outbuf_len,
	                      &outs, &outs_len);
	rados_buffer_free(outbuf);
	rados_buffer_free(outs);
	if (r < 0)
		return r;
	return rados_wait_for_latest_osdmap(c->rados);
}

const char *rt_cluster_errmsg(const rt_cluster *cluster)
{
	return cluster ? cluster->errmsg : "";
}

/* ---- pools ----------------------------------------------------------- */

int rt__pool_err(rt_pool *pool, int code, const char *tracker,
                 const char *fmt, ...)
{
	char qp[RT__QUOTE_BUF], qn[RT__QUOTE_BUF], qt[RT__QUOTE_BUF];
	va_list ap;
	int n;

	if (!pool)
		return code;
	rt__quote(qp, pool->name ? pool->name : "",
	          pool->name ? strlen(pool->name) : 0);
	n = snprintf(pool->errmsg, sizeof(pool->errmsg), "pool %s%s%s%s%s: ",
	             qp, pool->ns && *pool->ns ? " namespace " : "",
	             pool->ns && *pool->ns
	                 ? rt__quote(qn, pool->ns, strlen(pool->ns)) : "",
	             tracker ? " tracker " : "",
	             tracker ? rt__quote(qt, tracker, strlen(tracker)) : "");
	if (n < 0 || (size_t)n >= sizeof(pool->errmsg))
		return code;
	va_start(ap, fmt);
	rt__errmsg_vset(pool->errmsg + n, sizeof(pool->errmsg) - (size_t)n,
	                fmt, ap);
	va_end(ap);
	return code;
}

void rt__pool_err_clear(rt_pool *pool)
{
	if (pool)
		pool->errmsg[0] = '\0';
}

int rt_pool_open(rt_pool **out, rt_cluster *cluster, const char *pool,
                 const char *ns)
{
	rt_pool *p;
	int r;

	if (!out)
		return RT_EINVAL;
	*out = p = calloc(1, sizeof(*p));
	if (!p)
		return RT_ENOMEM;
	p->cluster = cluster;
	if (!ns)
		ns = "";
	if (!pool || !*pool) {
		snprintf(p->errmsg, sizeof(p->errmsg), "pool name is empty");
		return RT_EINVAL;
	}
	if (strnlen(pool, RT_POOL_NAME_MAX + 1) > RT_POOL_NAME_MAX) {
		snprintf(p->errmsg, sizeof(p->errmsg), "pool name is longer "
		         "than RT_POOL_NAME_MAX (%d bytes)", RT_POOL_NAME_MAX);
		return RT_EINVAL;
	}
	p->name = strdup(pool);
	p->ns = strdup(ns);
	if (!p->name || !p->ns)
		return rt__pool_err(p, RT_ENOMEM, NULL, "out of memory");
	if (strnlen(ns, RT_NAMESPACE_MAX + 1) > RT_NAMESPACE_MAX)
		return rt__pool_err(p, RT_EINVAL, NULL, "namespace is longer "
		                    "than RT_NAMESPACE_MAX (%d bytes)",
		                    RT_NAMESPACE_MAX);
	if (!cluster || !cluster->connected)
		return rt__pool_err(p, RT_EINVAL, NULL, "the cluster handle is "
		                    "not connected");
	r = rados_ioctx_create(cluster->rados, pool, &p->io);
	if (r == -ENOENT)
		return rt__pool_err(p, RT_ENOTFOUND, NULL, "pool not found");
	if (r < 0)
		return rt__pool_err(p, rt__err_from_errno(r), NULL,
		                    "opening the pool: %s", strerror(-r));
	p->io_open = 1;
	/* NULL, not "", is librados' spelling of the default namespace. */
	rados_ioctx_set_namespace(p->io, *ns ? ns : NULL);
	return 0;
}

void rt_pool_close(rt_pool *pool)
{
	if (!pool)
		return;
	if (pool->io_open)
		rados_ioctx_destroy(pool->io);
	free(pool->name);
	free(pool->ns);
	free(pool);
}

const char *rt_pool_errmsg(const rt_pool *pool)
{
	return pool ? pool->errmsg : "";
}

void rt_pool_set_retry(rt_pool *pool, const rt_retry_policy *policy)
{
	if (pool && policy)
		pool->retry = *policy;
}
