/*
 * version.c - the versions reftrack runs with (reftrack.h): its own, for a
 * program that wants to know which library it got at run time, and those
 * of the libraries below it, for the tools' --version: they are asked at
 * run time, since a shared librados, LMDB or libyaml may be newer than the
 * headers reftrack was built with.
 */
#include <lmdb.h>
#include <rados/librados.h>
#include <string.h>
#include <yaml.h>

#include <reftrack/reftrack.h>

void rt_versions_get(rt_versions *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	out->reftrack = RT_VERSION_STRING;
	rados_version(&out->rados_major, &out->rados_minor, &out->rados_extra);
	out->lmdb = mdb_version(NULL, NULL, NULL);
	out->yaml = yaml_get_version_string();
}

const char *rt_version(int *major, int *minor, int *patch)
{
	if (major)
		*major = RT_VERSION_MAJOR;
	if (minor)
		*minor = RT_VERSION_MINOR;
	if (patch)
		*patch = RT_VERSION_PATCH;
	return RT_VERSION_STRING;
}
