/*
 * io.h - whole reads and writes on file descriptors, retried on EINTR and
 * short counts, so no caller loops over read(2) or write(2) itself.
 * Each returns 0 or -1 with errno set.
 */
#ifndef EXPENSED_IO_H
#define EXPENSED_IO_H

#include <stddef.h>

/* Write all len bytes of data to fd. */
int write_all(int fd, const void *data, size_t len);

/*
 * Read fd to its end, but never more than max + 1 bytes, so that a caller
 * sees an oversize input (*len > max) without reading all of it. *buf and
 * *cap are a buffer the caller may reuse across calls (NULL and 0 to start;
 * free *buf when done): it is grown as needed, from hint bytes (the size
 * fstat gave, or 0), and the content is followed by a NUL. A hint other
 * than 0 says fd is a regular file, which reads short only at its end: a
 * short read ends the reading (one read(2) for a file whose size did not
 * change).
 */
int read_fd(int fd, size_t max, size_t hint, char **buf, size_t *cap,
	    size_t *len);

/*
 * Read the regular file dirfd/name whole (O_NOFOLLOW: a symlink is ELOOP;
 * anything but a regular file is EINVAL; more than max bytes is EFBIG)
 * into a new NUL-terminated buffer *buf of *len bytes.
 */
int read_file_at(int dirfd, const char *name, size_t max, char **buf,
		 size_t *len);

#endif
