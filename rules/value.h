/*
 * value.h - the kinds of docs/report-format.md read from JSON nodes: amounts
 * (int64 cents), dates (day numbers), integers; and their text forms.
 *
 * Conversion happens once, here, at the edge of the JSON: the rest of the
 * engine never sees a double.
 */
#ifndef EXPENSED_VALUE_H
#define EXPENSED_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "../common/i18n.h"

#define AMOUNT_MAX_CENTS ((int64_t)100000000000000) /* 10^12 units */

/* The amount a node denotes: a string matching -?[0-9]+(\.[0-9]{1,2})? or
 * a JSON number that is a whole number of cents, magnitude <= 10^12.
 * 0 and *cents set, or -1 when the node is not an amount. */
int amount_from_json(const json_t *node, int64_t *cents);

/* The same for text (rule literals): the string grammar only. */
int amount_parse(const char *s, int64_t *cents);

/* "-1177.87": always two decimals. buf of at least 32 bytes. */
char *amount_format(int64_t cents, char *buf, size_t size);

/* YYYY-MM-DD, a real calendar day of 0001..9999 -> day number (days since
 * 1970-01-01, may be negative). 0 or -1. */
int date_parse(const char *s, int64_t *day);
int date_from_json(const json_t *node, int64_t *day);
/* Inverse of date_parse; buf of at least 11 bytes. */
char *date_format(int64_t day, char *buf, size_t size);

/* A JSON real number in the fewest digits that read back as the same
 * double, as the file wrote it for any number the parser did not round:
 * "10.005" (not 10.005000000000001), "1177.8700000000001" (not 1177.87),
 * "0.30000000000000004". The one text of a real, in messages and on pages.
 * buf of at least 32 bytes. */
char *real_format(double d, char *buf, size_t size);

/* The currency a report's amounts are in, when it is not the euro: its
 * "currency" member when a code of three capital letters other than "EUR"
 * ("USD"), else NULL (the euro sign: a currency.allowed finding says what
 * is wrong with any other "currency"). French
 * words write this code after an amount instead of the euro sign
 * (i18n_in_currency()), in messages and on pages alike. */
const char *report_currency(const json_t *report);

/* A JSON integer (not 4.0, not "4"). 0 or -1. */
int integer_from_json(const json_t *node, int64_t *value);

/* Bytes of a string from the report that a message quotes: a longer one
 * is cut there (at a character's start) and followed by "...". */
#define QUOTE_MAX 40

/* A short, human description of a node for messages: "string \"abc\"",
 * "number 10.005", "null", "object", "array" (long strings cut with
 * "..."). */
char *json_describe(const json_t *node, enum lang l, char *buf, size_t size);

/* Equality for `unique`: two values that both read as amounts compare by
 * amount; other values as JSON values (numbers by value, objects regardless
 * of member order). value_hash is consistent with value_equal. */
bool value_equal(const json_t *a, const json_t *b);
uint64_t value_hash(const json_t *v);

#endif
