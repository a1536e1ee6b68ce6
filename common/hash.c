/*
 * hash.c - SipHash under a per-process random key (hash.h).
 *
 * SipHash (Aumasson and Bernstein, 2012) is a pseudo-random function of a
 * 128-bit key: without the key, finding inputs that collide in a table is
 * as hard as guessing it. Written from the paper's description (with
 * Redis's src/siphash.c as a model): the state is four 64-bit words set
 * from the key and constants; each 8-byte little-endian word of the input
 * is xored in around c SIPROUNDs; the last word holds the remaining bytes
 * and the length mod 256 in its top byte; then d rounds after xoring 0xff
 * into v2, and the hash is v0 ^ v1 ^ v2 ^ v3.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "hash.h"

static uint64_t key0, key1;
static bool keyed;

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND                                                               \
	do {                                                                   \
		v0 += v1;                                                      \
		v1 = ROTL(v1, 13);                                             \
		v1 ^= v0;                                                      \
		v0 = ROTL(v0, 32);                                             \
		v2 += v3;                                                      \
		v3 = ROTL(v3, 16);                                             \
		v3 ^= v2;                                                      \
		v0 += v3;                                                      \
		v3 = ROTL(v3, 21);                                             \
		v3 ^= v0;                                                      \
		v2 += v1;                                                      \
		v1 = ROTL(v1, 17);                                             \
		v1 ^= v2;                                                      \
		v2 = ROTL(v2, 32);                                             \
	} while (0)

static uint64_t load_le64(const unsigned char *p)
{
	uint64_t m = 0;

	for (int i = 7; i >= 0; i--)
		m = m << 8 | p[i];
	return m;
}

uint64_t siphash(const void *in, size_t len, uint64_t k0, uint64_t k1, int c,
		 int d)
{
	const unsigned char *p = in;
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
	uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
	uint64_t v3 = 0x7465646279746573ULL ^ k1;
	uint64_t b = (uint64_t)len << 56;
	size_t whole = len - len % 8;

	for (size_t off = 0; off < whole; off += 8) {
		uint64_t m = load_le64(p + off);
		v3 ^= m;
		for (int i = 0; i < c; i++)
			SIPROUND;
		v0 ^= m;
	}
	for (size_t i = 0; i < len % 8; i++)
		b |= (uint64_t)p[whole + i] << (8 * i);
	v3 ^= b;
	for (int i = 0; i < c; i++)
		SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	for (int i = 0; i < d; i++)
		SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* Fill buf with random bytes: getrandom(2), else /dev/urandom. 0 or -1. */
static int random_bytes(unsigned char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = getrandom(buf + got, n - got, 0);
		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r == -1 && errno == EINTR)
			continue;
		break;
	}
	if (got == n)
		return 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	got = 0;
	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r > 0)
			got += (size_t)r;
		else if (!(r == -1 && errno == EINTR))
			break;
	}
	close(fd);
	if (got < n) {
		errno = EIO;
		return -1;
	}
	return 0;
}

int hash_init(void)
{
	unsigned char k[16];

	if (random_bytes(k, sizeof(k)) == -1)
		return -1;
	hash_set_key(load_le64(k), load_le64(k + 8));
	return 0;
}

void hash_set_key(uint64_t k0, uint64_t k1)
{
	key0 = k0;
	key1 = k1;
	keyed = true;
}

/* The key, drawn now if no one did (never a fixed one). */
static void need_key(void)
{
	if (!keyed && hash_init() == -1)
		abort();
}

uint64_t hash_bytes(const void *data, size_t len)
{
	need_key();
	return siphash(data, len, key0, key1, 1, 3);
}

uint64_t hash_str(const char *s)
{
	return hash_bytes(s, strlen(s));
}

uint64_t hash_mix(uint64_t h, uint64_t v)
{
	unsigned char b[16];

	for (int i = 0; i < 8; i++) {
		b[i] = (unsigned char)(h >> (8 * i));
		b[8 + i] = (unsigned char)(v >> (8 * i));
	}
	return hash_bytes(b, sizeof(b));
}
