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

/* The least time between two notify_alive() pings. */
#define NOTIFY_ALIVE_MS 1000

/*
 * "WATCHDOG=1" from inside a long piece of work, where the loop's own
 * watchdog timer cannot fire (a batch of slow files): sent only when a
 * watchdog is asked for, and at most once per NOTIFY_ALIVE_MS however
 * often it is called (a burst judges thousands of files a second, and
 * each ping is a datagram PID 1 wakes up for). So WatchdogSec= must be
 * over twice that (the shipped unit's is 30 s).
 */
void notify_alive(void);

#endif
