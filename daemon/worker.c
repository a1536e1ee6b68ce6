/*
 * worker.c - the batch's helper thread (worker.h): a FIFO of jobs under one
 * mutex, a condition for "a job is queued" and one for "the job awaited is
 * done" (one thread waits: the daemon's).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "worker.h"

struct worker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t queued; /* head set, or stop */
	pthread_cond_t done;   /* awaited's done set */
	struct job *head, *tail;
	struct job *awaited; /* the job worker_wait() waits for, or NULL */
	int stop;
};

static void *run(void *arg)
{
	struct worker *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct job *job;

		while (w->head == NULL && !w->stop)
			pthread_cond_wait(&w->queued, &w->lock);
		if (w->head == NULL)
			break;
		job = w->head;
		w->head = job->next;
		if (w->head == NULL)
			w->tail = NULL;
		pthread_mutex_unlock(&w->lock);
		job->fn(job);
		pthread_mutex_lock(&w->lock);
		__atomic_store_n(&job->done, 1, __ATOMIC_RELEASE);
		/* woken for its own job only, not at each (a wakeup per job
		 * cost both threads some 8 % of their CPU in a burst) */
		if (job == w->awaited)
			pthread_cond_signal(&w->done);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

struct worker *worker_start(void)
{
	struct worker *w = calloc(1, sizeof(*w));
	sigset_t all, old;
	int rc;

	if (w == NULL)
		return NULL;
	/* these say why with their return value, not errno */
	if ((rc = pthread_mutex_init(&w->lock, NULL)) != 0)
		goto nolock;
	if ((rc = pthread_cond_init(&w->queued, NULL)) != 0)
		goto noqueued;
	if ((rc = pthread_cond_init(&w->done, NULL)) != 0)
		goto nodone;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&w->thread, NULL, run, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc == 0)
		return w;
	pthread_cond_destroy(&w->done);
nodone:
	pthread_cond_destroy(&w->queued);
noqueued:
	pthread_mutex_destroy(&w->lock);
nolock:
	free(w);
	errno = rc;
	return NULL;
}

void worker_submit(struct worker *w, struct job *job)
{
	job->done = 0;
	job->next = NULL;
	if (w == NULL) {
		job->fn(job);
		job->done = 1;
		return;
	}
	pthread_mutex_lock(&w->lock);
	if (w->tail != NULL)
		w->tail->next = job;
	else
		w->head = job;
	w->tail = job;
	pthread_cond_signal(&w->queued);
	pthread_mutex_unlock(&w->lock);
}

int worker_done(const struct job *job)
{
	return __atomic_load_n(&job->done, __ATOMIC_ACQUIRE);
}

void worker_wait(struct worker *w, struct job *job)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->awaited = job;
	while (!job->done)
		pthread_cond_wait(&w->done, &w->lock);
	w->awaited = NULL;
	pthread_mutex_unlock(&w->lock);
}

/* What worker_trim() takes and frees: 64 kB or more (glibc's
 * FASTBIN_CONSOLIDATION_THRESHOLD), under the mmap threshold. */
#define TRIM_CHUNK (WORKER_HEAP_THRESHOLD * 3 / 4)

/*
 * The job of worker_trim(), on the worker's thread, so in its own arena.
 * glibc's malloc_trim() gives back the free pages inside every arena and
 * the top of the main one, but not the free space at the top of a thread's
 * arena (it even first merges the small free chunks, which can join a
 * large free run to that top). glibc gives that top back only when a chunk
 * of 64 kB or more is freed into it and it is over the trim threshold.
 * After some bursts the worker's arena kept 2.7 MB so (RSS once idle 17.6
 * to 18.3 MB instead of 15.6: bench/README.md, "Reading a whole batch
 * while the one before syncs"). A chunk of that size taken from the top
 * and freed back into it is such a free.
 */
static void trim(struct job *job)
{
	void *volatile p = malloc(TRIM_CHUNK); /* volatile: not elided */

	(void)job;
	free(p);
}

void worker_trim(struct worker *w)
{
	struct job job = {.fn = trim};

	if (w == NULL)
		return;
	worker_submit(w, &job);
	worker_wait(w, &job);
}

void worker_stop(struct worker *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	pthread_cond_signal(&w->queued);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->done);
	pthread_cond_destroy(&w->queued);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
