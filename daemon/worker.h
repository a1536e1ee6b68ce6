/*
 * worker.h - one helper thread that runs the batch's computing (judging a
 * report, building its result document, rendering its page) while the
 * daemon's own thread does the batch's file system work, so that a burst
 * uses both of a machine's CPUs. Jobs run one at a time, in the order
 * given; the daemon's thread submits a job, does other work, then waits
 * for it. A job touches only what its submitter gave it (and read-only
 * shared state: the rule set, the configuration, the catalogs): it never
 * logs, never changes state shared with the daemon's thread, and writes
 * no file (the daemon's thread makes every file of work/: two threads
 * creating files in one directory take its lock in turn).
 */
#ifndef EXPENSED_WORKER_H
#define EXPENSED_WORKER_H

/* A job: fn(job) runs on the worker (or at once when there is none). Embed
 * it in the job's own data; done and next are the worker's. */
struct job {
	void (*fn)(struct job *job);
	int done;
	struct job *next;
};

struct worker;

/* The worker thread, started with every signal blocked (signals go to the
 * daemon's thread), or NULL with errno when it cannot be (no memory, no
 * thread allowed): jobs then run in the caller, at submit time. */
struct worker *worker_start(void);

/* Run job on w (job->fn set): returns at once; with w NULL, runs it now. */
void worker_submit(struct worker *w, struct job *job);

/* Whether job, submitted, has run (at once: no waiting). A thread that
 * would wait for one job of a run submitted in turn does better to wait
 * for a later one: it then sleeps once for several (jobs run in order). */
int worker_done(const struct job *job);

/* Wait until job, submitted to w, has run. One thread at a time waits
 * for a given worker's jobs (the daemon's thread). */
void worker_wait(struct worker *w, struct job *job);

/* glibc's trim and mmap thresholds, fixed by the daemon (run.c) rather
 * than sliding: worker_trim() relies on both. */
#define WORKER_HEAP_THRESHOLD (128 * 1024)

/* Give back the free heap at the top of the worker's own malloc arena
 * (after malloc_trim(), which does not: worker.c), waiting for it: for an
 * idle daemon, once the jobs before have run (NULL: nothing). */
void worker_trim(struct worker *w);

/* Wait for every job submitted, end the thread, free w (NULL: nothing). */
void worker_stop(struct worker *w);

#endif
