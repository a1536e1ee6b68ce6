#!/bin/sh
# run.sh [BUILD] - build and run the engine benchmark (bench/bench_engine.c)
# with the -O2 build in BUILD (default build), generating the ~50 MB report
# into /tmp when missing, then any other bench/*.sh benchmark present.
# A measurement, not a test: see bench/README.md for the targets.
set -eu
cd "$(dirname "$0")/.."

build=${1:-build}
# Named after the generator's checksum: a changed generator makes a new file.
gen_sum=$(cksum < bench/gen_large.py | cut -d' ' -f1)
large=${BENCH_LARGE:-/tmp/expensed-bench-large-50mb-$gen_sum.json}
rounds=${BENCH_ROUNDS:-10000}

seed=examples/cd13-cp-2019-02-08-r36.json

make --no-print-directory BUILD="$build" "$build/bench/bench_engine"
if [ ! -s "$large" ]; then
	/usr/bin/python3 bench/gen_large.py "$large" 50
fi

echo "== engine benchmark ($(nproc) CPUs, $(uname -m), single thread)"
"$build/bench/bench_engine" "$seed" "$large" "$rounds"

for s in bench/*.sh; do
	[ -f "$s" ] || continue
	[ "$s" = bench/run.sh ] && continue
	echo "== $s"
	sh "$s" "$build"
done

# A report of ids that collide under the old unkeyed hash (docs/costs.md).
echo "== bench/bench_collide.py"
/usr/bin/python3 bench/bench_collide.py "$build"

# The daemon under a burst, a lone file and idle, against its floor, each on
# a fresh loop-mounted ext4 (needs root; see bench/README.md).
/usr/bin/python3 bench/bench_burst.py "$build"

# What verdict pages cost: bursts with [html] off and on, alternating.
/usr/bin/python3 bench/bench_pages.py "$build"
