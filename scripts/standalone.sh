#!/bin/sh
# standalone.sh - run `make test`'s suites (build, unit, e2e) from a copy of
# the repository's tracked files placed in an empty temporary folder, so
# that nothing beside the repository (no examples, no spec, no previous
# build) can make a test pass. The copy is removed afterwards.
set -eu
cd "$(dirname "$0")/.."

top=$(mktemp -d /tmp/expensed-standalone.XXXXXX)
trap 'rm -rf "$top"' EXIT INT TERM
mkdir "$top/expensed"
# Tracked files as they are in the working tree (uncommitted edits too).
git ls-files -z | xargs -0 tar -cf - | tar -xf - -C "$top/expensed"
echo "standalone: testing a copy in $top/expensed"
# Its own tests/node_modules, from its lock file (npm ci).
sh "$top/expensed/scripts/deps.sh"
make -C "$top/expensed" --no-print-directory all unit e2e
