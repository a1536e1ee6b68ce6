#!/bin/sh
# embed.sh NAME FILE - print a C file defining `const char NAME[]` with the
# bytes of FILE, so that the built-in rule set has exactly one source.
set -eu
name=$1
file=$2
printf '/* generated from %s by scripts/embed.sh; do not edit */\n' "$file"
printf 'const char %s[] =\n' "$name"
od -An -v -tx1 "$file" | awk '
{ line = ""; for (i = 1; i <= NF; i++) line = line "\\x" $i; print "\t\"" line "\"" }
END { print "\t\"\";" }'
