/*
 * notify.c - the sd_notify protocol by hand: one datagram per state change
 * to the AF_UNIX socket named by $NOTIFY_SOCKET ("@name" is abstract). Small
 * and stable, so not worth a dependency on libsystemd.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"

#include "../common/timefmt.h"

int notify_send(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t salen;
	size_t len;
	ssize_t n;
	int fd, saved;

	if (path == NULL || path[0] == '\0')
		return 0;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path)) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, len);
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract: no trailing NUL counted */
	else
		salen++;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	do {
		n = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
			   (struct sockaddr *)&sa, salen);
	} while (n == -1 && errno == EINTR);
	saved = errno;
	close(fd);
	errno = saved;
	return n == -1 ? -1 : 0;
}

int notify_sendf(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (len < 0)
		return -1;
	return notify_send(buf);
}

unsigned long long notify_watchdog_usec(void)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	unsigned long long v;
	char *end;

	if (usec == NULL || usec[0] < '0' || usec[0] > '9')
		return 0;
	if (pid != NULL && pid[0] != '\0') {
		long p;

		errno = 0;
		p = strtol(pid, &end, 10);
		if (errno != 0 || *end != '\0' || p != (long)getpid())
			return 0;
	}
	errno = 0;
	v = strtoull(usec, &end, 10);
	if (errno != 0 || *end != '\0')
		return 0;
	return v;
}

void notify_alive(void)
{
	static long long last = -1;
	long long now = clock_mono_ms();

	if (last >= 0 && now - last < NOTIFY_ALIVE_MS)
		return;
	last = now;
	if (notify_watchdog_usec() > 0)
		(void)notify_send("WATCHDOG=1");
}
