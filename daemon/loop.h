/*
 * loop.h - the daemon's one event loop (epoll).
 *
 * Every module that waits on a file descriptor (inotify, signalfd, timerfd,
 * curl's sockets) embeds a struct loop_source and registers it with the
 * epoll fd; the loop calls source->ready(source, events) when it fires.
 * Handlers do the work; nothing polls on a timer when idle.
 *
 * Timers are sources too (a timerfd each, as Redis's ae.c keeps file and
 * time events in one loop): loop_timer_open() makes one, loop_timer_arm()
 * and loop_timer_every() set it, and its handler calls loop_timer_drain()
 * first.
 */
#ifndef EXPENSED_LOOP_H
#define EXPENSED_LOOP_H

#include <stdint.h>

struct loop_source {
	int fd;
	void (*ready)(struct loop_source *src, uint32_t events);
	/* a timer's state as loop_timer_*() left it: the monotonic ms a
	 * one-shot fires at, -1 disarmed, 0 unknown or periodic; lets
	 * loop_timer_arm() skip a timerfd_settime() that changes nothing */
	long long due_ms;
	/* loop_timer_defer(): the monotonic ms wanted (-1 disarmed), set by
	 * loop_timers_apply() if queued */
	long long want_ms;
	int queued;
	struct loop_source *next_queued;
};

/* epoll_ctl wrappers: 0 or -1 with errno. events: EPOLLIN|EPOLLOUT... */
int loop_add(int epfd, struct loop_source *src, uint32_t events);
int loop_mod(int epfd, struct loop_source *src, uint32_t events);
int loop_del(int epfd, struct loop_source *src);

/*
 * Create a disarmed CLOCK_MONOTONIC timer in src (src->ready = ready) and
 * register it. 0 or -1 with errno (src->fd is -1 then).
 */
int loop_timer_open(int epfd, struct loop_source *src,
		    void (*ready)(struct loop_source *, uint32_t));

/* Fire once after ms milliseconds (0: as soon as possible), or disarm
 * when ms < 0; nothing is done when the timer is already in that state
 * (disarmed, or due at that same millisecond). 0 or -1 with errno. */
int loop_timer_arm(struct loop_source *src, long long ms);

/* The same as loop_timer_arm(), done by the next loop_timers_apply(), once
 * for all the calls made until then: for a timer re-armed many times
 * between two waits (libcurl's: a timerfd_settime() costs some 25 us on a
 * virtual machine). */
void loop_timer_defer(struct loop_source *src, long long ms);

/* Arm the timers deferred since the last call: before each wait. */
void loop_timers_apply(void);

/* Fire every ms milliseconds (ms <= 0 disarms). 0 or -1 with errno. */
int loop_timer_every(struct loop_source *src, long long ms);

/* Consume the expirations of a timer that fired (in its handler). */
void loop_timer_drain(struct loop_source *src);

/* Unregister and close a timer (a no-op when src->fd is -1). */
void loop_timer_close(int epfd, struct loop_source *src);

#endif
