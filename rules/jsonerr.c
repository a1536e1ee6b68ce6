/*
 * jsonerr.c - Jansson's parse errors in French (jsonerr.h): its fixed
 * texts, listed from the parser of Jansson 2.14 (src/load.c), as msgids;
 * the text it quotes from the file kept as it is.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "jsonerr.h"

/* The messages that are fixed text. */
static const char *const fixed[] = {
    N_("'[' or '{' expected"),
    N_("end of file expected"),
    N_("string or '}' expected"),
    N_("':' expected"),
    N_("'}' expected"),
    N_("']' expected"),
    N_("duplicate object key"),
    N_("NUL byte in object key not supported"),
    N_("unexpected token"),
    N_("invalid token"),
    N_("unexpected newline"),
    N_("premature end of input"),
    N_("invalid escape"),
    N_("too big integer"),
    N_("too big negative integer"),
    N_("real number overflow"),
    N_("maximum parsing depth reached"),
};

/* The messages with a variable part after a fixed start: "control
 * character 0x1f" is "control character %s" of "0x1f". The longer of two
 * starts of one text first. */
static const struct {
	const char *start, *msgid;
} variable[] = {
    {"control character ", N_("control character %s")},
    {"invalid Unicode escape ", N_("invalid Unicode escape %s")},
    {"invalid Unicode ", N_("invalid Unicode %s")},
    {"unable to decode byte ", N_("unable to decode byte %s")},
};

/* The n bytes of message m in language l (into out, size bytes, when it
 * has a variable part), or NULL when m is none of Jansson's. */
static const char *message(enum lang l, const char *m, size_t n, char *out,
			   size_t size)
{
	char var[JSON_ERROR_TEXT_LENGTH];

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (strlen(fixed[i]) == n && memcmp(m, fixed[i], n) == 0)
			return i18n_tr(l, fixed[i]);
	for (size_t i = 0; i < sizeof(variable) / sizeof(variable[0]); i++) {
		size_t k = strlen(variable[i].start);
		if (n > k && memcmp(m, variable[i].start, k) == 0) {
			snprintf(var, sizeof(var), "%.*s", (int)(n - k), m + k);
			snprintf(out, size, i18n_tr(l, variable[i].msgid), var);
			return out;
		}
	}
	return NULL;
}

const char *json_error_words(enum lang l, const char *text, char *buf,
			     size_t size)
{
	static const char eof[] = " near end of file", near[] = " near '";
	size_t len = strlen(text), n = len;
	const char *at = strstr(text, near), *words;
	char m[JSON_ERROR_TEXT_LENGTH], quoted[JSON_ERROR_TEXT_LENGTH];

	if (l == LANG_EN)
		return text; /* English is the msgid */
	if (len >= sizeof(eof) - 1 &&
	    strcmp(text + len - (sizeof(eof) - 1), eof) == 0)
		n = len - (sizeof(eof) - 1);
	else if (at != NULL && text[len - 1] == '\'' &&
		 at + sizeof(near) - 1 <= text + len - 1)
		n = (size_t)(at - text);
	else
		at = NULL;
	words = message(l, text, n, m, sizeof(m));
	if (words == NULL)
		return text;
	if (n == len)
		snprintf(buf, size, "%s", words);
	else if (at == NULL)
		snprintf(buf, size, i18n_tr(l, "%s near end of file"), words);
	else {
		/* what Jansson quotes from the file, between its quotes */
		snprintf(quoted, sizeof(quoted), "%.*s",
			 (int)(text + len - 1 - (at + sizeof(near) - 1)),
			 at + sizeof(near) - 1);
		snprintf(buf, size, i18n_tr(l, "%s near '%s'"), words, quoted);
	}
	return buf;
}

const char *json_error_at_nul(enum lang l, const char *text, char *buf,
			      size_t size)
{
	static const char eof[] = " near end of file";
	size_t len = strlen(text), k = sizeof(eof) - 1;
	char m[JSON_ERROR_TEXT_LENGTH], stem[JSON_ERROR_TEXT_LENGTH];
	const char *words;

	if (len < k || strcmp(text + len - k, eof) != 0)
		return json_error_words(l, text, buf, size);
	snprintf(stem, sizeof(stem), "%.*s", (int)(len - k), text);
	words = l == LANG_EN ? stem : message(l, stem, len - k, m, sizeof(m));
	snprintf(buf, size, i18n_tr(l, "%s near a NUL byte"),
		 words != NULL ? words : stem);
	return buf;
}
