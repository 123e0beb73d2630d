#!/bin/sh
# Installs the Debian packages that building, testing and the demo need.
# As root it installs what is missing; otherwise it names the one command to
# run.  Shared by `make deps` (and so `make test`/`make demo`) and .ci/run.
set -eu

# groff-base and man-db render the man pages in tests/unit/test_help.sh;
# strace lets tests/unit/test_install.sh watch `make install` write.
# libc6-dev is only a Recommends of gcc, which --no-install-recommends
# skips: without it nothing compiles.  clang-14 builds the fuzz targets
# (make fuzz); its libFuzzer and sanitizer runtimes are in libclang-rt-14-dev,
# only a Recommends of the libclang-common-14-dev it pulls in
# (libfuzzer-14-dev, the standalone libFuzzer archive, is not needed).
PACKAGES="gcc libc6-dev make pkg-config librados-dev liblmdb-dev libyaml-dev libssl-dev
zlib1g-dev ceph-mon ceph-osd ceph-common python3 python3-yaml python3-jsonschema valgrind
procps groff-base man-db strace clang-14 libclang-rt-14-dev"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing Debian packages; run as root:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
