/*
 * Fuzz target: the split virtqueue parser (src/virtio/virtq.c) on guest-controlled rings: queue size and
 * ring addresses as a driver would program them, arbitrary descriptor tables (chains, loops, indirect
 * tables, zero-length and out-of-RAM buffers), avail indices that jump, and a guest that keeps rewriting
 * the rings between device operations (pop, unpop, push, should_signal, iov copies).
 *
 * Input: queue set-up (num, three ring offsets, EVENT_IDX / INDIRECT), pieces of the RAM image (4 pages,
 * allocated at exactly that size, zero elsewhere), then operations until the input ends.
 * Checked: every popped segment lies inside guest RAM and matches its guest address, the chain has at most
 * VIRTQ_MAX_SIZE segments with readable ones first and lengths that add up, and a broken queue stays quiet.
 */
#include <stdatomic.h>

#include "fuzz.h"

#include "virtio/virtq.h"

#define RAM_BASE 0x80000000ull
#define RAM_PAGES 4
#define RAM_SIZE (RAM_PAGES * PAGE_SIZE)
#define MAX_OPS 128

static struct rv_bus bus;
static _Atomic uint64_t dirty[1];
static struct virtq_chain chain;
static uint8_t scratch[2 * RAM_SIZE];

static void check_chain(const struct virtq_chain *c)
{
	FUZZ_CHECK(c->nout + c->nin <= VIRTQ_MAX_SIZE);
	uint64_t out = 0, in = 0;
	for (unsigned i = 0; i < c->nout + c->nin; i++) {
		const uint8_t *p = c->iov[i].iov_base;
		size_t len = c->iov[i].iov_len;
		FUZZ_CHECK(len > 0);
		FUZZ_CHECK(p >= bus.ram && p <= bus.ram + RAM_SIZE && len <= (size_t)(bus.ram + RAM_SIZE - p));
		FUZZ_CHECK(c->gpa[i] == RAM_BASE + (uint64_t)(p - bus.ram));
		if (i < c->nout)
			out += len;
		else
			in += len;
	}
	FUZZ_CHECK(out == c->out_len && in == c->in_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint8_t *ram = malloc(RAM_SIZE);
	if (!ram)
		return 0;
	bus = (struct rv_bus){ .ram = ram, .ram_base = RAM_BASE, .ram_size = RAM_SIZE, .watch_page = ~0ull,
			       .dirty = dirty };
	atomic_store(&dirty[0], 0);

	struct virtq vq;
	uint8_t hdr = fz__u8(&f);
	virtq__init(&vq, &bus, (hdr & 0x80) ? fz__u16(&f) : 256);
	vq.num = fz__u16(&f);
	if (hdr & 0x40)
		vq.num = (uint16_t)(1u << (vq.num % 10)); /* mostly a legal power of two */
	/* Ring addresses: in-RAM offsets, or raw (the driver may program anything). */
	uint64_t *gpas[3] = { &vq.desc_gpa, &vq.avail_gpa, &vq.used_gpa };
	for (unsigned i = 0; i < 3; i++)
		*gpas[i] = (hdr & (8 << i)) ? fz__u64(&f) : RAM_BASE + (fz__u16(&f) % RAM_SIZE);
	/* RAM: zero but for up to 255 pieces of 0..16 bytes (descriptors, ring entries) from the input. */
	memset(ram, 0, RAM_SIZE);
	unsigned pieces = fz__u8(&f);
	for (unsigned i = 0; i < pieces; i++) {
		unsigned off = fz__u16(&f) % (RAM_SIZE - 16);
		fz__copy(&f, ram + off, fz__u8(&f) % 17);
	}
	if (virtq__enable(&vq, hdr & 1, hdr & 2) < 0) {
		free(ram);
		return 0;
	}
	FUZZ_CHECK(vq.ready && vq.num > 0 && vq.num <= VIRTQ_MAX_SIZE);

	bool popped = false;
	for (unsigned n = 0; n < MAX_OPS && fz__left(&f); n++) {
		uint8_t op = fz__u8(&f);
		switch (op & 7) {
		case 0:
		case 1: { /* device: pop */
			int r = virtq__pop(&vq, &chain);
			popped = r == 1;
			if (r == 1)
				check_chain(&chain);
			if (r < 0)
				FUZZ_CHECK(vq.broken);
			break;
		}
		case 2: /* device: give the last chain back */
			if (popped)
				virtq__unpop(&vq);
			popped = false;
			break;
		case 3: { /* device: complete the last chain, having read and written some of it */
			if (!popped)
				break;
			size_t off = fz__u16(&f);
			size_t got = iov__read(chain.iov, chain.nout, off, scratch, sizeof(scratch));
			FUZZ_CHECK(got <= sizeof(scratch) && got <= chain.out_len);
			uint32_t written = fz__u32(&f);
			if (written > chain.in_len)
				written = (uint32_t)chain.in_len;
			if (written > sizeof(scratch))
				written = sizeof(scratch);
			size_t put = iov__write(virtq_chain__in(&chain), chain.nin, 0, scratch, written);
			FUZZ_CHECK(put == written);
			struct iovec part[8];
			unsigned k = iov__slice(virtq_chain__in(&chain), chain.nin, off, fz__u16(&f), part, 8);
			FUZZ_CHECK(k <= 8);
			virtq__push(&vq, &chain, written);
			popped = false;
			break;
		}
		case 4: /* device: interrupt? */
			virtq__should_signal(&vq);
			break;
		case 5: { /* guest: rewrite 2..8 bytes anywhere in RAM (rings, descriptors, flags) */
			uint16_t off = fz__u16(&f) % (RAM_SIZE - 8);
			fz__copy(&f, ram + off, 2u << ((op >> 3) & 2));
			break;
		}
		case 6: { /* guest: publish more buffers (avail idx += k) */
			uint16_t idx;
			memcpy(&idx, (uint8_t *)vq.avail + 2, 2);
			idx = (uint16_t)(idx + (op >> 3));
			memcpy((uint8_t *)vq.avail + 2, &idx, 2);
			break;
		}
		case 7: /* driver: reset the queue and set it up again */
			if (op & 0x80) {
				virtq__reset(&vq);
				FUZZ_CHECK(!vq.ready);
				vq.num = (uint16_t)(1u << ((op >> 3) % 9));
				vq.desc_gpa = RAM_BASE + (fz__u16(&f) % RAM_SIZE);
				vq.avail_gpa = RAM_BASE + (fz__u16(&f) % RAM_SIZE);
				vq.used_gpa = RAM_BASE + (fz__u16(&f) % RAM_SIZE);
				if (virtq__enable(&vq, op & 1, op & 2) < 0)
					n = MAX_OPS;
				popped = false;
			}
			break;
		}
		if (vq.broken) {
			FUZZ_CHECK(virtq__pop(&vq, &chain) == 0);
			popped = false;
		}
	}
	free(ram);
	return 0;
}
