/* SPDX-License-Identifier: Apache-2.0 */
#include "virtio/virtqueue.h"
#include "core/ember.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Ring fields live in memory the guest writes concurrently. */
#define LOAD(p)       __atomic_load_n((p), __ATOMIC_RELAXED)
#define LOAD_ACQ(p)   __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v)   __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define STORE_REL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define FULL_FENCE()  __atomic_thread_fence(__ATOMIC_SEQ_CST)

/* avail: flags, idx, ring[size], used_event; used: flags, idx, elems[size], avail_event */
#define AVAIL_IDX(q)        (&(q)->avail[1])
#define AVAIL_RING(q, i)    (&(q)->avail[2 + (i)])
#define USED_EVENT(q)       (&(q)->avail[2 + (q)->size])
#define USED_IDX(q)         (&(q)->used[1])
#define USED_ELEMS(q)       ((struct vring_used_elem *)((q)->used + 2))
#define AVAIL_EVENT(q)      ((uint16_t *)(USED_ELEMS(q) + (q)->size))

static int stop_queue(struct virtq *q, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int stop_queue(struct virtq *q, const char *fmt, ...)
{
	char why[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	q->broken = true;
	guest_warn("%s: %s; the queue is stopped until the device is reset",
	     q->name ? q->name : "virtqueue", why);
	return -1;
}

void virtq_reset(struct virtq *q)
{
	const char *name = q->name;

	memset(q, 0, sizeof(*q));
	q->name = name;
}

int virtq_activate(struct virtq *q, const struct guest_mem *gm)
{
	uint64_t n = q->size;

	q->broken = false;
	q->last_avail = q->used_idx = 0;
	q->signalled_valid = false;
	if (n == 0 || n > VIRTQ_MAX_SIZE || (n & (n - 1)))
		return stop_queue(q, "queue size %llu is not a power of 2 up to %d",
			          (unsigned long long)n, VIRTQ_MAX_SIZE);
	if (q->desc_gpa % 16 || q->avail_gpa % 2 || q->used_gpa % 4)
		return stop_queue(q, "misaligned ring address");
	q->desc = gm_ptr(gm, q->desc_gpa, 16 * n);
	q->avail = gm_ptr(gm, q->avail_gpa, 6 + 2 * n);
	q->used = gm_ptr(gm, q->used_gpa, 6 + 8 * n);
	if (!q->desc || !q->avail || !q->used)
		return stop_queue(q, "ring outside guest memory");
	return 0;
}

bool virtq_has_avail(struct virtq *q)
{
	return q->ready && !q->broken && LOAD_ACQ(AVAIL_IDX(q)) != q->last_avail;
}

int virtq_pop(struct virtq *q, const struct guest_mem *gm, struct virtq_chain *c)
{
	const struct vring_desc *table;
	uint32_t tsize, visited = 0;
	uint16_t avail_idx, head, i;
	bool indirect = false;

	if (!q->ready)
		return 0;
	if (q->broken)
		return -1;
	avail_idx = LOAD_ACQ(AVAIL_IDX(q));
	if (avail_idx == q->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - q->last_avail) > q->size)
		return stop_queue(q, "available index moved by %u, more than the queue size %u",
			          (uint16_t)(avail_idx - q->last_avail), q->size);
	head = LOAD(AVAIL_RING(q, q->last_avail & (q->size - 1)));
	if (head >= q->size)
		return stop_queue(q, "available head %u outside the queue (size %u)", head, q->size);

	c->head = head;
	c->nread = c->nwrite = 0;
	c->read_len = c->write_len = 0;
	table = q->desc;
	tsize = q->size;
	i = head;
	for (;;) {
		struct vring_desc d;
		struct virtq_buf *b;

		/* Read once: later guest writes cannot change what was checked. */
		d.addr = LOAD(&table[i].addr);
		d.len = LOAD(&table[i].len);
		d.flags = LOAD(&table[i].flags);
		d.next = LOAD(&table[i].next);
		if (++visited > tsize)
			return stop_queue(q, "descriptor chain loops or is longer than its table");
		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (indirect)
				return stop_queue(q, "indirect table inside an indirect table");
			if (d.flags & VRING_DESC_F_NEXT)
				return stop_queue(q, "indirect descriptor with the NEXT flag");
			if (d.len == 0 || d.len % sizeof(d) || d.len / sizeof(d) > VIRTQ_MAX_CHAIN)
				return stop_queue(q, "indirect table of %u bytes", d.len);
			if (d.addr % 16)
				return stop_queue(q, "misaligned indirect table at 0x%llx",
					          (unsigned long long)d.addr);
			table = gm_ptr(gm, d.addr, d.len);
			if (!table)
				return stop_queue(q, "indirect table at 0x%llx (+%u) outside guest memory",
					          (unsigned long long)d.addr, d.len);
			tsize = d.len / sizeof(d);
			indirect = true;
			visited = 0;
			i = 0;
			continue;
		}
		if (c->nread + c->nwrite == VIRTQ_MAX_CHAIN)
			return stop_queue(q, "chain longer than %d buffers", VIRTQ_MAX_CHAIN);
		b = &c->buf[c->nread + c->nwrite];
		b->host = gm_ptr(gm, d.addr, d.len);
		if (!b->host)
			return stop_queue(q, "buffer at 0x%llx (+%u) outside guest memory",
				          (unsigned long long)d.addr, d.len);
		b->len = d.len;
		b->write = d.flags & VRING_DESC_F_WRITE;
		if (b->write) {
			/* The device may write it: a diff snapshot must hold it. */
			gm_mark_dirty(gm, b->host, d.len);
			c->nwrite++;
			c->write_len += d.len;
		} else {
			if (c->nwrite)
				return stop_queue(q, "device-readable buffer after a device-writable one");
			c->nread++;
			c->read_len += d.len;
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		i = d.next;
		if (i >= tsize)
			return stop_queue(q, "next descriptor %u outside its table (%u entries)", i, tsize);
	}
	q->last_avail++;
	return 1;
}

void virtq_push_batch(struct virtq *q, const struct vring_used_elem *e, int n)
{
	if (!q->ready || q->broken || n <= 0)
		return;
	for (int i = 0; i < n; i++) {
		struct vring_used_elem *u = &USED_ELEMS(q)[(uint16_t)(q->used_idx + i) & (q->size - 1)];

		STORE(&u->id, e[i].id);
		STORE(&u->len, e[i].len);
	}
	/* One index update: the driver sees all n or none. */
	q->used_idx += n;
	STORE_REL(USED_IDX(q), q->used_idx);
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t len)
{
	struct vring_used_elem e = { .id = head, .len = len };

	virtq_push_batch(q, &e, 1);
}

bool virtq_needs_interrupt(struct virtq *q)
{
	uint16_t old = q->signalled_used, now = q->used_idx;
	bool valid = q->signalled_valid;

	if (!q->ready || q->broken)
		return false;
	/* Our used->idx store must be visible before we read the driver's wish. */
	FULL_FENCE();
	if (!q->event_idx)
		return !(LOAD(&q->avail[0]) & VRING_AVAIL_F_NO_INTERRUPT);
	q->signalled_used = now;
	q->signalled_valid = true;
	if (!valid)
		return true;
	return (uint16_t)(now - LOAD(USED_EVENT(q)) - 1) < (uint16_t)(now - old);
}

bool virtq_enable_notify(struct virtq *q)
{
	if (!q->ready || q->broken)
		return false;
	if (q->event_idx)
		STORE(AVAIL_EVENT(q), q->last_avail);
	else
		STORE(&q->used[0], 0);
	FULL_FENCE();
	return LOAD_ACQ(AVAIL_IDX(q)) != q->last_avail;
}

static size_t chain_copy(const struct virtq_chain *c, bool write, uint64_t off,
			 void *flat, size_t len)
{
	int first = write ? c->nread : 0, n = write ? c->nwrite : c->nread;
	size_t done = 0;

	for (int k = first; k < first + n && done < len; k++) {
		const struct virtq_buf *b = &c->buf[k];
		size_t take;

		if (off >= b->len) {
			off -= b->len;
			continue;
		}
		take = b->len - off;
		if (take > len - done)
			take = len - done;
		if (write)
			memcpy((uint8_t *)b->host + off, (const uint8_t *)flat + done, take);
		else
			memcpy((uint8_t *)flat + done, (const uint8_t *)b->host + off, take);
		done += take;
		off = 0;
	}
	return done;
}

size_t virtq_chain_read(const struct virtq_chain *c, uint64_t off, void *dst, size_t len)
{
	return chain_copy(c, false, off, dst, len);
}

size_t virtq_chain_write(const struct virtq_chain *c, uint64_t off, const void *src, size_t len)
{
	return chain_copy(c, true, off, (void *)src, len);
}
