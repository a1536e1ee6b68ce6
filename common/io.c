/*
 * io.c - whole reads and writes (io.h): the one place that loops on
 * read(2) and write(2).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int read_fd(int fd, size_t max, size_t hint, char **buf, size_t *cap,
	    size_t *len)
{
	size_t limit = max + 1; /* one byte more tells "too big" */
	size_t want = (hint < max ? hint : max) + 1, done = 0;

	for (;;) {
		ssize_t n;

		if (done == want) {
			if (done >= limit)
				break;
			want = want > limit / 2 ? limit : want * 2;
		}
		if (*cap < want + 1) {
			char *b = realloc(*buf, want + 1);
			if (b == NULL)
				return -1;
			*buf = b;
			*cap = want + 1;
		}
		n = read(fd, *buf + done, want - done);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			break;
		done += (size_t)n;
		/* a regular file (hint: its size) reads short only at its
		 * end: no second read to learn it */
		if (hint > 0 && done < want)
			break;
	}
	if (*buf == NULL) {
		*buf = malloc(1);
		if (*buf == NULL)
			return -1;
		*cap = 1;
	}
	(*buf)[done] = '\0';
	*len = done;
	return 0;
}

int read_file_at(int dirfd, const char *name, size_t max, char **buf,
		 size_t *len)
{
	/* O_NONBLOCK: a FIFO's open would wait for a writer, before fstat
	 * could tell that it is no regular file (regular files ignore it) */
	int fd =
	    openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	char *b = NULL;
	size_t cap = 0, n;
	struct stat st;
	int saved;

	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	if (read_fd(fd, max, (size_t)st.st_size, &b, &cap, &n) == -1)
		goto fail;
	if (n > max) {
		errno = EFBIG;
		goto fail;
	}
	close(fd);
	*buf = b;
	*len = n;
	return 0;
fail:
	saved = errno;
	free(b);
	close(fd);
	errno = saved;
	return -1;
}
