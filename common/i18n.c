/*
 * i18n.c - gettext for a program whose French must not depend on the
 * machine's locales (i18n.h).
 *
 * How glibc's gettext picks a catalog (intl/dcigettext.c,
 * guess_category_value): it takes the name of the *current* LC_MESSAGES
 * locale (what setlocale or uselocale installed, not the environment);
 * if that name is "C" it returns English at once and ignores LANGUAGE;
 * otherwise LANGUAGE, when set, is the list of catalogs to try, else the
 * locale's name is. So setlocale(LC_ALL, "") with LANG=fr_FR.UTF-8 on a
 * machine where fr_FR.UTF-8 was never generated (only C.UTF-8 exists on
 * most servers: `locale -a`) fails, the locale stays "C", and nothing is
 * ever translated.
 *
 * What we do instead: we read the language from the environment ourselves
 * (i18n_from_env, gettext's order), then set LANGUAGE=fr in our own
 * environment once, before any thread exists, and look French text up
 * under a thread-local locale (uselocale) whose LC_MESSAGES is C.UTF-8 (a
 * real locale, built into glibc since 2.35 and shipped by Debian's
 * libc-bin before): its name is not "C", so LANGUAGE is honoured and
 * LOCALEDIR/fr/LC_MESSAGES/expensed.mo is loaded. The process's global
 * locale stays "C" for every category: LANGUAGE is then ignored by every
 * other gettext call (strerror's, which log lines use, stay English), and
 * LC_NUMERIC is "C", so no number ever gets a decimal comma by accident.
 * glibc caches translations per (domain, category, locale name); LANGUAGE
 * never changes after i18n_init, so the cache is never stale. The catalog
 * is UTF-8 and its text is returned as UTF-8 (bind_textdomain_codeset),
 * whatever LC_CTYPE says (it would else be converted to ASCII in "C").
 * English never goes through gettext at all.
 */
#include <libintl.h>
#include <locale.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "i18n.h"

#ifndef EXPENSED_LOCALEDIR
#define EXPENSED_LOCALEDIR "/usr/local/share/locale"
#endif

static enum lang current = LANG_EN;
static enum lang env_lang = LANG_EN;
static locale_t messages_locale = (locale_t)0;

int i18n_parse(const char *name, enum lang *out)
{
	if (strcmp(name, "en") == 0)
		*out = LANG_EN;
	else if (strcmp(name, "fr") == 0)
		*out = LANG_FR;
	else
		return -1;
	return 0;
}

const char *i18n_name(enum lang l)
{
	return l == LANG_FR ? "fr" : "en";
}

/* The language of a locale or LANGUAGE entry name: fr, fr_FR.UTF-8,
 * fr@euro... are French; -1 when neither en nor fr. */
static int name_lang(const char *s, size_t len, enum lang *out)
{
	if (len >= 2 && strncmp(s, "fr", 2) == 0 &&
	    (len == 2 || s[2] == '_' || s[2] == '.' || s[2] == '@')) {
		*out = LANG_FR;
		return 0;
	}
	if (len >= 2 && strncmp(s, "en", 2) == 0 &&
	    (len == 2 || s[2] == '_' || s[2] == '.' || s[2] == '@')) {
		*out = LANG_EN;
		return 0;
	}
	return -1;
}

static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);
	return v != NULL && *v != '\0' ? v : NULL;
}

/* The language the environment asks for (see i18n.h). */
static enum lang read_env(void)
{
	const char *loc = env_nonempty("LC_ALL");
	enum lang l = LANG_EN;

	if (loc == NULL)
		loc = env_nonempty("LC_MESSAGES");
	if (loc == NULL)
		loc = env_nonempty("LANG");
	if (loc == NULL || strcmp(loc, "C") == 0 ||
	    strncmp(loc, "C.", 2) == 0 || strcmp(loc, "POSIX") == 0)
		return LANG_EN;
	const char *language = env_nonempty("LANGUAGE");
	for (const char *p = language; p != NULL && *p != '\0';) {
		size_t len = strcspn(p, ":");
		if (name_lang(p, len, &l) == 0)
			return l;
		p += len + (p[len] == ':');
	}
	return name_lang(loc, strlen(loc), &l) == 0 ? l : LANG_EN;
}

void i18n_init(void)
{
	static const char *const names[] = {"C.UTF-8", "C.utf8", "fr_FR.UTF-8",
					    "fr_FR.utf8"};
	const char *dir = env_nonempty("EXPENSED_LOCALEDIR");

	env_lang = read_env();
	current = env_lang;
	bindtextdomain(I18N_DOMAIN, dir ? dir : EXPENSED_LOCALEDIR);
	bind_textdomain_codeset(I18N_DOMAIN, "UTF-8");
	setenv("LANGUAGE", "fr", 1);
	if (messages_locale != (locale_t)0)
		freelocale(messages_locale);
	messages_locale = (locale_t)0;
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
		messages_locale =
		    newlocale(LC_MESSAGES_MASK, names[i], (locale_t)0);
		if (messages_locale != (locale_t)0)
			break;
	}
}

enum lang i18n_from_env(void)
{
	return env_lang;
}

void i18n_set(enum lang l)
{
	current = l;
}

enum lang i18n_current(void)
{
	return current;
}

/* key looked up in the French catalog (key itself when absent, or when
 * French cannot be set up). */
static const char *lookup(const char *key, const char *plural, unsigned long n)
{
	if (messages_locale == (locale_t)0)
		return plural == NULL || n == 1 ? key : plural;
	locale_t old = uselocale(messages_locale);
	const char *t = plural == NULL ? dgettext(I18N_DOMAIN, key)
				       : dngettext(I18N_DOMAIN, key, plural, n);
	uselocale(old);
	return t;
}

const char *i18n_tr(enum lang l, const char *msgid)
{
	return l == LANG_EN ? msgid : lookup(msgid, NULL, 0);
}

const char *i18n_ntr(enum lang l, const char *one, const char *many,
		     unsigned long n)
{
	if (l == LANG_EN)
		return n == 1 ? one : many;
	return lookup(one, many, n);
}

const char *i18n_ctx(enum lang l, const char *ctx, const char *msgid)
{
	char key[512];

	if (l == LANG_EN)
		return NULL;
	/* pgettext's key: context, EOT, msgid */
	int n = snprintf(key, sizeof(key), "%s\004%s", ctx, msgid);
	if (n < 0 || (size_t)n >= sizeof(key))
		return NULL;
	const char *t = lookup(key, NULL, 0);
	return t == key ? NULL : t;
}

const char *i18n_nctx(enum lang l, const char *ctx, const char *one,
		      const char *many, unsigned long n)
{
	char key[512];

	if (l == LANG_EN)
		return NULL;
	int k = snprintf(key, sizeof(key), "%s\004%s", ctx, one);
	if (k < 0 || (size_t)k >= sizeof(key))
		return NULL;
	const char *t = lookup(key, many, n);
	return t == key || t == many ? NULL : t;
}

/* v in decimal into buf (at least 40 bytes): its length. */
static size_t u128_text(unsigned __int128 v, char *buf)
{
	char rev[40];
	size_t n = 0;

	while (v > UINT64_MAX) { /* only past int64: a 128-bit division */
		rev[n++] = (char)('0' + (int)(v % 10));
		v /= 10;
	}
	for (uint64_t w = (uint64_t)v;; w /= 10) {
		rev[n++] = (char)('0' + (int)(w % 10));
		if (w < 10)
			break;
	}
	for (size_t i = 0; i < n; i++)
		buf[i] = rev[n - 1 - i];
	buf[n] = '\0';
	return n;
}

char *i18n_amount_wide(enum lang l, __int128 cents, char *buf, size_t size)
{
	unsigned __int128 mag =
	    cents < 0 ? (unsigned __int128)0 - (unsigned __int128)cents
		      : (unsigned __int128)cents;
	char units[40], grouped[96];
	size_t len, g = 0;
	unsigned frac = (unsigned)(mag % 100);

	len = u128_text(mag / 100, units);
	if (l == LANG_EN) {
		snprintf(buf, size, "%s%s.%02u", cents < 0 ? "-" : "", units,
			 frac);
		return buf;
	}
	for (size_t i = 0; i < len; i++) {
		if (i > 0 && (len - i) % 3 == 0) {
			memcpy(grouped + g, "\xe2\x80\xaf", 3); /* U+202F */
			g += 3;
		}
		grouped[g++] = units[i];
	}
	grouped[g] = '\0';
	/* U+00A0 before the sign */
	snprintf(buf, size, "%s%s,%02u\xc2\xa0\xe2\x82\xac",
		 cents < 0 ? "-" : "", grouped, frac);
	return buf;
}

char *i18n_amount(enum lang l, int64_t cents, char *buf, size_t size)
{
	return i18n_amount_wide(l, cents, buf, size);
}

char *i18n_in_currency(enum lang l, char *amount, size_t size, const char *code)
{
	static const char euro[] = "\xe2\x82\xac"; /* U+20AC, after U+00A0 */
	size_t n = strlen(amount), k = sizeof(euro) - 1;

	if (l == LANG_EN || code == NULL || n < k ||
	    strcmp(amount + n - k, euro) != 0)
		return amount;
	snprintf(amount + n - k, size - (n - k), "%s", code);
	return amount;
}

char *i18n_date(enum lang l, const char *iso, char *buf, size_t size)
{
	bool shaped = strlen(iso) == 10 && iso[4] == '-' && iso[7] == '-';

	if (l == LANG_EN || !shaped)
		snprintf(buf, size, "%s", iso);
	else
		snprintf(buf, size, "%.2s/%.2s/%.4s", iso + 8, iso + 5, iso);
	return buf;
}
