/*
 * value.c - amounts, dates and integers read from JSON, exactly.
 *
 * Amounts are int64 cents. A JSON number is read as the parser gives it (a
 * double) and accepted only when it is a whole number of cents: the double
 * nearest to cents/100 must be the number itself.
 */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "../common/hash.h"
#include "../common/utf8.h"
#include "value.h"

int amount_parse(const char *s, int64_t *cents)
{
	const char *p = s;
	int64_t units = 0, frac = 0;
	int ndig = 0, nfrac = 0;
	bool neg = false;

	if (*p == '-') {
		neg = true;
		p++;
	}
	for (; *p >= '0' && *p <= '9'; p++) {
		if (units > AMOUNT_MAX_CENTS) /* keep going, but saturate */
			continue;
		units = units * 10 + (*p - '0');
		ndig++;
	}
	if (ndig == 0)
		return -1;
	if (*p == '.') {
		p++;
		for (; *p >= '0' && *p <= '9' && nfrac < 3; p++, nfrac++)
			frac = frac * 10 + (*p - '0');
		if (nfrac == 0 || nfrac > 2)
			return -1;
		if (nfrac == 1)
			frac *= 10;
	}
	if (*p != '\0')
		return -1;
	if (units > AMOUNT_MAX_CENTS / 100)
		return -1;
	int64_t c = units * 100 + frac;
	if (c > AMOUNT_MAX_CENTS)
		return -1;
	*cents = neg ? -c : c;
	return 0;
}

int amount_from_json(const json_t *node, int64_t *cents)
{
	if (json_is_string(node)) {
		/* a string with an embedded NUL is not an amount */
		if (strlen(json_string_value(node)) != json_string_length(node))
			return -1;
		return amount_parse(json_string_value(node), cents);
	}
	if (json_is_integer(node)) {
		json_int_t i = json_integer_value(node);
		if (i > AMOUNT_MAX_CENTS / 100 || i < -AMOUNT_MAX_CENTS / 100)
			return -1;
		*cents = (int64_t)i * 100;
		return 0;
	}
	if (json_is_real(node)) {
		double v = json_real_value(node);
		if (!isfinite(v) || fabs(v) > 1e12)
			return -1;
		long long c = llround(v * 100.0);
		if ((double)c / 100.0 != v)
			return -1;
		*cents = c;
		return 0;
	}
	return -1;
}

char *amount_format(int64_t cents, char *buf, size_t size)
{
	uint64_t mag =
	    cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;

	snprintf(buf, size, "%s%llu.%02llu", cents < 0 ? "-" : "",
		 (unsigned long long)(mag / 100),
		 (unsigned long long)(mag % 100));
	return buf;
}

/* Howard Hinnant's days_from_civil: exact for the proleptic Gregorian
 * calendar. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int date_parse(const char *s, int64_t *day)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	int y = 0, m = 0, d = 0;

	for (int i = 0; i < 10; i++) {
		bool dash = i == 4 || i == 7;
		if (dash ? s[i] != '-' : !(s[i] >= '0' && s[i] <= '9'))
			return -1;
	}
	if (s[10] != '\0')
		return -1;
	for (int i = 0; i < 4; i++)
		y = y * 10 + (s[i] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 1 || m < 1 || m > 12 || d < 1)
		return -1;
	if (d > mdays[m - 1] + (m == 2 && is_leap(y)))
		return -1;
	*day = days_from_civil(y, (unsigned)m, (unsigned)d);
	return 0;
}

int date_from_json(const json_t *node, int64_t *day)
{
	if (!json_is_string(node) || json_string_length(node) != 10)
		return -1;
	return date_parse(json_string_value(node), day);
}

char *date_format(int64_t z, char *buf, size_t size)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	unsigned d = doy - (153 * mp + 2) / 5 + 1;
	unsigned m = mp < 10 ? mp + 3 : mp - 9;
	snprintf(buf, size, "%04lld-%02u-%02u", (long long)(y + (m <= 2)), m,
		 d);
	return buf;
}

const char *report_currency(const json_t *report)
{
	const char *cur =
	    json_string_value(json_object_get(report, "currency"));

	/* a code of three capital letters (ISO 4217's shape), never other
	 * text from the report: that goes into sentences */
	if (cur == NULL || strlen(cur) != 3 || strcmp(cur, "EUR") == 0)
		return NULL;
	for (int i = 0; i < 3; i++)
		if (cur[i] < 'A' || cur[i] > 'Z')
			return NULL;
	return cur;
}

int integer_from_json(const json_t *node, int64_t *value)
{
	if (!json_is_integer(node))
		return -1;
	*value = json_integer_value(node);
	return 0;
}

char *real_format(double d, char *buf, size_t size)
{
	/* %g and strtod are the C locale's: LC_NUMERIC is never set */
	for (int prec = 15; prec < 17; prec++) {
		snprintf(buf, size, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return buf;
	}
	snprintf(buf, size, "%.17g", d); /* always reads back */
	return buf;
}

char *json_describe(const json_t *node, enum lang l, char *buf, size_t size)
{
	switch (json_typeof(node)) {
	case JSON_OBJECT:
		snprintf(buf, size, "%s", i18n_tr(l, "an object"));
		break;
	case JSON_ARRAY:
		snprintf(buf, size, "%s", i18n_tr(l, "an array"));
		break;
	case JSON_STRING: {
		const char *s = json_string_value(node);
		size_t len = json_string_length(node);
		if (len > QUOTE_MAX) {
			size_t cut = utf8_cut(s, len, QUOTE_MAX);
			snprintf(buf, size,
				 i18n_tr(l, "the string \"%.*s...\""), (int)cut,
				 s);
		} else {
			snprintf(buf, size, i18n_tr(l, "the string \"%s\""), s);
		}
		break;
	}
	case JSON_INTEGER:
		snprintf(buf, size, i18n_tr(l, "the integer %lld"),
			 (long long)json_integer_value(node));
		break;
	case JSON_REAL: {
		char digits[32];
		snprintf(
		    buf, size, i18n_tr(l, "the number %s"),
		    real_format(json_real_value(node), digits, sizeof(digits)));
		break;
	}
	case JSON_TRUE:
		snprintf(buf, size, "true");
		break;
	case JSON_FALSE:
		snprintf(buf, size, "false");
		break;
	case JSON_NULL:
		snprintf(buf, size, "null");
		break;
	default:
		assert(!"json type out of range");
		break;
	}
	return buf;
}

/* The integer i as a double, when that double is i exactly (every integer
 * of at most 53 bits, and some beyond). */
static bool integer_exact(json_int_t i, double *d)
{
	*d = (double)i;
	/* INT64_MAX rounds up to 2^63, which no int64 is: compare first */
	return *d < 9223372036854775808.0 && (json_int_t)*d == i;
}

/* Two JSON numbers by their exact values: an integer beyond 2^53 that no
 * double holds equals no real (not the double it rounds to), so that two
 * integers a double cannot tell apart are never the same real's. */
static bool numbers_equal(const json_t *a, const json_t *b)
{
	double d;

	if (json_is_integer(a) && json_is_integer(b))
		return json_integer_value(a) == json_integer_value(b);
	if (json_is_real(a) && json_is_real(b))
		return json_real_value(a) == json_real_value(b);
	if (json_is_real(a))
		return numbers_equal(b, a);
	return integer_exact(json_integer_value(a), &d) &&
	       d == json_real_value(b);
}

/* JSON equality with numbers by value and objects regardless of order. */
static bool json_value_equal(const json_t *a, const json_t *b)
{
	if (json_is_number(a) && json_is_number(b))
		return numbers_equal(a, b);
	if (json_typeof(a) != json_typeof(b))
		return false;
	if (json_is_object(a)) {
		const char *key;
		json_t *va;
		if (json_object_size(a) != json_object_size(b))
			return false;
		json_object_foreach((json_t *)a, key, va)
		{
			json_t *vb = json_object_get(b, key);
			if (vb == NULL || !json_value_equal(va, vb))
				return false;
		}
		return true;
	}
	if (json_is_array(a)) {
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (size_t i = 0; i < json_array_size(a); i++)
			if (!json_value_equal(json_array_get(a, i),
					      json_array_get(b, i)))
				return false;
		return true;
	}
	return json_equal(a, b);
}

bool value_equal(const json_t *a, const json_t *b)
{
	int64_t ca, cb;

	if (amount_from_json(a, &ca) == 0 && amount_from_json(b, &cb) == 0)
		return ca == cb;
	return json_value_equal(a, b);
}

/* Consistent with json_value_equal. */
static uint64_t json_value_hash(const json_t *v)
{
	double d;

	/* an integer no double holds by its own bits: hashed as the double
	 * it rounds to, a thousand of them near 2^62 would share a bucket */
	if (json_is_integer(v) && !integer_exact(json_integer_value(v), &d))
		return hash_mix(8, (uint64_t)json_integer_value(v));
	if (json_is_number(v)) {
		uint64_t bits;
		d = json_is_integer(v) ? (double)json_integer_value(v)
				       : json_real_value(v);
		if (d == 0)
			d = 0; /* -0.0 == 0.0 */
		memcpy(&bits, &d, sizeof(bits));
		return hash_mix(1, bits);
	}
	switch (json_typeof(v)) {
	case JSON_STRING:
		return hash_mix(
		    3, hash_bytes(json_string_value(v), json_string_length(v)));
	case JSON_OBJECT: {
		uint64_t h = 4;
		const char *key;
		json_t *m;
		json_object_foreach((json_t *)v, key, m)
		{
			/* order-independent: sum of member hashes */
			h += hash_mix(hash_bytes(key, strlen(key)),
				      json_value_hash(m));
		}
		return h;
	}
	case JSON_ARRAY: {
		uint64_t h = 5;
		for (size_t i = 0; i < json_array_size(v); i++)
			h = hash_mix(h, json_value_hash(json_array_get(v, i)));
		return h;
	}
	default:
		return hash_mix(6, (uint64_t)json_typeof(v));
	}
}

uint64_t value_hash(const json_t *v)
{
	int64_t c;

	/* whatever reads as an amount hashes as its cents */
	if (amount_from_json(v, &c) == 0)
		return hash_mix(2, (uint64_t)c);
	return json_value_hash(v);
}

json_t *json_string_lossy(const char *s)
{
	char *clean = utf8_lossy_dup(s);
	json_t *v;

	if (clean == NULL)
		return NULL;
	v = json_string(clean);
	free(clean);
	return v;
}
