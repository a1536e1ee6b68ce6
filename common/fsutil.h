/*
 * fsutil.h - small file-system helpers on directory fds, so that spool,
 * outbox and recovery code works relative to an open directory and never
 * rebuilds paths.
 */
#ifndef EXPENSED_FSUTIL_H
#define EXPENSED_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Whether s ends with suffix. */
bool ends_with(const char *s, const char *suffix);

/* Whether a and b are the same file: the same inode of the same device. */
bool same_inode(const struct stat *a, const struct stat *b);

/* Create dirfd/name (mode, if missing) and open it as a directory
 * (O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC). The fd, or -1 with errno. */
int mkdir_open(int dirfd, const char *name, mode_t mode);

/*
 * The names in the directory dirfd that do not start with '.', sorted
 * (strcmp), as a malloc'ed array of malloc'ed strings (free it with
 * names_free). 0, or -1 with errno (nothing to free).
 */
int list_dir(int dirfd, char ***names, size_t *n);

void names_free(char **names, size_t n);

/*
 * Replace dirfd/name with len bytes of data, never seen half-written:
 * write them to dirfd/tmp (created or truncated, O_NOFOLLOW), give it mode
 * and, unless gid is (gid_t)-1, group gid (when allowed: on EPERM it keeps
 * the caller's group), then rename it over name. No
 * fsync: durable with the file system's next commit. 0, or -1 with errno
 * (tmp removed).
 */
int replace_file(int dirfd, const char *tmp, const char *name, const void *data,
		 size_t len, mode_t mode, gid_t gid);

#endif
