/*
 * test_worker.c - unit tests of the batch's worker thread (daemon/worker.h):
 * jobs run one at a time in the order submitted, on another thread with
 * every signal blocked; without a worker they run in the caller at submit
 * time; stopping runs what was queued first; a wait for a job wakes when
 * that job is done, whatever runs before or after it; worker_trim() gives
 * back the free top of the worker's own malloc arena.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <malloc.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../daemon/worker.h"

#define NJOBS 200

struct item {
	struct job job; /* first, as in spool_int.h */
	int *log;	/* the order jobs ran in */
	int *next;	/* the next free slot of log */
	int n;
	pthread_t ran_on;
	int term_blocked;
};

static void run_item(struct job *job)
{
	struct item *it = (struct item *)job;
	sigset_t set;

	it->log[(*it->next)++] = it->n;
	it->ran_on = pthread_self();
	pthread_sigmask(SIG_BLOCK, NULL, &set);
	it->term_blocked = sigismember(&set, SIGTERM);
}

static struct item items[NJOBS];
static int order[NJOBS]; /* the n of each job, in the order they ran */
static int next;

/* Fresh jobs, and a worker to run them when with_worker. */
static struct worker *start(int with_worker)
{
	struct worker *w = with_worker ? worker_start() : NULL;

	if (with_worker)
		assert_non_null(w);
	next = 0;
	for (int i = 0; i < NJOBS; i++) {
		items[i].job.fn = run_item;
		items[i].log = order;
		items[i].next = &next;
		items[i].n = i;
	}
	return w;
}

static void test_jobs_run_in_order_on_another_thread(void **state)
{
	struct worker *w = start(1);

	(void)state;
	for (int i = 0; i < NJOBS; i++)
		worker_submit(w, &items[i].job);
	/* the last job done means every job before it is done */
	worker_wait(w, &items[NJOBS - 1].job);
	for (int i = 0; i < NJOBS; i++) {
		assert_int_equal(items[i].job.done, 1);
		assert_int_equal(order[i], i);
		assert_false(pthread_equal(items[i].ran_on, pthread_self()));
		assert_int_equal(items[i].term_blocked, 1);
	}
	assert_int_equal(next, NJOBS);
	worker_stop(w);
}

static void test_two_in_flight_as_the_batch_uses_them(void **state)
{
	struct worker *w = start(1);

	(void)state;
	/* spool_batch.c's pipeline: k+1 submitted before k is waited for */
	worker_submit(w, &items[0].job);
	for (int k = 0; k < NJOBS; k++) {
		if (k + 1 < NJOBS)
			worker_submit(w, &items[k + 1].job);
		worker_wait(w, &items[k].job);
		assert_int_equal(items[k].job.done, 1);
		assert_int_equal(order[k], k);
	}
	worker_stop(w);
	assert_int_equal(next, NJOBS);
}

static void test_stop_runs_what_was_queued(void **state)
{
	struct worker *w = start(1);

	(void)state;
	for (int i = 0; i < NJOBS; i++)
		worker_submit(w, &items[i].job);
	worker_stop(w);
	assert_int_equal(next, NJOBS);
	for (int i = 0; i < NJOBS; i++)
		assert_int_equal(order[i], i);
}

/* A job that holds the worker until the test thread's helper lets it go. */
struct gate {
	struct job job;
	sem_t open;
};

static void run_gate(struct job *job)
{
	struct gate *g = (struct gate *)job;

	while (sem_wait(&g->open) == -1)
		;
}

static void *open_gate(void *arg)
{
	sem_post(&((struct gate *)arg)->open);
	return NULL;
}

static void test_wait_for_a_later_job(void **state)
{
	struct worker *w = start(1);
	struct gate g = {.job.fn = run_gate};
	pthread_t helper;

	(void)state;
	alarm(10); /* a wakeup lost hangs: fail instead */
	assert_int_equal(sem_init(&g.open, 0, 0), 0);
	worker_submit(w, &g.job);
	for (int i = 0; i < 10; i++)
		worker_submit(w, &items[i].job);
	/* nothing ran past the gate yet */
	assert_false(worker_done(&g.job));
	assert_false(worker_done(&items[0].job));
	assert_int_equal(pthread_create(&helper, NULL, open_gate, &g), 0);
	/* woken when job 5 is done, not before, not only at the end */
	worker_wait(w, &items[5].job);
	for (int i = 0; i <= 5; i++)
		assert_true(worker_done(&items[i].job));
	assert_true(worker_done(&g.job));
	worker_wait(w, &items[9].job);
	/* a job done already: at once */
	worker_wait(w, &items[2].job);
	assert_int_equal(next, 10);
	pthread_join(helper, NULL);
	worker_stop(w);
	sem_destroy(&g.open);
	alarm(0);
}

static void test_no_worker_runs_inline(void **state)
{
	(void)state;
	start(0);
	worker_submit(NULL, &items[0].job);
	/* already done, in this thread, before any wait */
	assert_int_equal(items[0].job.done, 1);
	assert_int_equal(next, 1);
	assert_true(pthread_equal(items[0].ran_on, pthread_self()));
	worker_wait(NULL, &items[0].job);
	worker_stop(NULL);
}

#define NCHUNKS 200
#define CHUNK (10 * 1024) /* a page's size: no tcache, no fastbin */

static void *chunks[NCHUNKS];

/* On the worker: NCHUNKS chunks from its arena's top (2 MB). */
static void take_chunks(struct job *job)
{
	(void)job;
	for (int i = 0; i < NCHUNKS; i++)
		chunks[i] = malloc(CHUNK);
}

/* On the worker: each freed back into the top, the last first. */
static void give_chunks(struct job *job)
{
	(void)job;
	for (int i = NCHUNKS; i-- > 0;)
		free(chunks[i]);
}

static void run_on(struct worker *w, void (*fn)(struct job *))
{
	struct job job = {.fn = fn};

	worker_submit(w, &job);
	worker_wait(w, &job);
}

/* The case of the daemon after a burst (worker.c): the worker's arena
 * holding a large free top that malloc_trim() leaves. Here glibc's own
 * trim on free is kept off while the chunks are freed (a huge threshold),
 * then set back to the daemon's. */
static void test_trim_gives_back_the_top_of_the_arena(void **state)
{
	struct worker *w = worker_start();
	size_t held, after;

	(void)state;
	assert_non_null(w);
	mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
	mallopt(M_MMAP_THRESHOLD, WORKER_HEAP_THRESHOLD);
	run_on(w, take_chunks);
	for (int i = 0; i < NCHUNKS; i++)
		assert_non_null(chunks[i]);
	run_on(w, give_chunks);
	malloc_trim(0);
	/* the heap of every arena, the worker's 2 MB still in it; another
	 * allocator (a sanitizer's, valgrind's) says nothing */
	held = mallinfo2().arena;
	if (held < (size_t)NCHUNKS * CHUNK) {
		worker_stop(w);
		skip();
	}
	mallopt(M_TRIM_THRESHOLD, WORKER_HEAP_THRESHOLD);
	worker_trim(w);
	after = mallinfo2().arena;
	assert_true(after + (size_t)NCHUNKS * CHUNK * 3 / 4 <= held);
	worker_trim(NULL); /* nothing */
	worker_stop(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_jobs_run_in_order_on_another_thread),
	    cmocka_unit_test(test_two_in_flight_as_the_batch_uses_them),
	    cmocka_unit_test(test_stop_runs_what_was_queued),
	    cmocka_unit_test(test_wait_for_a_later_job),
	    cmocka_unit_test(test_no_worker_runs_inline),
	    cmocka_unit_test(test_trim_gives_back_the_top_of_the_arena),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
