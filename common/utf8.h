/*
 * utf8.h - UTF-8 validity as RFC 3629 defines it: no overlong forms, no
 * surrogates, nothing above U+10FFFF. Used wherever bytes from a file or
 * a file name meet JSON, logs or chat texts.
 */
#ifndef EXPENSED_UTF8_H
#define EXPENSED_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 when
 * s does not start one (an ASCII byte is a sequence of 1). */
size_t utf8_seq_len(const unsigned char *s, size_t n);

/* Length of the longest prefix of s[0..n) that is valid UTF-8. */
size_t utf8_valid_prefix(const unsigned char *s, size_t n);

/* The code point of the valid sequence of len bytes at s. */
unsigned utf8_decode(const unsigned char *s, size_t len);

/* Whether cp is a Unicode bidirectional control, which reorders what a
 * reader sees around it (invoice-U+202Egnp.json passing for
 * invoice-nosj.png): U+061C ALM, U+200E LRM, U+200F RLM, U+202A..U+202E
 * embeddings and overrides, U+2066..U+2069 isolates. Logs, pages and chat
 * texts each neutralise them their way. */
bool utf8_bidi_control(unsigned cp);

/* The length of the first len bytes of s cut to at most max bytes
 * without splitting a UTF-8 sequence: len when len <= max, else max moved
 * back over at most 3 continuation bytes (so that the cut falls before
 * the lead byte of the sequence max is inside). Bytes that are not UTF-8
 * are cut as they come: at most 3 bytes are ever given back. s needs no
 * terminating NUL; s[max] is read only when len > max. */
size_t utf8_cut(const char *s, size_t len, size_t max);

/* A malloc'ed copy of s in which every byte that does not belong to a
 * valid sequence is replaced by U+FFFD (file names from a share, messages
 * quoting them). NULL only when memory runs out. */
char *utf8_lossy_dup(const char *s);

#endif
