#!/bin/sh
# valgrind.sh [BUILD] - run the unit test binaries and `expensed check` on the
# example reports, the fuzz seeds and the golden inputs under valgrind
# memcheck; fails on any memory error or definite/indirect leak. Complements
# the ASan build: it checks the ordinary -O2 binary, uninitialised reads too.
set -u
cd "$(dirname "$0")/.." || exit 2

build=${1:-build}
bin=$build/expensed
# A distinct exit status for valgrind errors: `expensed check` itself exits 1
# on a rejected report, which is not a failure here.
VERR=99
VG="valgrind -q --error-exitcode=$VERR --leak-check=full
--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect
--track-origins=yes --num-callers=30"

if [ ! -x "$bin" ]; then
	echo "valgrind: $bin is missing; run make BUILD=$build first" >&2
	exit 2
fi
if nm "$bin" 2>/dev/null | grep -q __asan_init; then
	echo "valgrind: $bin is a sanitizer build; use a plain build" >&2
	exit 2
fi

fail=0
log=$(mktemp /tmp/expensed-valgrind.XXXXXX)
trap 'rm -f "$log"' EXIT INT TERM

# run WHAT OKCODES CMD... - run CMD under valgrind, its standard input from
# $stdin (default /dev/null); an exit status in OKCODES (space-separated)
# passes.
run() {
	what=$1
	ok=$2
	shift 2
	# shellcheck disable=SC2086
	$VG "$@" < "${stdin:-/dev/null}" > "$log" 2>&1
	rc=$?
	case " $ok " in
	*" $rc "*)
		echo "valgrind: ok    $what"
		;;
	*)
		echo "valgrind: FAIL  $what (exit $rc)"
		tail -n 60 "$log"
		fail=1
		;;
	esac
}

for t in "$build"/tests/test_*; do
	if [ ! -f "$t" ] || [ ! -x "$t" ]; then
		continue
	fi
	run "$t" "0" "$t"
done

inputs=$(ls fuzz/corpus/judge/*.json tests/cases/*/input.json 2>/dev/null)
if [ -z "$inputs" ]; then
	echo "valgrind: no input reports found" >&2
	exit 2
fi
# 0 all accepted, 1 some rejected or invalid: both fine; 2 is an error.
# shellcheck disable=SC2086
run "$bin check --format json (built-in rules)" "0 1" \
	"$bin" check --format json $inputs
# shellcheck disable=SC2086
run "$bin check -r config/rules.d (text)" "0 1" \
	"$bin" check -r config/rules.d $inputs
stdin=fuzz/corpus/judge/genes-2017-detail.json \
	run "$bin check - (stdin)" "0 1" "$bin" check -
# pages: one file each (a report with findings, one with members and
# expenses, one that is not JSON)
for page in examples/cd13-cp-2019-02-08-r36.json \
	examples/genes-2017-detail.json tests/cases/json_before_type/input.json; do
	run "$bin check --format html $page" "0 1" \
		"$bin" check --format html "$page"
done
run "$bin --version" "0" "$bin" --version

if [ "$fail" -ne 0 ]; then
	echo "valgrind: FAILED"
	exit 1
fi
echo "valgrind: OK"
