/*
 * test_i18n.c - common/i18n: the language read from the environment as
 * gettext reads it, French amounts and dates, and the catalog found and
 * used without any French locale on the machine.
 */
#include <libgen.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/i18n.h"
#include "../../common/timefmt.h"

static char localedir[4096];

static void amounts(void **state)
{
	char buf[64];
	(void)state;

	assert_string_equal(i18n_amount(LANG_EN, 13910894, buf, sizeof(buf)),
			    "139108.94");
	assert_string_equal(i18n_amount(LANG_FR, 13910894, buf, sizeof(buf)),
			    "139\u202f108,94\u00a0\u20ac");
	assert_string_equal(i18n_amount(LANG_FR, -5, buf, sizeof(buf)),
			    "-0,05\u00a0\u20ac");
	assert_string_equal(i18n_amount(LANG_FR, 100000000, buf, sizeof(buf)),
			    "1\u202f000\u202f000,00\u00a0\u20ac");
	assert_string_equal(i18n_amount(LANG_FR, 99999, buf, sizeof(buf)),
			    "999,99\u00a0\u20ac");
	assert_string_equal(i18n_amount(LANG_EN, -500, buf, sizeof(buf)),
			    "-5.00");
	assert_string_equal(i18n_amount(LANG_EN, INT64_MIN, buf, sizeof(buf)),
			    "-92233720368547758.08");
}

/* Sums of amounts past int64, in full (the largest a 128-bit sum holds:
 * 2^127 - 1 cents). */
static void wide_amounts(void **state)
{
	char buf[I18N_WIDE_SIZE];
	__int128 max = (__int128)(((unsigned __int128)1 << 127) - 1);
	(void)state;

	assert_string_equal(i18n_amount_wide(LANG_EN, (__int128)INT64_MAX + 1,
					     buf, sizeof(buf)),
			    "92233720368547758.08");
	assert_string_equal(i18n_amount_wide(LANG_EN, max, buf, sizeof(buf)),
			    "1701411834604692317316873037158841057.27");
	assert_string_equal(
	    i18n_amount_wide(LANG_EN, -max - 1, buf, sizeof(buf)),
	    "-1701411834604692317316873037158841057.28");
	assert_string_equal(
	    i18n_amount_wide(LANG_FR, (__int128)10000000000000000LL * 1000, buf,
			     sizeof(buf)),
	    "100\u202f000\u202f000\u202f000\u202f000\u202f000,00\u00a0\u20ac");
	assert_string_equal(
	    i18n_amount_wide(LANG_FR, -max - 1, buf, sizeof(buf)),
	    "-1\u202f701\u202f411\u202f834\u202f604\u202f692"
	    "\u202f317\u202f316\u202f873\u202f037\u202f158"
	    "\u202f841\u202f057,28\u00a0\u20ac");
}

static void dates(void **state)
{
	char buf[32];
	(void)state;

	assert_string_equal(i18n_date(LANG_FR, "2017-10-19", buf, sizeof(buf)),
			    "19/10/2017");
	assert_string_equal(i18n_date(LANG_EN, "2017-10-19", buf, sizeof(buf)),
			    "2017-10-19");
	assert_string_equal(i18n_date(LANG_FR, "2017/10/19", buf, sizeof(buf)),
			    "2017/10/19");
	assert_string_equal(i18n_date(LANG_FR, "", buf, sizeof(buf)), "");
}

/* The language i18n_init reads from these variables (NULL: unset). */
static enum lang env_lang(const char *lc_all, const char *lc_messages,
			  const char *lang, const char *language)
{
	const char *names[] = {"LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"};
	const char *values[] = {lc_all, lc_messages, lang, language};

	for (int i = 0; i < 4; i++) {
		if (values[i] != NULL)
			setenv(names[i], values[i], 1);
		else
			unsetenv(names[i]);
	}
	i18n_init();
	return i18n_from_env();
}

static void environment(void **state)
{
	(void)state;
	assert_int_equal(env_lang(NULL, NULL, NULL, NULL), LANG_EN);
	assert_int_equal(env_lang(NULL, NULL, "fr_FR.UTF-8", NULL), LANG_FR);
	assert_int_equal(env_lang(NULL, NULL, "fr", NULL), LANG_FR);
	assert_int_equal(env_lang(NULL, NULL, "fr_BE@euro", NULL), LANG_FR);
	assert_int_equal(env_lang(NULL, NULL, "french", NULL), LANG_EN);
	/* LC_ALL, then LC_MESSAGES, then LANG */
	assert_int_equal(env_lang("C.UTF-8", NULL, "fr_FR.UTF-8", NULL),
			 LANG_EN);
	assert_int_equal(env_lang("fr_FR.UTF-8", "en_GB.UTF-8", NULL, NULL),
			 LANG_FR);
	assert_int_equal(env_lang(NULL, "fr_CA.UTF-8", "en_US.UTF-8", NULL),
			 LANG_FR);
	assert_int_equal(env_lang("", "", "fr_FR.UTF-8", ""), LANG_FR);
	/* LANGUAGE first, its first known entry, but never for C */
	assert_int_equal(env_lang(NULL, NULL, "de_DE.UTF-8", "de:fr"), LANG_FR);
	assert_int_equal(env_lang(NULL, NULL, "fr_FR.UTF-8", "en_GB:fr"),
			 LANG_EN);
	assert_int_equal(env_lang(NULL, NULL, "C", "fr"), LANG_EN);
	assert_int_equal(env_lang(NULL, NULL, "POSIX", "fr"), LANG_EN);
	assert_int_equal(env_lang(NULL, NULL, NULL, "fr"), LANG_EN);
}

/* The build's catalog, with no French locale generated (only C.UTF-8 on a
 * typical machine) and a C process locale. */
static void catalog(void **state)
{
	(void)state;
	setenv("EXPENSED_LOCALEDIR", localedir, 1);
	env_lang("C", NULL, NULL, NULL);
	assert_string_equal(i18n_tr(LANG_FR, "error"), "erreur");
	assert_string_equal(i18n_tr(LANG_EN, "error"), "error");
	assert_string_equal(i18n_tr(LANG_FR, "not in any catalog"),
			    "not in any catalog");
	assert_string_equal(i18n_ntr(LANG_FR, "%d error", "%d errors", 0),
			    "%d erreur");
	assert_string_equal(i18n_ntr(LANG_FR, "%d error", "%d errors", 2),
			    "%d erreurs");
	assert_string_equal(i18n_ntr(LANG_EN, "%d error", "%d errors", 0),
			    "%d errors");
	assert_non_null(i18n_ctx(LANG_FR, "ratification.retroactive",
				 "the mission began on %s, before the meeting "
				 "of %s that authorised it"));
	assert_null(i18n_ctx(LANG_EN, "ratification.retroactive",
			     "the mission began on %s, before the meeting "
			     "of %s that authorised it"));
	assert_null(i18n_ctx(LANG_FR, "no.such.rule", "error"));
	/* the process's language (_) */
	i18n_set(LANG_FR);
	assert_string_equal(_("warning"), "avertissement");
	i18n_set(LANG_EN);
	assert_string_equal(_("warning"), "warning");
	/* LC_NUMERIC stays "C": no decimal comma by accident */
	char num[16];
	snprintf(num, sizeof(num), "%.2f", 1.5);
	assert_string_equal(num, "1.50");
}

/* What pages show of a time: the local time zone's, with its name (a
 * POSIX TZ string: no time zone database needed). */
static void local_times(void **state)
{
	struct local_time lt;
	static const struct {
		const char *tz;
		time_t t;
		const char *day, *hms, *zone;
	} cases[] = {
	    /* 2019-02-08T10:00:00Z, 2019-07-01T10:00:00Z */
	    {"UTC0", 1549620000, "2019-02-08", "10:00:00", "UTC"},
	    {"CET-1CEST,M3.5.0,M10.5.0/3", 1549620000, "2019-02-08", "11:00:00",
	     "CET"},
	    {"CET-1CEST,M3.5.0,M10.5.0/3", 1561975200, "2019-07-01", "12:00:00",
	     "CEST"},
	    /* 23:30 UTC is the next day in Paris */
	    {"CET-1CEST,M3.5.0,M10.5.0/3", 1549668600, "2019-02-09", "00:30:00",
	     "CET"},
	    {"<+03>-3", 1549620000, "2019-02-08", "13:00:00", "UTC+03:00"},
	    {"<-0330>3:30", 1549620000, "2019-02-08", "06:30:00", "UTC-03:30"},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(setenv("TZ", cases[i].tz, 1), 0);
		tzset();
		local_time(cases[i].t, &lt);
		assert_string_equal(lt.day, cases[i].day);
		assert_string_equal(lt.hms, cases[i].hms);
		assert_string_equal(lt.zone, cases[i].zone);
	}
	unsetenv("TZ");
	tzset();
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(amounts), cmocka_unit_test(wide_amounts),
	    cmocka_unit_test(dates),   cmocka_unit_test(environment),
	    cmocka_unit_test(catalog), cmocka_unit_test(local_times),
	};
	char self[4096];

	(void)argc;
	/* BUILD/tests/test_i18n: the catalogs are in BUILD/locale */
	snprintf(self, sizeof(self), "%s", argv[0]);
	snprintf(localedir, sizeof(localedir), "%s/../locale", dirname(self));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
