#!/bin/sh
# fuzz.sh [SECONDS] - build the libFuzzer targets of fuzz/ with ASan + UBSan
# into build-fuzz/ and run each for SECONDS (default 60) on a scratch copy of
# the committed seed corpus (fuzz/corpus/*, never grown by a run). Fails on
# any crash, leak, timeout or undefined behaviour; crashing inputs are kept
# in build-fuzz/artifacts/ and printed (base64) so a CI log can reproduce them.
set -eu
cd "$(dirname "$0")/.."

seconds=${1:-60}
[ -n "$seconds" ] || seconds=60
out=${FUZZ_BUILD:-build-fuzz}
CLANG=${CLANG:-clang}
FLAGS="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
-fno-omit-frame-pointer -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Irules"
LIBS="-ljansson -lcrypto -lm"

mkdir -p "$out/gen" "$out/artifacts"
sh scripts/embed.sh expensed_builtin_rules config/rules.d/mission-report.rules \
	> "$out/gen/builtin_rules.c"

targets="judge rules webhook"
for t in $targets; do
	echo "fuzz: building $out/fuzz_$t"
	extra=
	# the body builders are pure: no libcurl needed, only its header
	[ "$t" = webhook ] && extra=daemon/webhook_body.c
	# shellcheck disable=SC2086
	$CLANG $FLAGS -o "$out/fuzz_$t" "fuzz/fuzz_$t.c" rules/*.c common/*.c \
		$extra "$out/gen/builtin_rules.c" $LIBS
done

work=$(mktemp -d /tmp/expensed-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
touch "$work/stamp"

# Leaks are bugs; abort_on_error off so libFuzzer reports and saves inputs.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:allocator_may_return_null=1
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS UBSAN_OPTIONS

fail=0
for t in $targets; do
	mkdir -p "$work/$t"
	cp fuzz/corpus/$t/* "$work/$t/"
	echo "fuzz: running fuzz_$t for ${seconds}s"
	if ! "$out/fuzz_$t" -max_total_time="$seconds" -rss_limit_mb=2048 \
		-max_len=65536 -timeout=30 -print_final_stats=1 \
		-dict="fuzz/$t.dict" -artifact_prefix="$out/artifacts/$t-" \
		"$work/$t" > "$work/$t.log" 2>&1; then
		fail=1
		echo "fuzz: fuzz_$t FAILED; end of its log (progress lines left out):"
		grep -v -E '^#[0-9]+' "$work/$t.log" | tail -n 100
	else
		grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss)' \
			"$work/$t.log" || tail -n 5 "$work/$t.log"
		echo "fuzz: fuzz_$t OK ($(find "$work/$t" -type f | wc -l) inputs in corpus)"
	fi
done

find "$out/artifacts" -type f -newer "$work/stamp" | while read -r a; do
	t=${a##*/}
	t=${t%%-*}
	echo "fuzz: artifact $a ($(wc -c < "$a") bytes); reproduce with"
	echo "  $out/fuzz_$t $a"
	echo "base64 of its first 4096 bytes:"
	head -c 4096 "$a" | base64
done

if [ "$fail" -ne 0 ]; then
	echo "fuzz: FAILED"
	exit 1
fi
echo "fuzz: OK"
