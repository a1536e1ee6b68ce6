#!/bin/sh
# run-dev.sh - `make run`: run the daemon in the foreground on a spool under
# the checkout (./run), with a configuration written from config/dev.conf.in.
# Usage: sh scripts/run-dev.sh EXPENSED_BIN
set -eu

if [ $# -ne 1 ]; then
	echo "usage: sh scripts/run-dev.sh EXPENSED_BIN" >&2
	exit 2
fi
EXPENSED_BIN=$1
case $EXPENSED_BIN in
/*) ;;
*) EXPENSED_BIN=$(pwd -P)/$EXPENSED_BIN ;;
esac
cd "$(dirname "$0")/.."
TOP=$(pwd -P)
RUN=$TOP/run

if [ ! -x "$EXPENSED_BIN" ]; then
	echo "run-dev.sh: $EXPENSED_BIN is not an executable (run make first)" >&2
	exit 2
fi

for d in inbox work accepted rejected outbox dead state; do
	mkdir -p "$RUN/$d"
done
# the inbox is sticky as in the shipped spool (expensed.tmpfiles): whoever
# shares the checkout's group may drop files, not move each other's
chmod 1770 "$RUN/inbox"

# Escape the characters that sed's replacement text treats specially.
esc() {
	printf '%s\n' "$1" | sed -e 's/[\\|&]/\\&/g'
}
sed -e "s|@RUN@|$(esc "$RUN")|g" -e "s|@TOP@|$(esc "$TOP")|g" \
	config/dev.conf.in >"$RUN/expensed.conf.tmp"
mv "$RUN/expensed.conf.tmp" "$RUN/expensed.conf"

cat <<MSG
expensed: development run (configuration: run/expensed.conf)
  drop reports into $RUN/inbox/ ; results appear in run/accepted and run/rejected
  Ctrl-C stops.
MSG

exec "$EXPENSED_BIN" run -v -c run/expensed.conf
