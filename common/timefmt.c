/*
 * timefmt.c - clocks and the UTC timestamp format of timefmt.h.
 */
#include <stdio.h>

#include "timefmt.h"

char *iso8601_utc(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "1970-01-01T00:00:00Z");
	return buf;
}

void local_time(time_t t, struct local_time *out)
{
	struct tm tm;
	char off[8];

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(out->day, sizeof(out->day), "%Y-%m-%d", &tm) == 0 ||
	    strftime(out->hms, sizeof(out->hms), "%H:%M:%S", &tm) == 0) {
		char iso[ISO8601_SIZE];

		iso8601_utc(t, iso, sizeof(iso));
		snprintf(out->day, sizeof(out->day), "%.10s", iso);
		snprintf(out->hms, sizeof(out->hms), "%.8s", iso + 11);
		snprintf(out->zone, sizeof(out->zone), "UTC");
		return;
	}
	/* a zone without a name is named by its offset ("+03", or nothing) */
	if (strftime(out->zone, sizeof(out->zone), "%Z", &tm) == 0 ||
	    out->zone[0] == '+' || out->zone[0] == '-' ||
	    out->zone[0] == '\0') {
		if (strftime(off, sizeof(off), "%z", &tm) == 5)
			snprintf(out->zone, sizeof(out->zone), "UTC%.3s:%.2s",
				 off, off + 3);
		else
			snprintf(out->zone, sizeof(out->zone), "UTC");
	}
}

static long long clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long clock_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

long long clock_real_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}
