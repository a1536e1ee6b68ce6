/*
 * floor.c - the floor that bench_burst.py compares the daemon with: the
 * same per-file work (claim rename, safe open and read, judge, write the
 * result, archive both), with no inotify, no logging and no fsync.
 *
 *   floor SPOOL    judges every file in SPOOL/inbox, prints files/s
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../rules/engine.h"

static int opendir_at(int dirfd, const char *name)
{
	mkdirat(dirfd, name, 0750);
	return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One file through the whole life; 0 or -1. */
static int one(const struct ruleset *rs, int inbox, int work, int acc, int rej,
	       const char *name, char *buf, size_t cap)
{
	struct judge_opts opts = {0, 0, 0};
	struct judgement j;
	char res[512], arch[512];
	struct stat st;
	size_t len = 0;
	char *text;
	json_t *doc;
	int fd, dir;

	if (renameat(inbox, name, work, name) == -1)
		return -1;
	fd = openat(work, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1 || fstat(fd, &st) == -1)
		return -1;
	for (;;) {
		ssize_t n = read(fd, buf + len, cap - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (judge_bytes(rs, &opts, name, buf, len, &j) == -1)
		return -1;
	dir = j.verdict == VERDICT_ACCEPTED ? acc : rej;
	snprintf(arch, sizeof(arch), "%s/%s",
		 j.verdict == VERDICT_ACCEPTED ? "accepted" : "rejected", name);
	doc = judgement_to_json(&j);
	if (doc == NULL)
		return -1;
	json_object_set_new(doc, "archived_as", json_string(arch));
	text = json_dumps(doc, JSON_INDENT(2));
	json_decref(doc);
	snprintf(res, sizeof(res), "%s.result.json", name);
	fd = openat(work, res, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1 || text == NULL || write_all(fd, text, strlen(text)) ||
	    write_all(fd, "\n", 1))
		return -1;
	close(fd);
	free(text);
	judgement_release(&j);
	if (renameat(work, name, dir, name) == -1 ||
	    renameat(work, res, dir, res) == -1)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct ruleset *rs;
	struct diag d = DIAG_INIT;
	struct timespec t0, t1;
	struct dirent *de;
	size_t n = 0, cap = 1 << 20;
	char *buf = malloc(cap);
	int spool, inbox, work, acc, rej;
	DIR *dir;
	double s;

	if (argc != 2 || buf == NULL) {
		fprintf(stderr, "usage: floor SPOOL\n");
		free(buf);
		return 2;
	}
	spool = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (spool == -1 || ruleset_load_builtin(&rs, &d) == -1) {
		fprintf(stderr, "floor: cannot start: %s\n", strerror(errno));
		free(buf);
		return 2;
	}
	inbox = opendir_at(spool, "inbox");
	work = opendir_at(spool, "work");
	acc = opendir_at(spool, "accepted");
	rej = opendir_at(spool, "rejected");
	dir = fdopendir(dup(inbox));
	if (dir == NULL) {
		free(buf);
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (one(rs, inbox, work, acc, rej, de->d_name, buf, cap) ==
		    -1) {
			fprintf(stderr, "floor: %s: %s\n", de->d_name,
				strerror(errno));
			return 1;
		}
		n++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	closedir(dir);
	s = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%zu %.6f\n", n, s);
	ruleset_free(rs);
	free(buf);
	return 0;
}
