/*
 * test_notify.c - unit tests of notify_alive(): WATCHDOG=1 to
 * $NOTIFY_SOCKET at most once per NOTIFY_ALIVE_MS however often it is
 * called (a burst calls it once a file), again once that time has passed,
 * and never when no watchdog is asked for ($WATCHDOG_USEC unset).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../common/timefmt.h"
#include "../../daemon/notify.h"

struct listener {
	char dir[64];
	char path[96];
	int fd;
};

static int setup(void **state)
{
	struct listener *l = calloc(1, sizeof(*l));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	assert_non_null(l);
	snprintf(l->dir, sizeof(l->dir), "/tmp/expensed-notify-XXXXXX");
	assert_non_null(mkdtemp(l->dir));
	snprintf(l->path, sizeof(l->path), "%s/notify.sock", l->dir);
	l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(l->fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", l->path);
	assert_int_equal(bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setenv("NOTIFY_SOCKET", l->path, 1);
	unsetenv("WATCHDOG_PID");
	*state = l;
	return 0;
}

static int teardown(void **state)
{
	struct listener *l = *state;

	close(l->fd);
	unlink(l->path);
	rmdir(l->dir);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	free(l);
	return 0;
}

/* The datagrams waiting, each checked to be "WATCHDOG=1". */
static int pings(const struct listener *l)
{
	char buf[64];
	ssize_t n;
	int count = 0;

	while ((n = recv(l->fd, buf, sizeof(buf) - 1, 0)) >= 0) {
		buf[n] = '\0';
		assert_string_equal(buf, "WATCHDOG=1");
		count++;
	}
	return count;
}

/* Call notify_alive() every 100 us until a ping comes or ms pass; the
 * pings that came, and (when one did) the clock just before and just
 * after the call that sent it. */
static int alive_for(const struct listener *l, long long ms, long long *before,
		     long long *after)
{
	long long end = clock_mono_ms() + ms;
	int got = 0;

	while (got == 0 && clock_mono_ms() < end) {
		*before = clock_mono_ms();
		notify_alive();
		*after = clock_mono_ms();
		got = pings(l);
		usleep(100);
	}
	return got;
}

static void test_alive_once_a_second(void **state)
{
	struct listener *l = *state;
	long long sent1, after1, before2, sent2;
	int n = 0;

	setenv("WATCHDOG_USEC", "30000000", 1);
	/* the first call pings (or, if a test before pinged, the first
	 * after NOTIFY_ALIVE_MS): from then on, a burst of calls pings
	 * no more */
	assert_int_equal(alive_for(l, 2 * NOTIFY_ALIVE_MS, &sent1, &after1), 1);
	for (int i = 0; i < 10000; i++) {
		notify_alive();
		/* read as it comes: an unread socket would block the
		 * sender after ten */
		n += pings(l);
	}
	assert_int_equal(n, 0);
	/* and again once NOTIFY_ALIVE_MS has passed since the first: the
	 * second call's end is at least that long after the first's start */
	assert_int_equal(alive_for(l, 3 * NOTIFY_ALIVE_MS, &before2, &sent2),
			 1);
	assert_true(sent2 - sent1 >= NOTIFY_ALIVE_MS);
}

static void test_no_watchdog_no_ping(void **state)
{
	struct listener *l = *state;
	long long before, after;

	unsetenv("WATCHDOG_USEC");
	/* longer than NOTIFY_ALIVE_MS: its window opens at least once */
	assert_int_equal(alive_for(l, NOTIFY_ALIVE_MS + 200, &before, &after),
			 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_alive_once_a_second, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_no_watchdog_no_ping, setup,
					    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
