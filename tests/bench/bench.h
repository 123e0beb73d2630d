/*
 * bench.h - small helpers shared by the benchmark probes in tests/bench/.
 *
 * Each probe is its own program (the Makefile builds each tests/bench/NAME.c
 * alone), so the helpers are static inline: a probe that does not use one
 * carries no copy and gets no unused-function warning.
 *
 * Every probe prints one result line on stdout made of KEY=VALUE words
 * (run.sh picks the values out by key) and its diagnostics on stderr.
 */
#ifndef REFTRACK_TESTS_BENCH_H
#define REFTRACK_TESTS_BENCH_H

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *bench_prog = "bench";

/* The cluster options every probe takes: -c CONF, --id ID, -p POOL,
 * -N NAMESPACE. */
#define BENCH_CONN_LONGOPTS                                                     \
	{ "conf", required_argument, NULL, 'c' },                              \
	{ "id", required_argument, NULL, 'i' },                                \
	{ "pool", required_argument, NULL, 'p' },                              \
	{ "namespace", required_argument, NULL, 'N' }
#define BENCH_CONN_SHORTOPTS "c:p:N:"

/* Where a probe works: CONF (NULL: $CEPH_CONF), client ID (admin), POOL
 * ($RT_TEST_POOL, else rt) and NAMESPACE (none). */
struct bench_conn {
	const char *conf, *id, *pool, *ns;
};

static inline void bench_conn_init(struct bench_conn *c)
{
	c->conf = NULL;
	c->id = "admin";
	c->pool = getenv("RT_TEST_POOL") ? getenv("RT_TEST_POOL") : "rt";
	c->ns = "";
}

/* getopt_long() over opts (which hold BENCH_CONN_LONGOPTS, and -h), the
 * cluster options applied to c on the way: the next other option, or -1
 * at the end. */
static inline int bench_getopt(int argc, char **argv,
                               const struct option *opts,
                               struct bench_conn *c)
{
	int opt;

	while ((opt = getopt_long(argc, argv, BENCH_CONN_SHORTOPTS "h", opts,
	                          NULL)) != -1) {
		switch (opt) {
		case 'c': c->conf = optarg; break;
		case 'i': c->id = optarg; break;
		case 'p': c->pool = optarg; break;
		case 'N': c->ns = optarg; break;
		default: return opt;
		}
	}
	return -1;
}

/* Prints "PROG: message" on stderr and exits 1; a format ending in ':' gets
 * strerror(errno) appended, or strerror(-err) when err (a negative errno as
 * librados returns them) is not 0. */
static inline void bench_vdie(int err, const char *fmt, va_list ap)
{
	size_t n = strlen(fmt);
	int saved = err ? -err : errno;

	fprintf(stderr, "%s: ", bench_prog);
	vfprintf(stderr, fmt, ap);
	if (n && fmt[n - 1] == ':')
		fprintf(stderr, " %s", strerror(saved));
	fputc('\n', stderr);
	exit(1);
}

static inline void bench_die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
static inline void bench_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	bench_vdie(0, fmt, ap);
	va_end(ap);
	exit(1);
}

/* As bench_die(), for a librados return value `err` (negative errno). */
static inline void bench_die_rados(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
static inline void bench_die_rados(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	bench_vdie(err, fmt, ap);
	va_end(ap);
	exit(1);
}

/* Seconds on the monotonic clock. */
static inline double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A decimal count for option `opt`; dies on anything else. */
static inline unsigned long bench_count(const char *opt, const char *s,
                                        unsigned long min)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min)
		bench_die("%s: expected a number >= %lu, got \"%s\"", opt, min,
		          s);
	return v;
}

/* The tracker format's 4-byte big-endian numbers (refcount, version). */
static inline void bench_put_be32(char *p, uint32_t v)
{
	p[0] = (char)(v >> 24);
	p[1] = (char)(v >> 16);
	p[2] = (char)(v >> 8);
	p[3] = (char)v;
}

static inline uint32_t bench_get_be32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;

	return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 |
	       (uint32_t)u[2] << 8 | (uint32_t)u[3];
}

#endif
