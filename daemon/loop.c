/*
 * loop.c - registering event sources with the daemon's one epoll fd. Each
 * source's address rides in the event, so the loop can call its handler
 * directly when it fires. Timers are timerfds registered the same way.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../common/timefmt.h"
#include "loop.h"

static int loop_ctl(int epfd, int op, struct loop_source *src, uint32_t events)
{
	struct epoll_event ev;

	ev.events = events;
	ev.data.ptr = src;
	return epoll_ctl(epfd, op, src->fd, &ev);
}

int loop_add(int epfd, struct loop_source *src, uint32_t events)
{
	return loop_ctl(epfd, EPOLL_CTL_ADD, src, events);
}

int loop_mod(int epfd, struct loop_source *src, uint32_t events)
{
	return loop_ctl(epfd, EPOLL_CTL_MOD, src, events);
}

int loop_del(int epfd, struct loop_source *src)
{
	return loop_ctl(epfd, EPOLL_CTL_DEL, src, 0);
}

int loop_timer_open(int epfd, struct loop_source *src,
		    void (*ready)(struct loop_source *, uint32_t))
{
	src->ready = ready;
	src->due_ms = -1;
	src->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (src->fd == -1)
		return -1;
	if (loop_add(epfd, src, EPOLLIN) == -1) {
		int saved = errno;
		close(src->fd);
		src->fd = -1;
		errno = saved;
		return -1;
	}
	return 0;
}

static struct timespec ms_to_ts(long long ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	return ts;
}

int loop_timer_arm(struct loop_source *src, long long ms)
{
	struct itimerspec its = {0};
	long long due = ms >= 0 ? clock_mono_ms() + ms : -1;

	/* libcurl, the outbox and the watch often ask again for what is
	 * set already: a settime per batch or per delivery saved */
	if (src->due_ms != 0 && due == src->due_ms)
		return 0;
	if (ms >= 0) {
		its.it_value = ms_to_ts(ms);
		/* an all-zero it_value disarms: "now" is 1 ns */
		if (ms == 0)
			its.it_value.tv_nsec = 1;
	}
	if (timerfd_settime(src->fd, 0, &its, NULL) == -1) {
		src->due_ms = 0;
		return -1;
	}
	src->due_ms = due > 0 ? due : 0;
	return 0;
}

/* The timers deferred, not yet applied (the daemon's thread's). */
static struct loop_source *queued;

void loop_timer_defer(struct loop_source *src, long long ms)
{
	src->want_ms = ms >= 0 ? clock_mono_ms() + ms : -1;
	if (src->queued)
		return;
	src->queued = 1;
	src->next_queued = queued;
	queued = src;
}

void loop_timers_apply(void)
{
	long long now = clock_mono_ms();

	while (queued != NULL) {
		struct loop_source *src = queued;
		long long ms = src->want_ms;
		queued = src->next_queued;
		src->queued = 0;
		src->next_queued = NULL;
		if (ms >= 0)
			ms = ms > now ? ms - now : 0;
		/* as when armed at once: a failure shows as a timer that
		 * does not fire, retried at the next arming */
		(void)loop_timer_arm(src, ms);
	}
}

int loop_timer_every(struct loop_source *src, long long ms)
{
	struct itimerspec its = {0};

	src->due_ms = ms > 0 ? 0 : -1;
	if (ms > 0) {
		its.it_value = ms_to_ts(ms);
		its.it_interval = its.it_value;
	}
	if (timerfd_settime(src->fd, 0, &its, NULL) == -1) {
		src->due_ms = 0;
		return -1;
	}
	return 0;
}

void loop_timer_drain(struct loop_source *src)
{
	uint64_t ticks;

	while (read(src->fd, &ticks, sizeof(ticks)) == -1 && errno == EINTR)
		;
	/* a one-shot that fired is disarmed now */
	if (src->due_ms > 0)
		src->due_ms = -1;
}

void loop_timer_close(int epfd, struct loop_source *src)
{
	if (src->queued) {
		struct loop_source **p = &queued;
		while (*p != src)
			p = &(*p)->next_queued;
		*p = src->next_queued;
		src->queued = 0;
	}
	if (src->fd < 0)
		return;
	loop_del(epfd, src);
	close(src->fd);
	src->fd = -1;
}
