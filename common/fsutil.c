/*
 * fsutil.c - directory and file helpers of fsutil.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "io.h"

bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

bool same_inode(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

int mkdir_open(int dirfd, const char *name, mode_t mode)
{
	if (mkdirat(dirfd, name, mode) == -1 && errno != EEXIST)
		return -1;
	return openat(dirfd, name,
		      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int list_dir(int dirfd, char ***names, size_t *n)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char **v = NULL;
	size_t len = 0, cap = 0;
	struct dirent *de;
	DIR *dir;
	int saved;

	if (fd == -1)
		return -1;
	dir = fdopendir(fd);
	if (dir == NULL) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	for (;;) {
		errno = 0;
		de = readdir(dir);
		if (de == NULL) {
			if (errno != 0)
				goto fail;
			break;
		}
		if (de->d_name[0] == '.')
			continue;
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			char **p = realloc(v, ncap * sizeof(*p));
			if (p == NULL)
				goto fail;
			v = p;
			cap = ncap;
		}
		v[len] = strdup(de->d_name);
		if (v[len] == NULL)
			goto fail;
		len++;
	}
	closedir(dir);
	if (len > 1)
		qsort(v, len, sizeof(*v), by_name);
	*names = v;
	*n = len;
	return 0;
fail:
	saved = errno;
	names_free(v, len);
	closedir(dir);
	errno = saved;
	return -1;
}

void names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int replace_file(int dirfd, const char *tmp, const char *name, const void *data,
		 size_t len, mode_t mode, gid_t gid)
{
	int fd, rc = -1, saved;

	fd =
	    openat(dirfd, tmp,
		   O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd == -1)
		return -1;
	if (fchmod(fd, mode) == 0 &&
	    (gid == (gid_t)-1 || fchown(fd, (uid_t)-1, gid) == 0 ||
	     errno == EPERM) &&
	    write_all(fd, data, len) == 0)
		rc = 0;
	if (close(fd) == -1)
		rc = -1;
	if (rc == 0 && renameat(dirfd, tmp, dirfd, name) == 0)
		return 0;
	saved = errno;
	unlinkat(dirfd, tmp, 0);
	errno = saved;
	return -1;
}
