/*
 * test_loop.c - unit tests of the event loop's timers: a one-shot fires
 * once, asking again for the state a timer is in changes nothing, and a
 * timer that fired and was drained can be armed again for the same moment;
 * a deferred arming waits for loop_timers_apply(), the last one wins, and a
 * timer closed meanwhile is forgotten.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../../daemon/loop.h"

static int fired;

static void on_timer(struct loop_source *src, uint32_t events)
{
	(void)events;
	loop_timer_drain(src);
	fired++;
}

/* Run the handlers of what is ready within ms; the number run. */
static int run(int epfd, int ms)
{
	struct epoll_event evs[4];
	int n = epoll_wait(epfd, evs, 4, ms);

	for (int i = 0; i < n; i++) {
		struct loop_source *src = evs[i].data.ptr;
		src->ready(src, evs[i].events);
	}
	return n;
}

static int armed(const struct loop_source *src)
{
	struct itimerspec its;

	assert_int_equal(timerfd_gettime(src->fd, &its), 0);
	return its.it_value.tv_sec != 0 || its.it_value.tv_nsec != 0;
}

static void test_one_shot(void **state)
{
	struct loop_source t = {-1, NULL, 0};
	int epfd = epoll_create1(EPOLL_CLOEXEC);

	(void)state;
	assert_true(epfd >= 0);
	assert_int_equal(loop_timer_open(epfd, &t, on_timer), 0);
	assert_false(armed(&t));
	assert_int_equal(loop_timer_arm(&t, -1), 0); /* disarmed already */
	assert_false(armed(&t));

	fired = 0;
	assert_int_equal(loop_timer_arm(&t, 30), 0);
	assert_int_equal(loop_timer_arm(&t, 30), 0); /* the same moment */
	assert_true(armed(&t));
	assert_int_equal(run(epfd, 1000), 1);
	assert_int_equal(fired, 1);
	assert_false(armed(&t));
	assert_int_equal(run(epfd, 60), 0); /* once only */

	/* drained: "now" arms it again, even twice in one millisecond */
	assert_int_equal(loop_timer_arm(&t, 0), 0);
	assert_int_equal(run(epfd, 1000), 1);
	assert_int_equal(loop_timer_arm(&t, 0), 0);
	assert_int_equal(run(epfd, 1000), 1);
	assert_int_equal(fired, 3);

	/* armed, then disarmed: nothing fires */
	assert_int_equal(loop_timer_arm(&t, 20), 0);
	assert_int_equal(loop_timer_arm(&t, -1), 0);
	assert_false(armed(&t));
	assert_int_equal(run(epfd, 60), 0);

	/* periodic, then one-shot again */
	assert_int_equal(loop_timer_every(&t, 10), 0);
	assert_int_equal(run(epfd, 1000), 1);
	assert_int_equal(run(epfd, 1000), 1);
	assert_int_equal(loop_timer_every(&t, 0), 0);
	assert_false(armed(&t));
	assert_int_equal(loop_timer_arm(&t, -1), 0);
	assert_int_equal(loop_timer_arm(&t, 5), 0);
	assert_int_equal(run(epfd, 1000), 1);
	assert_int_equal(fired, 6);

	loop_timer_close(epfd, &t);
	close(epfd);
}

static void test_deferred(void **state)
{
	struct loop_source a = {-1, NULL, 0}, b = {-1, NULL, 0};
	int epfd = epoll_create1(EPOLL_CLOEXEC);

	(void)state;
	assert_true(epfd >= 0);
	assert_int_equal(loop_timer_open(epfd, &a, on_timer), 0);
	assert_int_equal(loop_timer_open(epfd, &b, on_timer), 0);
	fired = 0;
	loop_timer_defer(&a, 60000);
	loop_timer_defer(&b, 20);
	loop_timer_defer(&a, 10); /* the last one wins */
	loop_timer_defer(&b, -1);
	assert_false(armed(&a));
	assert_false(armed(&b));
	loop_timers_apply();
	assert_true(armed(&a));
	assert_false(armed(&b));
	assert_int_equal(run(epfd, 1000), 1);
	assert_int_equal(fired, 1);
	assert_int_equal(run(epfd, 60), 0);
	loop_timers_apply(); /* nothing queued: nothing changes */
	assert_false(armed(&a));

	/* closed while queued: out of the queue */
	loop_timer_defer(&b, 10);
	loop_timer_defer(&a, 10);
	loop_timer_close(epfd, &b);
	loop_timers_apply();
	assert_true(armed(&a));
	assert_int_equal(run(epfd, 1000), 1);
	assert_int_equal(fired, 2);

	loop_timer_close(epfd, &a);
	close(epfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_shot),
	    cmocka_unit_test(test_deferred),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
