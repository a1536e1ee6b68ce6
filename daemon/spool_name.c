/*
 * spool_name.c - build, parse and validate the names of work/, state/ and the
 * archive (grammar in spool_name.h). Every such name is made here and only
 * here, so a change of the grammar is one change, and a name that breaks it
 * is caught where it is made.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../common/fsutil.h"
#include "../common/pct.h"
#include "../common/utf8.h"
#include "spool_name.h"

#define RESULT_SUFFIX ".result.json"
#define PAGE_SUFFIX ".result.html"
/* what fits beside ARCH.result.json fits beside ARCH.result.html */
_Static_assert(sizeof(PAGE_SUFFIX) == sizeof(RESULT_SUFFIX), "page suffix");
#define JSON_SUFFIX ".json"
#define TRIES_PREFIX "tries-"
#define LOCK_PREFIX "owner-"
#define LOCK_SUFFIX ".lock"

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return true;
}

bool spool_token_valid(const char *s)
{
	return strlen(s) == SPOOL_TOKEN_LEN && is_hex(s, SPOOL_TOKEN_LEN);
}

bool spool_key_of(const char *key, const char *token)
{
	return strncmp(key, token, SPOOL_TOKEN_LEN) == 0;
}

const char *spool_key_seq(const char *key)
{
	return key + SPOOL_TOKEN_LEN + 1;
}

bool spool_seq_valid(const char *s)
{
	return is_hex(s, 8);
}

unsigned spool_seq_next(unsigned seq)
{
	return seq == UINT32_MAX ? 1 : seq + 1;
}

/* The number of 8 hex digits (spool_seq_valid). */
static uint32_t seq_value(const char *s)
{
	uint32_t v = 0;

	for (int i = 0; i < 8; i++) {
		char c = s[i];
		v = v << 4 | (uint32_t)(c <= '9' ? c - '0' : c - 'a' + 10);
	}
	return v;
}

uint32_t spool_seq_distance(const char *a, const char *b)
{
	return seq_value(b) - seq_value(a); /* modulo 2^32 */
}

bool spool_seq_before(const char *a, const char *b)
{
	uint32_t ahead = spool_seq_distance(a, b);

	return ahead != 0 && ahead < UINT32_C(0x80000000);
}

bool spool_key_valid(const char *s)
{
	return strlen(s) == SPOOL_KEY_LEN && is_hex(s, SPOOL_TOKEN_LEN) &&
	       s[SPOOL_TOKEN_LEN] == '.' && is_hex(s + SPOOL_TOKEN_LEN + 1, 8);
}

/* The result of snprintf into a SPOOL_NAME_SIZE buffer: 0, or -1 with
 * ENAMETOOLONG when it was cut. */
static int fits(int len, size_t size)
{
	assert(len >= 0);
	if ((size_t)len >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

void spool_name_token(uint64_t r, char *token)
{
	snprintf(token, SPOOL_TOKEN_LEN + 1, "%016llx", (unsigned long long)r);
}

void spool_name_key(const char *token, unsigned seq, char *key)
{
	assert(spool_token_valid(token));
	snprintf(key, SPOOL_KEY_LEN + 1, "%s.%08x", token, seq);
}

/* The length of s cut to at most max bytes, not inside a UTF-8 sequence. */
static size_t cut_len(const char *s, size_t max)
{
	return utf8_cut(s, strlen(s), max);
}

/* name shortened to at most max bytes into out (SPOOL_NAME_SIZE bytes),
 * keeping its ".json" (then tail is put before it) or never making one. */
static void shorten(const char *name, const char *tail, size_t max, char *out)
{
	size_t len = strlen(name), tl = strlen(tail);
	bool json = ends_with(name, JSON_SUFFIX);
	size_t stem = json ? len - strlen(JSON_SUFFIX) : len;
	size_t room = max - tl - (json ? strlen(JSON_SUFFIX) : 0);
	char buf[SPOOL_NAME_SIZE];
	size_t n;
	int w;

	assert(max < SPOOL_NAME_SIZE && max > tl + strlen(JSON_SUFFIX));
	snprintf(buf, sizeof(buf), "%.*s", (int)stem, name);
	n = cut_len(buf, room);
	buf[n] = '\0';
	if (!json) {
		/* a cut that happens to end in ".json" would change the
		 * verdict: one more character off */
		if (n < stem && ends_with(buf, JSON_SUFFIX)) {
			n = cut_len(buf, n - 1);
			buf[n] = '\0';
		}
		w = snprintf(out, SPOOL_NAME_SIZE, "%s%s", buf, tail);
		assert(w > 0 && w < SPOOL_NAME_SIZE); /* room was counted */
		return;
	}
	w = snprintf(out, SPOOL_NAME_SIZE, "%s%s" JSON_SUFFIX, buf, tail);
	assert(w > 0 && w < SPOOL_NAME_SIZE);
	(void)w;
}

void spool_name_keep(const char *name, char *out)
{
	if (strlen(name) <= SPOOL_NAME_KEEP)
		snprintf(out, SPOOL_NAME_SIZE, "%s", name);
	else
		shorten(name, "", SPOOL_NAME_KEEP, out);
}

int spool_name_claim(const char *key, const char *name, char *out)
{
	char kept[SPOOL_NAME_SIZE];

	assert(spool_key_valid(key));
	spool_name_keep(name, kept);
	return fits(snprintf(out, SPOOL_NAME_SIZE, "c%s.%s", key, kept),
		    SPOOL_NAME_SIZE);
}

void spool_name_kept(const char *claim, char *out)
{
	assert(claim[0] == 'c');
	snprintf(out, SPOOL_NAME_SIZE, "k%s", claim + 1);
}

void spool_name_result_work(const char *key, char *out)
{
	assert(spool_key_valid(key));
	snprintf(out, SPOOL_NAME_SIZE, "r%s", key);
}

void spool_name_page_work(const char *key, char *out)
{
	assert(spool_key_valid(key));
	snprintf(out, SPOOL_NAME_SIZE, "p%s", key);
}

int spool_name_parse_work(const char *name, struct spool_work_name *wn)
{
	const char *key = name + 1, *rest;
	size_t len = strlen(name);

	if ((name[0] != 'c' && name[0] != 'k' && name[0] != 'r' &&
	     name[0] != 'p') ||
	    len < 1 + SPOOL_KEY_LEN || !is_hex(key, SPOOL_TOKEN_LEN) ||
	    key[SPOOL_TOKEN_LEN] != '.' ||
	    !is_hex(key + SPOOL_TOKEN_LEN + 1, 8))
		return -1;
	rest = name + 1 + SPOOL_KEY_LEN;
	wn->kind = name[0];
	wn->d = 0;
	if (wn->kind == 'r' && rest[0] != '\0') {
		/* the legacy "rKEY.D.ARCH" */
		if (!(rest[0] == '.' && (rest[1] == 'a' || rest[1] == 'r') &&
		      rest[2] == '.' && rest[3] != '\0'))
			return -1;
		wn->d = rest[1];
		rest += 3;
	} else if (wn->kind == 'p') {
		if (rest[0] != '\0')
			return -1;
	} else if (wn->kind != 'r') {
		if (rest[0] != '.' || rest[1] == '\0')
			return -1;
		rest++;
	}
	memcpy(wn->key, key, SPOOL_KEY_LEN);
	wn->key[SPOOL_KEY_LEN] = '\0';
	memcpy(wn->token, key, SPOOL_TOKEN_LEN);
	wn->token[SPOOL_TOKEN_LEN] = '\0';
	wn->rest = rest;
	return 0;
}

void spool_name_archive(const char *name, unsigned n, char *out)
{
	char tail[16] = "";
	size_t max = NAME_MAX - strlen(RESULT_SUFFIX);
	int len;

	if (n > 0)
		snprintf(tail, sizeof(tail), ".%u", n);
	if (ends_with(name, JSON_SUFFIX))
		len = snprintf(out, SPOOL_NAME_SIZE, "%.*s%s" JSON_SUFFIX,
			       (int)(strlen(name) - strlen(JSON_SUFFIX)), name,
			       tail);
	else
		len = snprintf(out, SPOOL_NAME_SIZE, "%s%s", name, tail);
	if (len < 0 || (size_t)len > max)
		shorten(name, tail, max, out);
}

int spool_name_result(const char *arch, char *out)
{
	return fits(snprintf(out, SPOOL_NAME_SIZE, "%s%s", arch, RESULT_SUFFIX),
		    SPOOL_NAME_SIZE);
}

int spool_name_page(const char *arch, char *out)
{
	return fits(snprintf(out, SPOOL_NAME_SIZE, "%s%s", arch, PAGE_SUFFIX),
		    SPOOL_NAME_SIZE);
}

bool spool_name_is_derived(const char *name)
{
	return ends_with(name, RESULT_SUFFIX) || ends_with(name, PAGE_SUFFIX);
}

void spool_name_index_tmp(const char *token, char *out)
{
	assert(spool_token_valid(token));
	snprintf(out, SPOOL_LOCK_SIZE, "." SPOOL_INDEX_NAME "-%s", token);
}

void spool_name_pages_index_tmp(const char *token, char *out)
{
	assert(spool_token_valid(token));
	snprintf(out, SPOOL_LOCK_SIZE, SPOOL_PAGES_INDEX_NAME ".tmp-%s", token);
}

const char *spool_name_dir(char d)
{
	assert(d == 'a' || d == 'r');
	return d == 'a' ? SPOOL_DIR_ACCEPTED : SPOOL_DIR_REJECTED;
}

int spool_name_archived_as(char d, const char *arch, char *out)
{
	return fits(
	    snprintf(out, SPOOL_PATH_SIZE, "%s/%s", spool_name_dir(d), arch),
	    SPOOL_PATH_SIZE);
}

int spool_name_parse_archived_as(const char *s, char *d, char *arch)
{
	const char *slash = strchr(s, '/');
	size_t dl, al;

	if (slash == NULL)
		return -1;
	dl = (size_t)(slash - s);
	al = strlen(slash + 1);
	if (dl == strlen(SPOOL_DIR_ACCEPTED) &&
	    strncmp(s, SPOOL_DIR_ACCEPTED, dl) == 0)
		*d = 'a';
	else if (dl == strlen(SPOOL_DIR_REJECTED) &&
		 strncmp(s, SPOOL_DIR_REJECTED, dl) == 0)
		*d = 'r';
	else
		return -1;
	if (al == 0 || al > NAME_MAX - strlen(RESULT_SUFFIX) ||
	    strchr(slash + 1, '/') != NULL || strcmp(slash + 1, ".") == 0 ||
	    strcmp(slash + 1, "..") == 0)
		return -1;
	memcpy(arch, slash + 1, al + 1);
	return 0;
}

bool spool_name_bytes(const char *path, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s = (const unsigned char *)path;
	size_t n = strlen(path), o = 0, ok;

	if (utf8_valid_prefix(s, n) == n)
		return false;
	while (n > 0) {
		ok = utf8_valid_prefix(s, n);
		for (size_t i = 0; i < ok; i++) {
			if (s[i] == '%') {
				memcpy(out + o, "%25", 3);
				o += 3;
			} else
				out[o++] = (char)s[i];
		}
		s += ok;
		n -= ok;
		if (n > 0) { /* a byte that starts no UTF-8 character */
			out[o++] = '%';
			out[o++] = hex[*s >> 4];
			out[o++] = hex[*s & 15];
			s++;
			n--;
		}
	}
	out[o] = '\0';
	return true;
}

int spool_name_parse_bytes(const char *s, char *out, size_t size)
{
	return pct_decode(s, strlen(s), out, size) < 0 ? -1 : 0;
}

void spool_name_tries(const char *key, char *out)
{
	assert(spool_key_valid(key));
	snprintf(out, SPOOL_LOCK_SIZE, TRIES_PREFIX "%s", key);
}

int spool_name_parse_tries(const char *name, char *key)
{
	size_t pre = strlen(TRIES_PREFIX);

	if (strncmp(name, TRIES_PREFIX, pre) != 0 ||
	    !spool_key_valid(name + pre))
		return -1;
	memcpy(key, name + pre, SPOOL_KEY_LEN + 1);
	return 0;
}

void spool_name_copy(char *dst, const char *src)
{
	size_t n = strlen(src);

	assert(n < SPOOL_NAME_SIZE);
	memcpy(dst, src, n + 1);
}

void spool_name_owner_lock(const char *token, char *out)
{
	assert(spool_token_valid(token));
	snprintf(out, SPOOL_LOCK_SIZE, LOCK_PREFIX "%s" LOCK_SUFFIX, token);
}

void spool_name_owner_tmp(const char *token, char *out)
{
	assert(spool_token_valid(token));
	snprintf(out, SPOOL_LOCK_SIZE, "tmp-%s", token);
}

int spool_name_parse_owner_lock(const char *name, char *token)
{
	size_t pre = strlen(LOCK_PREFIX);

	if (strncmp(name, LOCK_PREFIX, pre) != 0 ||
	    strlen(name) != pre + SPOOL_TOKEN_LEN + strlen(LOCK_SUFFIX) ||
	    !ends_with(name, LOCK_SUFFIX) ||
	    !is_hex(name + pre, SPOOL_TOKEN_LEN))
		return -1;
	memcpy(token, name + pre, SPOOL_TOKEN_LEN);
	token[SPOOL_TOKEN_LEN] = '\0';
	return 0;
}
