#!/bin/sh
# deps.sh - install the Debian 12 packages that expensed needs to build, test,
# lint, fuzz and benchmark. Idempotent: checks each package with dpkg-query
# and runs apt-get (update once, then install) only when something is missing.
# Run as root; otherwise prints the command to run and exits 1.
set -eu

# The one list. systemd provides /usr/bin/systemd-analyze on Debian 12;
# llvm provides llvm-symbolizer for sanitizer stack traces; debhelper,
# dpkg-dev and lintian build and check the package (make deb), mandoc lints
# the man pages.
PACKAGES="build-essential pkg-config libjansson-dev libcurl4-openssl-dev
libssl-dev libcmocka-dev python3 python3-pytest clang
libclang-rt-14-dev llvm cppcheck clang-format valgrind systemd
debhelper dpkg-dev lintian mandoc"

missing=
for p in $PACKAGES; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	if [ "$st" != installed ]; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages; run as root:" >&2
	echo "  apt-get update && apt-get install -y --no-install-recommends$missing" >&2
	exit 1
fi

echo "deps.sh: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
