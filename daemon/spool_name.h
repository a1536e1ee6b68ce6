/*
 * spool_name.h - the names of the spool: the one module that builds, parses
 * and validates every name in work/ and state/ and every archive name in
 * accepted/ and rejected/ (as Postfix's mail_queue.c does for queue file
 * names), so that the grammar below is written down and coded once.
 *
 * KEY = "<token>.<seq>": 16 lower-case hex digits naming the daemon that
 * claimed (its owner token), 8 hex digits counting its claims from 1
 * (after ffffffff comes 00000001 again: 00000000 is never a claim's).
 *
 * work/
 *   cKEY.NAME       the claimed input (NAME: the dropped name, cut at
 *                   SPOOL_NAME_KEEP bytes on a UTF-8 boundary, keeping
 *                   ".json" when it ends so); once judged, the daemon's own
 *                   copy of the bytes judged takes this name
 *   kKEY.NAME       that copy while it is being written
 *   rKEY            its result document, not yet in place; where it goes
 *                   (D/ARCH) is its "archived_as"
 *   rKEY.D.ARCH     the same, as older versions named it (D: 'a' or 'r')
 *   pKEY            its page (NAME.result.html), not yet in place; it goes
 *                   beside its result, as ARCH.result.html
 * accepted/ and rejected/
 *   ARCH            the input: NAME, else STEM.N.json for NAME = STEM.json,
 *                   else NAME.N (N = 1, 2, ...); NAME (STEM) shortened on a
 *                   UTF-8 boundary only when ARCH.result.json would not fit
 *                   in NAME_MAX bytes
 *   ARCH.result.json  its result document
 *   ARCH.result.html  its page ([html] enabled); never the name of an ARCH:
 *                   an archive name never ends in .result.json or
 *                   .result.html (such a dropped name gets a suffix)
 * index.html        the latest verdicts, at the top of the spool (written
 *                   through .index.html-TOKEN)
 * state/
 *   owner-TOKEN.lock  held (flock) by the daemon of TOKEN while it lives
 *   tmp-TOKEN         the same lock file before it is in place
 *   tries-KEY         how many times claim KEY was recovered ("N\n")
 *   accepted-ids      the ledger (ledger.h)
 *   metrics           the daemon's counters (metrics.h), replaced through
 *                     metrics.tmp-PID
 *   pages-index       the entries of index.html (page_index.h), compacted
 *                     through pages-index.tmp-TOKEN
 *   pages-index.lock  flock'ed by the daemon updating pages-index
 *
 * Builders return 0, or -1 with errno ENAMETOOLONG when the name would not
 * fit in NAME_MAX bytes (it may come from a file name found on disk). They
 * assert() their own arguments: a bad token, key or directory letter is a
 * bug, never input. outbox/ and dead/ names belong to outbox.c.
 */
#ifndef EXPENSED_SPOOL_NAME_H
#define EXPENSED_SPOOL_NAME_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The spool's subdirectories handled by the spool module. */
#define SPOOL_DIR_WORK "work"
#define SPOOL_DIR_ACCEPTED "accepted"
#define SPOOL_DIR_REJECTED "rejected"
#define SPOOL_DIR_STATE "state"

/* The ledger's file in state/. */
#define SPOOL_LEDGER_NAME "accepted-ids"

/* The metrics counters' file in state/ (metrics.c). */
#define SPOOL_METRICS_NAME "metrics"

/* The pages' list at the top of the spool, and its entries in state/. */
#define SPOOL_INDEX_NAME "index.html"
#define SPOOL_PAGES_INDEX_NAME "pages-index"

/* Longest NAME kept in a claim (bytes); longer names are cut (on a UTF-8
 * boundary) so that CLAIM and NAME.result.json fit in NAME_MAX. */
#define SPOOL_NAME_KEEP 200

#define SPOOL_TOKEN_LEN 16
#define SPOOL_KEY_LEN (SPOOL_TOKEN_LEN + 1 + 8)

/* Room for any name in a directory, with its NUL. */
#define SPOOL_NAME_SIZE (NAME_MAX + 1)
/* Room for "accepted/ARCH" or "rejected/ARCH", with its NUL. */
#define SPOOL_PATH_SIZE (NAME_MAX + 16)
/* Room for "owner-TOKEN.lock" or "tmp-TOKEN", with its NUL. */
#define SPOOL_LOCK_SIZE 64

/* Whether s is a token (SPOOL_TOKEN_LEN lower-case hex digits), a KEY. */
bool spool_token_valid(const char *s);
bool spool_key_valid(const char *s);

/* A KEY's parts: whether it is one of token's claims, and its claim
 * number (the 8 hex digits after the dot); whether s starts with such 8
 * digits. */
bool spool_key_of(const char *key, const char *token);
const char *spool_key_seq(const char *key);
bool spool_seq_valid(const char *s);

/* The claim number after seq (1 after 0xffffffff, never 0). */
unsigned spool_seq_next(unsigned seq);

/* Whether claim number a (8 hex digits) was taken before b, in serial
 * number arithmetic (RFC 1982): true across the counter's wrap, for two
 * claims of one daemon less than 2^31 claims apart (those in work/ at
 * once are a few batches apart). */
bool spool_seq_before(const char *a, const char *b);

/* How many claims b comes after a, modulo 2^32 (b - a). */
uint32_t spool_seq_distance(const char *a, const char *b);

/* The token of random bits r, into token (SPOOL_TOKEN_LEN + 1 bytes). */
void spool_name_token(uint64_t r, char *token);

/* The KEY of claim number seq of token, into key (SPOOL_KEY_LEN + 1). */
void spool_name_key(const char *token, unsigned seq, char *key);

/* name cut to at most SPOOL_NAME_KEEP bytes, not inside a UTF-8 sequence,
 * into out (SPOOL_NAME_SIZE bytes). A name ending in ".json" keeps it; a
 * name that does not never gets it by the cut. */
void spool_name_keep(const char *name, char *out);

/* work/ "cKEY.NAME" into out (SPOOL_NAME_SIZE bytes), NAME being name cut
 * by spool_name_keep. 0 or -1. */
int spool_name_claim(const char *key, const char *name, char *out);

/* work/ "kKEY.NAME" for the claim named claim ("cKEY.NAME"), into out
 * (SPOOL_NAME_SIZE bytes). */
void spool_name_kept(const char *claim, char *out);

/* work/ "rKEY" into out (SPOOL_NAME_SIZE bytes). */
void spool_name_result_work(const char *key, char *out);

/* work/ "pKEY" into out (SPOOL_NAME_SIZE bytes). */
void spool_name_page_work(const char *key, char *out);

/* A work/ name taken apart. */
struct spool_work_name {
	char kind; /* 'c' claim, 'k' copy, 'r' result, 'p' page */
	char key[SPOOL_KEY_LEN + 1]; /* its KEY */
	char d; /* legacy "rKEY.D.ARCH": 'a' or 'r'; else 0 */
	char token[SPOOL_TOKEN_LEN + 1]; /* the KEY's token */
	const char *rest; /* 'c', 'k': NAME; 'r': ARCH or ""; 'p': "" (inside
			     the parsed name) */
};

/* Parse a work/ name into *wn. 0, or -1 when it is not one of ours. */
int spool_name_parse_work(const char *name, struct spool_work_name *wn);

/* Archive candidate number n (0 first) for the dropped name, into out
 * (SPOOL_NAME_SIZE bytes), shortened so that ARCH.result.json fits. */
void spool_name_archive(const char *name, unsigned n, char *out);

/* "ARCH.result.json" into out (SPOOL_NAME_SIZE bytes). 0 or -1. */
int spool_name_result(const char *arch, char *out);

/* "ARCH.result.html" into out (SPOOL_NAME_SIZE bytes). 0 or -1. */
int spool_name_page(const char *arch, char *out);

/* Whether name ends like a result or a page (".result.json",
 * ".result.html"): never an archive name ARCH. */
bool spool_name_is_derived(const char *name);

/* The temporary names of index.html (".index.html-TOKEN", in the spool)
 * and of state/pages-index ("pages-index.tmp-TOKEN"), into out
 * (SPOOL_LOCK_SIZE bytes). */
void spool_name_index_tmp(const char *token, char *out);
void spool_name_pages_index_tmp(const char *token, char *out);

/* "accepted" for d = 'a', "rejected" for d = 'r'. */
const char *spool_name_dir(char d);

/* The archived_as path "DIR/ARCH" into out (SPOOL_PATH_SIZE bytes). 0 or
 * -1. */
int spool_name_archived_as(char d, const char *arch, char *out);

/* Parse an archived_as "DIR/ARCH" (as spool_name_archived_as makes it):
 * *d 'a' or 'r', ARCH into arch (SPOOL_NAME_SIZE bytes). 0, or -1 when it
 * is not one (a slash, "." or "..", too long). */
int spool_name_parse_archived_as(const char *s, char *d, char *arch);

/*
 * A path that is not UTF-8 (a Latin-1 name from a share) loses its bad
 * bytes in the result document's "archived_as" (U+FFFD); its
 * "archived_as_bytes" keeps them (docs/result.md): '%' and every byte
 * that is not part of a UTF-8 character written %HH. Recovery reads it to
 * find the file again.
 */
#define SPOOL_BYTES_SIZE (3 * SPOOL_PATH_SIZE)

/* path as "archived_as_bytes" into out (SPOOL_BYTES_SIZE bytes): true,
 * or false when path is UTF-8 (then archived_as says it exactly and the
 * document has no "archived_as_bytes"). */
bool spool_name_bytes(const char *path, char *out);

/* The path s encodes (as spool_name_bytes made it) into out of size
 * bytes. 0, or -1 when s is not such an encoding (a '%' not followed by
 * two hex digits, %00) or does not fit. */
int spool_name_parse_bytes(const char *s, char *out, size_t size);

/* state/ "tries-KEY" into out (SPOOL_LOCK_SIZE bytes). */
void spool_name_tries(const char *key, char *out);

/* Parse a state/ name "tries-KEY" into key (SPOOL_KEY_LEN + 1 bytes). 0,
 * or -1 when it is not one. */
int spool_name_parse_tries(const char *name, char *key);

/* Copy src, a name read from a directory or parsed out of one, into dst
 * (SPOOL_NAME_SIZE bytes); it must fit (asserted). */
void spool_name_copy(char *dst, const char *src);

/* state/ "owner-TOKEN.lock" and "tmp-TOKEN" into out (SPOOL_LOCK_SIZE). */
void spool_name_owner_lock(const char *token, char *out);
void spool_name_owner_tmp(const char *token, char *out);

/* Parse a state/ name "owner-TOKEN.lock" into token (SPOOL_TOKEN_LEN + 1
 * bytes). 0, or -1 when it is not an owner lock. */
int spool_name_parse_owner_lock(const char *name, char *token);

#endif
