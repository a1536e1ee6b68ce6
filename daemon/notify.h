/*
 * notify.h - the sd_notify protocol, by hand (a datagram to $NOTIFY_SOCKET).
 *
 * A no-op when NOTIFY_SOCKET is unset. Abstract sockets ("@...") supported.
 */
#ifndef EXPENSED_NOTIFY_H
#define EXPENSED_NOTIFY_H

/* Send "READY=1", "STATUS=...", "RELOADING=1\nMONOTONIC_USEC=..." etc.
 * Returns 0 (also when there is no socket) or -1. */
int notify_send(const char *state);
int notify_sendf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Watchdog interval in microseconds from $WATCHDOG_USEC (and
 * $WATCHDOG_PID if set), or 0 when no watchdog is asked for. */
unsigned long long notify_watchdog_usec(void);

#endif
