/*
 * i18n.h - human-facing text in English or French (gettext, text domain
 * "expensed"; docs/languages.md).
 *
 * _("text") is a message shown to people (finding messages, check's text
 * output, pages, chat alerts), translated into the process's language
 * (i18n_set); N_("text") only marks a string for xgettext, to be translated
 * where it is used (i18n_tr). Rule ids, JSON keys, log lines and the
 * standard webhook's field names are never marked.
 *
 * English is the msgid itself: it never goes through gettext, so English
 * output does not depend on the environment or on a catalog. French looks
 * the text up in LOCALEDIR/fr/LC_MESSAGES/expensed.mo (LOCALEDIR: the
 * EXPENSED_LOCALEDIR environment variable, else the one compiled in); a
 * text missing from the catalog stays English.
 */
#ifndef EXPENSED_I18N_H
#define EXPENSED_I18N_H

#include <stddef.h>
#include <stdint.h>

#define I18N_DOMAIN "expensed"

enum lang { LANG_EN, LANG_FR };

/*
 * Set gettext up (once, at the start of main, before any thread): the
 * catalog directory, UTF-8 output, and the locale state that makes glibc
 * load the French catalog whatever locales the machine has (i18n.c says
 * why). Reads the environment first (i18n_from_env). Never fails: without
 * a catalog French text stays English.
 */
void i18n_init(void);

/* The language the environment asks for, read as gettext does: LANGUAGE
 * (its first entry that is en or fr) unless the locale is C or POSIX, else
 * the locale's name (LC_ALL, then LC_MESSAGES, then LANG); fr or fr_* is
 * French, anything else English. As it was when i18n_init ran. */
enum lang i18n_from_env(void);

/* "en" or "fr" into *out; -1 for anything else. */
int i18n_parse(const char *name, enum lang *out);

/* "en" or "fr" */
const char *i18n_name(enum lang l);

/* The process's language, used by _() (default English). */
void i18n_set(enum lang l);
enum lang i18n_current(void);

/* msgid in language l. */
const char *i18n_tr(enum lang l, const char *msgid)
    __attribute__((format_arg(2)));

/* one or many (English: n == 1 picks one) in language l, for n. */
const char *i18n_ntr(enum lang l, const char *one, const char *many,
		     unsigned long n) __attribute__((format_arg(2)))
__attribute__((format_arg(3)));

/* msgid in the message context ctx in language l, or NULL when the
 * catalog has no such entry (or l is English): for a sentence of its own
 * that one built-in rule may have. */
const char *i18n_ctx(enum lang l, const char *ctx, const char *msgid)
    __attribute__((format_arg(3)));

/* i18n_ctx with a plural: one or many for n in the context ctx, or NULL. */
const char *i18n_nctx(enum lang l, const char *ctx, const char *one,
		      const char *many, unsigned long n)
    __attribute__((format_arg(3))) __attribute__((format_arg(4)));

/*
 * An amount in cents as people read it in language l, into buf:
 * English "139108.94" (what the result document says), French
 * "139 108,94 €" (U+202F NARROW NO-BREAK SPACE between thousands, U+00A0
 * NO-BREAK SPACE before the sign, as CLDR and glibc's fr_FR have it).
 * Never a locale's: LC_NUMERIC stays "C". Returns buf.
 */
char *i18n_amount(enum lang l, int64_t cents, char *buf, size_t size);

/* The same for a sum of amounts, which may pass int64 (100,000 costs of
 * the largest amount a report may hold): buf of I18N_WIDE_SIZE bytes
 * holds any. */
#define I18N_WIDE_SIZE 96
char *i18n_amount_wide(enum lang l, __int128 cents, char *buf, size_t size);

/* amount (size bytes), as i18n_amount() or i18n_amount_wide() wrote it in
 * language l, in another currency than the euro: its sign replaced by
 * code, "1 177,87 USD" for "1 177,87 €". code NULL, or English (which
 * writes no sign): as it is. Returns amount. */
char *i18n_in_currency(enum lang l, char *amount, size_t size,
		       const char *code);

/* A YYYY-MM-DD date as people read it in language l, into buf: English
 * as it is, French DD/MM/YYYY. Anything else is copied as it is. Returns
 * buf. */
char *i18n_date(enum lang l, const char *iso, char *buf, size_t size);

#define _(s) i18n_tr(i18n_current(), s)
#define N_(s) (s)

#endif
