#!/bin/sh
# lint.sh - the checkers that `make lint` (and so `make test`) runs:
# (a) banned C functions (curl's checksrc idea: a checker, not a memory),
# (b) no path outside the repository, (c) cppcheck over the engine and the
# daemon, (d) clang-format conformance, (e) the man pages (mandoc -T lint),
# (f) the translations (make po-check).
# Prints every failure and exits 1 if any checker failed.
set -u
cd "$(dirname "$0")/.." || exit 2

fail=0

# Source files of our own, skipping directories that do not exist yet.
srcs() {
	for d in "$@"; do
		[ -d "$d" ] || continue
		find "$d" -type f \( -name '*.c' -o -name '*.h' \) | sort
	done
}

all_srcs=$(srcs common rules daemon tests/unit tests/collide tests/oom fuzz; ls bench/*.c bench/*.h 2>/dev/null)

# (a) banned functions. Comments, string and character literals are blanked
# (keeping line numbers) before matching `name(`; member calls (x.f(, p->f()
# and the safe variants (snprintf, localtime_r...) do not match.
echo "lint: banned functions"
# shellcheck disable=SC2086
if ! /usr/bin/python3 - $all_srcs <<'PY'; then
import re
import sys

BANNED = ("sprintf vsprintf strcpy strcat strtok gets atoi atol localtime "
          "gmtime system popen").split()
CALL = re.compile(r"(?<![\w.>])(" + "|".join(BANNED) + r")\s*\(")


def blank(text):
    """Replace comments and literals by spaces, keeping newlines."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + re.sub(r"[^\n]", " ", text[i + 1:j - 1]) + c)
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


bad = 0
for path in sys.argv[1:]:
    with open(path, encoding="utf-8", errors="replace") as f:
        text = blank(f.read())
    for no, line in enumerate(text.split("\n"), 1):
        if line.lstrip().startswith("#"):
            continue  # preprocessor lines (#include <...> etc.)
        for m in CALL.finditer(line):
            print("%s:%d: banned function %s()" % (path, no, m.group(1)))
            bad += 1
sys.exit(1 if bad else 0)
PY
	fail=1
fi

# (b) self-contained: nothing names a folder beside the repository or a
# path of the machine it was written on (a fresh clone has nothing beside it).
echo "lint: self-contained"
if git rev-parse --git-dir >/dev/null 2>&1; then
	if git grep -nE '\.\./shared|/work/|/root/|/home/[a-z]' -- . \
		':!scripts/lint.sh'; then
		echo "lint: the lines above name a path outside the repository"
		fail=1
	fi
fi

# (c) cppcheck: warnings, performance and portability problems.
echo "lint: cppcheck"
dirs=
for d in common rules daemon; do
	[ -d "$d" ] && dirs="$dirs $d"
done
if [ -n "$dirs" ]; then
	# shellcheck disable=SC2086
	if ! cppcheck --error-exitcode=1 \
		--enable=warning,performance,portability --inline-suppr -q \
		--std=c11 -D_GNU_SOURCE -Icommon -Irules -Idaemon \
		--suppress=missingIncludeSystem $dirs; then
		echo "lint: cppcheck found problems (above)"
		fail=1
	fi
fi

# (d) formatting: the files must be exactly as clang-format leaves them.
echo "lint: clang-format"
if [ -n "$all_srcs" ]; then
	badfmt=0
	for f in $all_srcs; do
		if ! out=$(clang-format --style=file --dry-run -Werror "$f" 2>&1); then
			echo "$f: not clang-formatted; first differences:"
			printf '%s\n' "$out" | head -n 6
			badfmt=1
		fi
	done
	if [ "$badfmt" -ne 0 ]; then
		echo "lint: run 'make format' (clang-format -i) on the files above"
		fail=1
	fi
fi

# (e) man pages: mandoc's linter, warnings included (deps.sh installs it).
echo "lint: man pages"
if command -v mandoc >/dev/null 2>&1; then
	if ! mandoc -T lint -W warning man/*; then
		echo "lint: mandoc found problems in the man pages (above)"
		fail=1
	fi
else
	echo "lint: mandoc not installed (scripts/deps.sh); man pages not checked"
fi

# (f) translations: po/*.po compile (msgfmt --check), are complete (no
# untranslated, fuzzy or obsolete entry) and cover every marked string
# of the sources (make po-check; docs/languages.md).
echo "lint: translations"
if ! make --no-print-directory -s po-check; then
	echo "lint: the catalogs are not complete (above): make pot, translate"
	fail=1
fi

if [ "$fail" -ne 0 ]; then
	echo "lint: FAILED"
	exit 1
fi
echo "lint: OK"
