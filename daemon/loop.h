/*
 * loop.h - the daemon's one event loop (epoll).
 *
 * Every module that waits on a file descriptor (inotify, signalfd, timerfd,
 * curl's sockets) embeds a struct loop_source and registers it with the
 * epoll fd; the loop calls source->ready(source, events) when it fires.
 * Handlers do the work; nothing polls on a timer when idle.
 */
#ifndef EXPENSED_LOOP_H
#define EXPENSED_LOOP_H

#include <stdint.h>

struct loop_source {
	int fd;
	void (*ready)(struct loop_source *src, uint32_t events);
};

/* epoll_ctl wrappers: 0 or -1 with errno. events: EPOLLIN|EPOLLOUT... */
int loop_add(int epfd, struct loop_source *src, uint32_t events);
int loop_mod(int epfd, struct loop_source *src, uint32_t events);
int loop_del(int epfd, struct loop_source *src);

#endif
