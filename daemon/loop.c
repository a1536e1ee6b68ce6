/*
 * loop.c - registering event sources with the daemon's one epoll fd. Each
 * source's address rides in the event, so the loop can call its handler
 * directly when it fires.
 */
#include <sys/epoll.h>

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
