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
#include "spool_name.h"

#define RESULT_SUFFIX ".result.json"
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

void spool_name_keep(const char *name, char *out)
{
	size_t n = strlen(name);

	if (n > SPOOL_NAME_KEEP) {
		n = SPOOL_NAME_KEEP;
		while (n > 0 && ((unsigned char)name[n] & 0xc0) == 0x80)
			n--;
	}
	snprintf(out, SPOOL_NAME_SIZE, "%.*s", (int)n, name);
}

int spool_name_claim(const char *key, const char *name, char *out)
{
	assert(spool_key_valid(key));
	return fits(snprintf(out, SPOOL_NAME_SIZE, "c%s.%s", key, name),
		    SPOOL_NAME_SIZE);
}

int spool_name_result_work(const char *key, char d, const char *arch, char *out)
{
	assert(spool_key_valid(key));
	assert(d == 'a' || d == 'r');
	return fits(snprintf(out, SPOOL_NAME_SIZE, "r%s.%c.%s", key, d, arch),
		    SPOOL_NAME_SIZE);
}

int spool_name_parse_work(const char *name, struct spool_work_name *wn)
{
	const char *key = name + 1, *rest = name + 2 + SPOOL_KEY_LEN;

	if ((name[0] != 'c' && name[0] != 'r') ||
	    strlen(name) < 1 + SPOOL_KEY_LEN + 2 ||
	    !is_hex(key, SPOOL_TOKEN_LEN) || key[SPOOL_TOKEN_LEN] != '.' ||
	    !is_hex(key + SPOOL_TOKEN_LEN + 1, 8) || key[SPOOL_KEY_LEN] != '.')
		return -1;
	wn->kind = name[0];
	wn->d = 0;
	if (wn->kind == 'r') {
		if (!((rest[0] == 'a' || rest[0] == 'r') && rest[1] == '.' &&
		      rest[2] != '\0'))
			return -1;
		wn->d = rest[0];
		rest += 2;
	}
	memcpy(wn->key, key, SPOOL_KEY_LEN);
	wn->key[SPOOL_KEY_LEN] = '\0';
	memcpy(wn->token, key, SPOOL_TOKEN_LEN);
	wn->token[SPOOL_TOKEN_LEN] = '\0';
	wn->rest = rest;
	return 0;
}

int spool_name_archive(const char *name, unsigned n, char *out)
{
	int len;

	if (n == 0)
		len = snprintf(out, SPOOL_NAME_SIZE, "%s", name);
	else if (ends_with(name, ".json"))
		len = snprintf(out, SPOOL_NAME_SIZE, "%.*s.%u.json",
			       (int)(strlen(name) - 5), name, n);
	else
		len = snprintf(out, SPOOL_NAME_SIZE, "%s.%u", name, n);
	return fits(len, SPOOL_NAME_SIZE);
}

int spool_name_result(const char *arch, char *out)
{
	return fits(snprintf(out, SPOOL_NAME_SIZE, "%s%s", arch, RESULT_SUFFIX),
		    SPOOL_NAME_SIZE);
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
