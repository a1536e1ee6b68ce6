/*
 * outbox_sched.c - the outbox's schedule, so that a backlog of any size
 * costs the same per delivery: an index by id (strmap), a binary heap of
 * the deliveries waiting for their due time, and per webhook a line of the
 * deliveries that are due while their endpoint has no room (started, in
 * order, as its transfers end). Each step is O(1) or O(log n).
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "outbox_int.h"

/* ---- lines --------------------------------------------------------- */

static void line_append(struct delivery **head, struct delivery **tail,
			struct delivery *d)
{
	d->line = NULL;
	if (*tail)
		(*tail)->line = d;
	else
		*head = d;
	*tail = d;
}

/* Remove d from a line (O(length): only when a delivery leaves a line by
 * forgetting it, which a line's deliveries do not do in the normal run). */
static void line_remove(struct delivery **head, struct delivery **tail,
			struct delivery *d)
{
	struct delivery *p, *prev = NULL;

	for (p = *head; p && p != d; p = p->line)
		prev = p;
	if (!p)
		return;
	if (prev)
		prev->line = d->line;
	else
		*head = d->line;
	if (*tail == d)
		*tail = prev;
	d->line = NULL;
}

/* ---- the heap ------------------------------------------------------ */

static int before(const struct delivery *a, const struct delivery *b)
{
	if (a->due_ms != b->due_ms)
		return a->due_ms < b->due_ms;
	return strcmp(a->id, b->id) < 0;
}

static void heap_set(struct outbox *ob, size_t i, struct delivery *d)
{
	ob->heap[i] = d;
	d->heap_pos = i;
}

static void sift_up(struct outbox *ob, size_t i)
{
	struct delivery *d = ob->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!before(d, ob->heap[parent]))
			break;
		heap_set(ob, i, ob->heap[parent]);
		i = parent;
	}
	heap_set(ob, i, d);
}

static void sift_down(struct outbox *ob, size_t i)
{
	struct delivery *d = ob->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= ob->nheap)
			break;
		if (c + 1 < ob->nheap && before(ob->heap[c + 1], ob->heap[c]))
			c++;
		if (!before(ob->heap[c], d))
			break;
		heap_set(ob, i, ob->heap[c]);
		i = c;
	}
	heap_set(ob, i, d);
}

static void heap_remove(struct outbox *ob, struct delivery *d)
{
	size_t i = d->heap_pos;
	struct delivery *last;

	assert(i < ob->nheap && ob->heap[i] == d);
	last = ob->heap[--ob->nheap];
	if (last != d) {
		heap_set(ob, i, last);
		sift_down(ob, i);
		sift_up(ob, last->heap_pos);
	}
	d->heap_pos = SIZE_MAX;
	d->where = D_IDLE;
}

int sched_push(struct outbox *ob, struct delivery *d)
{
	if (ob->nheap == ob->heapcap) {
		size_t n = ob->heapcap ? ob->heapcap * 2 : 64;
		struct delivery **p = realloc(ob->heap, n * sizeof(*p));

		if (!p) {
			d->where = D_IDLE;
			return -1;
		}
		ob->heap = p;
		ob->heapcap = n;
	}
	d->where = D_HEAP;
	heap_set(ob, ob->nheap++, d);
	sift_up(ob, ob->nheap - 1);
	return 0;
}

struct delivery *sched_top(const struct outbox *ob)
{
	return ob->nheap ? ob->heap[0] : NULL;
}

struct delivery *sched_pop(struct outbox *ob)
{
	struct delivery *d = sched_top(ob);

	if (d)
		heap_remove(ob, d);
	return d;
}

/* ---- waiting lines ------------------------------------------------- */

void sched_park(struct outbox *ob, struct delivery *d, int idx)
{
	assert(idx >= 0 && (size_t)idx < ob->cfg->nhooks);
	d->where = D_PARKED;
	line_append(&ob->parked[idx].head, &ob->parked[idx].tail, d);
}

struct delivery *sched_unpark(struct outbox *ob, int idx)
{
	struct dline *l = &ob->parked[idx];
	struct delivery *d = l->head;

	if (!d)
		return NULL;
	l->head = d->line;
	if (!l->head)
		l->tail = NULL;
	d->line = NULL;
	d->where = D_IDLE;
	return d;
}

void sched_synced(struct outbox *ob)
{
	struct delivery *d = ob->unsynced, *next;

	ob->unsynced = ob->unsynced_tail = NULL;
	for (; d; d = next) {
		next = d->line;
		d->line = NULL;
		sched_push(ob, d);
	}
}

/* ---- the index and the list ---------------------------------------- */

int outbox_add(struct outbox *ob, struct delivery *d)
{
	enum delivery_where w = d->where;

	if (strmap_put(&ob->byid, d->id, d, NULL) == -1)
		return -1;
	d->next = NULL;
	d->prev = ob->tail;
	if (ob->tail)
		ob->tail->next = d;
	else
		ob->head = d;
	ob->tail = d;
	ob->count++;
	if (w == D_UNSYNCED)
		line_append(&ob->unsynced, &ob->unsynced_tail, d);
	else if (w == D_HEAP)
		sched_push(ob, d);
	return 0;
}

struct delivery *outbox_get(const struct outbox *ob, const char *id)
{
	return strmap_get(&ob->byid, id);
}

/* Take d off whatever line it is on. */
static void unline(struct outbox *ob, struct delivery *d)
{
	size_t i;

	switch (d->where) {
	case D_HEAP:
		heap_remove(ob, d);
		break;
	case D_UNSYNCED:
		line_remove(&ob->unsynced, &ob->unsynced_tail, d);
		break;
	case D_PARKED:
		for (i = 0; i < ob->cfg->nhooks; i++)
			line_remove(&ob->parked[i].head, &ob->parked[i].tail,
				    d);
		break;
	case D_INFLIGHT:
	case D_IDLE:
		break;
	}
	d->where = D_IDLE;
}

void outbox_forget(struct outbox *ob, struct delivery *d)
{
	unline(ob, d);
	strmap_del(&ob->byid, d->id);
	if (d->prev)
		d->prev->next = d->next;
	else
		ob->head = d->next;
	if (d->next)
		d->next->prev = d->prev;
	else
		ob->tail = d->prev;
	ob->count--;
	outbox_release(d);
	delivery_free(d);
}

int sched_rebuild(struct outbox *ob)
{
	size_t n = ob->cfg->nhooks + 1;
	int *counts = calloc(n, sizeof(int));
	struct dline *parked = calloc(n, sizeof(*parked));
	struct delivery *d;
	int ret = 0;

	if (!counts || !parked) {
		free(counts);
		free(parked);
		return -1;
	}
	free(ob->inflight);
	free(ob->parked);
	ob->inflight = counts;
	ob->parked = parked;
	ob->nheap = 0;
	for (d = ob->head; d; d = d->next) {
		int idx = outbox_find_hook(ob, d->hook);

		if (idx >= 0)
			d->warned = 0;
		if (d->where == D_INFLIGHT) {
			if (idx >= 0)
				ob->inflight[idx]++;
			continue;
		}
		if (d->where == D_UNSYNCED)
			continue;
		d->line = NULL;
		if (sched_push(ob, d) == -1)
			ret = -1;
	}
	return ret;
}

void sched_free(struct outbox *ob)
{
	free(ob->heap);
	free(ob->parked);
	free(ob->inflight);
	ob->heap = NULL;
	ob->parked = NULL;
	ob->inflight = NULL;
	ob->nheap = ob->heapcap = 0;
	strmap_free(&ob->byid, NULL);
}
