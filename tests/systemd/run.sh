#!/bin/bash
# tests/systemd/run.sh - `make systemd-test`, the last stage of CI: expensed
# under a real systemd. Builds the package (make deb), boots a minimal
# Debian 12 with systemd-nspawn, installs the package there with apt and
# checks the service end to end (tests/systemd/nspawn.py says what).
#
#   tests/systemd/run.sh                  the package, as CI runs it
#   tests/systemd/run.sh --make-install   `make install` into the guest
#                                         instead (no package; no purge check)
#
# Needs root and the network (the Debian mirror configured in
# /etc/apt/sources.list*, for debootstrap on a cold cache). The bootstrapped
# root is cached in /var/cache/expensed-ci (EXPENSED_CI_CACHE), keyed by
# the mirror and the package list; a warm run takes about a minute.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "$(id -u)" -ne 0 ]; then
	echo "systemd-test: needs root (debootstrap, systemd-nspawn)" >&2
	exit 2
fi

# The host's tools, installed here rather than in scripts/deps.sh so that
# `make test` stays light.
missing=
command -v debootstrap >/dev/null 2>&1 || missing="$missing debootstrap"
command -v systemd-nspawn >/dev/null 2>&1 || missing="$missing systemd-container"
command -v nsenter >/dev/null 2>&1 || missing="$missing util-linux"
if [ -n "$missing" ]; then
	echo "systemd-test: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	# shellcheck disable=SC2086
	if ! apt-get install -y -q $missing; then
		apt-get update -q
		# shellcheck disable=SC2086
		apt-get install -y -q $missing
	fi
fi

exec /usr/bin/python3 tests/systemd/nspawn.py "$@"
