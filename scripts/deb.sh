#!/bin/sh
# deb.sh - `make deb`: build the Debian package (debian/) with
# dpkg-buildpackage -us -uc -b from a copy of the checkout in build/deb/src.
# dpkg-buildpackage writes its results beside the source tree, so they land
# in build/deb/: expensed_VERSION_ARCH.deb (and its -dbgsym .deb, .buildinfo
# and .changes). The copy holds the files git knows or would add (tracked and
# untracked, not ignored); outside git, everything but the build trees.
set -eu
cd "$(dirname "$0")/.."

for tool in dpkg-buildpackage dh; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "deb.sh: $tool not found; run: make deps (scripts/deps.sh)" >&2
		exit 1
	fi
done

out=build/deb
rm -rf "$out"
mkdir -p "$out/src"
if git rev-parse --git-dir >/dev/null 2>&1; then
	# files deleted but still in the index are skipped
	git ls-files -z -co --exclude-standard |
		xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
		tar --null -T - -cf - | tar -C "$out/src" -xf -
else
	tar --exclude=./build --exclude=./build-san --exclude=./build-fuzz \
		--exclude=./run -cf - . | tar -C "$out/src" -xf -
fi

# The suites run in CI (make test); the package build compiles only.
(cd "$out/src" &&
	DEB_BUILD_OPTIONS="nocheck parallel=2 ${DEB_BUILD_OPTIONS:-}" \
		dpkg-buildpackage -us -uc -b)
rm -rf "$out/src"
echo "deb.sh: built:"
ls -1 "$out"/*.deb
