/*
 * jsonerr.h - the texts of Jansson's parse errors (json_error_t's text) in
 * a judgement's language, for input.json's message.
 *
 * Jansson writes its errors in English, as "MESSAGE", "MESSAGE near
 * 'TEXT'" or "MESSAGE near end of file", MESSAGE being one of the fixed
 * texts of its src/load.c (2.14), some with a variable part ("control
 * character 0x1", "invalid Unicode '\uD800'"). Their words are translated;
 * what comes from the file (the text near the error, a token, a code
 * point) is kept as it is.
 */
#ifndef EXPENSED_JSONERR_H
#define EXPENSED_JSONERR_H

#include <stddef.h>

#include "../common/i18n.h"

/*
 * Jansson's error text in language l: text itself in English, and for a
 * text of a form it does not know (another version of Jansson); else its
 * translation, written into buf (size bytes, cut to fit), which is
 * returned.
 */
const char *json_error_words(enum lang l, const char *text, char *buf,
			     size_t size);

/*
 * The same for an error Jansson stopped at on a NUL byte (the byte at
 * json_error_t's position): it takes one for the end of its text and says
 * "invalid token near end of file", where the file goes on (a file padded
 * with zeros after a crash or an interrupted copy). That "near end of
 * file" becomes "near a NUL byte"; any other text is json_error_words'.
 */
const char *json_error_at_nul(enum lang l, const char *text, char *buf,
			      size_t size);

#endif
