#!/bin/sh
# deps.sh - install what expensed needs to build, test, lint, fuzz and
# benchmark: the Debian 12 packages, then the Node packages of the test
# suite. Idempotent: checks each Debian package with dpkg-query and runs
# apt-get (update once, then install) only when something is missing; runs
# `npm ci --prefix tests` only when tests/node_modules is missing or
# tests/package-lock.json changed since the last install.
# Debian packages need root; otherwise prints the command to run and
# exits 1. The Node packages need no root, but the npm registry
# (as configured for npm) must be reachable.
set -eu
cd "$(dirname "$0")/.."

# The one list. systemd provides /usr/bin/systemd-analyze on Debian 12;
# llvm provides llvm-symbolizer for sanitizer stack traces; debhelper,
# dpkg-dev and lintian build and check the package (make deb), mandoc lints
# the man pages; prometheus provides promtool, which checks the metrics
# file (tests/e2e/test_metrics.py); nodejs and npm run the real client
# libraries the end-to-end tests check webhook deliveries with
# (tests/package.json); chromium renders the verdict pages headless and
# poppler-utils' pdftotext reads them back printed (tests/e2e/browser.py).
PACKAGES="build-essential pkg-config libjansson-dev libcurl4-openssl-dev
libssl-dev libcmocka-dev python3 python3-pytest clang gettext
libclang-rt-14-dev llvm cppcheck clang-format valgrind systemd
debhelper dpkg-dev lintian mandoc prometheus nodejs npm chromium
poppler-utils"

# Installed: by dpkg, or for nodejs and npm by their command (a nodejs
# from elsewhere, such as NodeSource's, includes npm and conflicts with
# Debian's npm package).
have() {
	case $1 in
	nodejs) command -v node >/dev/null 2>&1 && return 0 ;;
	npm) command -v npm >/dev/null 2>&1 && return 0 ;;
	esac
	st=$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)
	[ "$st" = installed ]
}

missing=
for p in $PACKAGES; do
	have "$p" || missing="$missing $p"
done

if [ -n "$missing" ]; then
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
fi

# The test suite's Node packages, exactly as tests/package-lock.json pins
# them. The copy of the lock file kept in node_modules says which lock file
# the installed tree came from.
stamp=tests/node_modules/.deps-package-lock.json
if ! cmp -s tests/package-lock.json "$stamp"; then
	echo "deps.sh: npm ci --prefix tests"
	npm ci --prefix tests --no-audit --no-fund
	cp tests/package-lock.json "$stamp"
fi
