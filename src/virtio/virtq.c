/* Split virtqueues: pop chains from the driver ring, push them to the device ring, decide on interrupts. */
#include "virtio/virtq.h"

#include <stdatomic.h>
#include <string.h>

#define AVAIL_FLAGS 0
#define AVAIL_IDX 1
#define AVAIL_RING 2
#define USED_IDX 1

void bus__mark_dirty(const struct rv_bus *bus, uint64_t gpa, uint64_t len)
{
	bus__code_dma(bus, gpa, len); /* no FENCE.I needed for code a device wrote */
	if (!bus->dirty || !len)
		return;
	uint64_t first = (gpa - bus->ram_base) >> PAGE_SHIFT;
	uint64_t last = (gpa + len - 1 - bus->ram_base) >> PAGE_SHIFT;
	for (uint64_t p = first; p <= last; p++)
		atomic_fetch_or(&bus->dirty[p / 64], 1ull << (p % 64));
}

void virtq__init(struct virtq *vq, const struct rv_bus *bus, uint16_t num_max)
{
	memset(vq, 0, sizeof(*vq));
	vq->bus = bus;
	vq->num_max = num_max > VIRTQ_MAX_SIZE ? VIRTQ_MAX_SIZE : num_max;
	vq->num = vq->num_max;
}

void virtq__reset(struct virtq *vq)
{
	virtq__init(vq, vq->bus, vq->num_max);
}

static void *ring_ptr(const struct virtq *vq, uint64_t gpa, uint64_t len, uint64_t align)
{
	if (gpa & (align - 1))
		return NULL;
	return bus__ram_ptr(vq->bus, gpa, len);
}

int virtq__enable(struct virtq *vq, bool event_idx, bool indirect)
{
	uint64_t n = vq->num;
	if (n == 0 || n > vq->num_max || (n & (n - 1)))
		return -1;
	vq->desc = ring_ptr(vq, vq->desc_gpa, 16 * n, 16);
	vq->avail = ring_ptr(vq, vq->avail_gpa, 6 + 2 * n, 2);
	vq->used = ring_ptr(vq, vq->used_gpa, 6 + 8 * n, 4);
	if (!vq->desc || !vq->avail || !vq->used)
		return -1;
	vq->event_idx = event_idx;
	vq->indirect = indirect;
	vq->last_avail = vq->used_idx = vq->signalled_used = 0;
	vq->signalled_valid = vq->broken = false;
	vq->ready = true;
	return 0;
}

static uint16_t load16(const uint16_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void store16(uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static int broken(struct virtq *vq)
{
	vq->broken = true;
	return -1;
}

/* Append one descriptor's buffer; readable buffers must all come before writable ones. */
static int add_segment(struct virtq *vq, struct virtq_chain *c, const struct virtq_desc *d)
{
	if (d->len == 0)
		return 0;
	uint8_t *p = bus__ram_ptr(vq->bus, d->addr, d->len);
	if (!p)
		return -1;
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;
	if (!writable && c->nin)
		return -1;
	unsigned i = c->nout + c->nin;
	c->iov[i] = (struct iovec){ p, d->len };
	c->gpa[i] = d->addr;
	if (writable) {
		c->nin++;
		c->in_len += d->len;
	} else {
		c->nout++;
		c->out_len += d->len;
	}
	return 0;
}

/* Follow a chain from `head`, through at most one indirect table, visiting at most num descriptors. */
static int walk(struct virtq *vq, uint16_t head, struct virtq_chain *c)
{
	const uint8_t *table = vq->desc;
	uint32_t size = vq->num, idx = head, count = 0;
	bool indirect = false;
	for (;;) {
		struct virtq_desc d;
		if (idx >= size || ++count > vq->num)
			return -1;
		memcpy(&d, table + 16 * (size_t)idx, sizeof(d)); /* read once: the guest may be changing it */
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (!vq->indirect || indirect || (d.flags & VIRTQ_DESC_F_NEXT) || count != 1)
				return -1;
			if (d.len == 0 || d.len % 16 || d.len / 16 > vq->num)
				return -1;
			table = bus__ram_ptr(vq->bus, d.addr, d.len);
			if (!table)
				return -1;
			size = d.len / 16;
			idx = 0;
			count = 0;
			indirect = true;
			continue;
		}
		if (add_segment(vq, c, &d) < 0)
			return -1;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		idx = d.next;
	}
}

/* With EVENT_IDX: ask for a notification when the next buffer arrives, then look again. */
static bool still_empty(struct virtq *vq)
{
	if (!vq->event_idx)
		return true;
	store16(&vq->used[2 + 4 * vq->num], vq->last_avail);
	bus__mark_dirty(vq->bus, vq->used_gpa + 4 + 8ull * vq->num, 2);
	atomic_thread_fence(memory_order_seq_cst);
	return load16(&vq->avail[AVAIL_IDX]) == vq->last_avail;
}

int virtq__pop(struct virtq *vq, struct virtq_chain *c)
{
	if (!vq->ready || vq->broken)
		return 0;
	uint16_t avail = load16(&vq->avail[AVAIL_IDX]);
	if (avail == vq->last_avail && still_empty(vq))
		return 0;
	avail = load16(&vq->avail[AVAIL_IDX]);
	if ((uint16_t)(avail - vq->last_avail) > vq->num)
		return broken(vq);
	uint16_t head = load16(&vq->avail[AVAIL_RING + vq->last_avail % vq->num]);
	c->head = head;
	c->nout = c->nin = 0;
	c->out_len = c->in_len = 0;
	if (walk(vq, head, c) < 0)
		return broken(vq);
	vq->last_avail++;
	return 1;
}

void virtq__unpop(struct virtq *vq)
{
	vq->last_avail--;
}

void virtq__push(struct virtq *vq, const struct virtq_chain *c, uint32_t written)
{
	if (!vq->ready || vq->broken)
		return;
	uint64_t left = written;
	const struct iovec *in = c->iov + c->nout;
	for (unsigned i = 0; i < c->nin && left; i++) {
		uint64_t n = in[i].iov_len < left ? in[i].iov_len : left;
		bus__mark_dirty(vq->bus, c->gpa[c->nout + i], n);
		left -= n;
	}
	uint16_t slot = vq->used_idx % vq->num;
	uint32_t elem[2] = { c->head, written };
	memcpy(&vq->used[2 + 4 * slot], elem, sizeof(elem));
	bus__mark_dirty(vq->bus, vq->used_gpa + 4 + 8ull * slot, 8);
	store16(&vq->used[USED_IDX], ++vq->used_idx);
	bus__mark_dirty(vq->bus, vq->used_gpa, 4);
}

void virtq__mark_written(struct virtq *vq, const struct virtq_chain *c, uint32_t written)
{
	uint64_t left = written;
	const struct iovec *in = c->iov + c->nout;
	for (unsigned i = 0; i < c->nin && left; i++) {
		uint64_t n = in[i].iov_len < left ? in[i].iov_len : left;
		bus__mark_dirty(vq->bus, c->gpa[c->nout + i], n);
		left -= n;
	}
}

void virtq__push_many(struct virtq *vq, const uint16_t *heads, const uint32_t *lens, unsigned n)
{
	if (!vq->ready || vq->broken)
		return;
	for (unsigned i = 0; i < n; i++) {
		uint16_t slot = (uint16_t)(vq->used_idx + i) % vq->num;
		uint32_t elem[2] = { heads[i], lens[i] };
		memcpy(&vq->used[2 + 4 * slot], elem, sizeof(elem));
		bus__mark_dirty(vq->bus, vq->used_gpa + 4 + 8ull * slot, 8);
	}
	vq->used_idx = (uint16_t)(vq->used_idx + n);
	store16(&vq->used[USED_IDX], vq->used_idx); /* one index update: the driver sees all of them or none */
	bus__mark_dirty(vq->bus, vq->used_gpa, 4);
}

bool virtq__should_signal(struct virtq *vq)
{
	if (!vq->ready || vq->broken)
		return false;
	atomic_thread_fence(memory_order_seq_cst);
	uint16_t old = vq->signalled_used, now = vq->used_idx;
	bool valid = vq->signalled_valid;
	vq->signalled_used = now;
	vq->signalled_valid = true;
	if (!vq->event_idx)
		return !(load16(&vq->avail[AVAIL_FLAGS]) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	uint16_t event = load16(&vq->avail[AVAIL_RING + vq->num]);
	return !valid || (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

bool virtq__has_avail(const struct virtq *vq)
{
	return vq->ready && !vq->broken && load16(&vq->avail[AVAIL_IDX]) != vq->last_avail;
}

size_t iov__read(const struct iovec *iov, unsigned n, size_t off, void *dst, size_t len)
{
	size_t done = 0;
	for (unsigned i = 0; i < n && done < len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		size_t k = iov[i].iov_len - off;
		if (k > len - done)
			k = len - done;
		memcpy((uint8_t *)dst + done, (const uint8_t *)iov[i].iov_base + off, k);
		done += k;
		off = 0;
	}
	return done;
}

size_t iov__write(const struct iovec *iov, unsigned n, size_t off, const void *src, size_t len)
{
	size_t done = 0;
	for (unsigned i = 0; i < n && done < len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		size_t k = iov[i].iov_len - off;
		if (k > len - done)
			k = len - done;
		memcpy((uint8_t *)iov[i].iov_base + off, (const uint8_t *)src + done, k);
		done += k;
		off = 0;
	}
	return done;
}

unsigned iov__slice(const struct iovec *iov, unsigned n, size_t off, size_t len, struct iovec *out, unsigned max)
{
	unsigned k = 0;
	for (unsigned i = 0; i < n && len && k < max; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		size_t take = iov[i].iov_len - off;
		if (take > len)
			take = len;
		out[k++] = (struct iovec){ (uint8_t *)iov[i].iov_base + off, take };
		len -= take;
		off = 0;
	}
	return k;
}
