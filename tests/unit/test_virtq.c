/* Split virtqueue: chains, indirect tables, EVENT_IDX, and hostile descriptors that must break the queue. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "virtio_fake.h"

struct fix {
	struct fake_guest *g;
	struct virtq vq;
	struct virtq_chain c;
};

static int enable(struct fix *f, bool event_idx, bool indirect)
{
	virtq__init(&f->vq, &f->g->bus, VIRTQ_MAX_SIZE);
	f->vq.num = f->g->num;
	f->vq.desc_gpa = G_DESC(0);
	f->vq.avail_gpa = G_AVAIL(0);
	f->vq.used_gpa = G_USED(0);
	return virtq__enable(&f->vq, event_idx, indirect);
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	f->g = fake_guest__new();
	if (enable(f, false, true) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	fake_guest__free(f->g);
	free(f);
	return 0;
}

static void test_empty(void **state)
{
	struct fix *f = *state;
	assert_int_equal(virtq__pop(&f->vq, &f->c), 0);
}

static void test_chain_and_push(void **state)
{
	struct fix *f = *state;
	put_desc(f->g, G_DESC(0), 0, G_BUF, 16, VIRTQ_DESC_F_NEXT, 3);
	put_desc(f->g, G_DESC(0), 3, G_BUF + 0x1000, 100, VIRTQ_DESC_F_NEXT, 5);
	put_desc(f->g, G_DESC(0), 5, G_BUF + 0x3000, 1, VIRTQ_DESC_F_WRITE, 0);
	offer(f->g, 0, 0);
	assert_int_equal(virtq__pop(&f->vq, &f->c), 1);
	assert_int_equal(f->c.head, 0);
	assert_int_equal(f->c.nout, 2);
	assert_int_equal(f->c.nin, 1);
	assert_int_equal(f->c.out_len, 116);
	assert_int_equal(f->c.in_len, 1);
	assert_ptr_equal(f->c.iov[1].iov_base, gptr(f->g, G_BUF + 0x1000));
	assert_false(page_dirty(f->g, G_BUF + 0x3000));
	virtq__push(&f->vq, &f->c, 1);
	uint32_t id, len;
	assert_int_equal(used_idx(f->g, 0), 1);
	used_elem(f->g, 0, 0, &id, &len);
	assert_int_equal(id, 0);
	assert_int_equal(len, 1);
	assert_true(page_dirty(f->g, G_BUF + 0x3000));
	assert_true(page_dirty(f->g, G_USED(0)));
	assert_false(page_dirty(f->g, G_BUF + 0x1000)); /* only read */
	assert_int_equal(virtq__pop(&f->vq, &f->c), 0);
}

static void test_zero_length_skipped(void **state)
{
	struct fix *f = *state;
	put_desc(f->g, G_DESC(0), 0, 0xdead0000, 0, VIRTQ_DESC_F_NEXT, 1); /* nowhere, but empty */
	put_desc(f->g, G_DESC(0), 1, G_BUF, 8, 0, 0);
	offer(f->g, 0, 0);
	assert_int_equal(virtq__pop(&f->vq, &f->c), 1);
	assert_int_equal(f->c.nout, 1);
	assert_int_equal(f->c.out_len, 8);
}

/* Offer `head` and expect the queue to break, and stay broken. */
static void expect_broken(struct fix *f, uint16_t head)
{
	offer(f->g, 0, head);
	assert_int_equal(virtq__pop(&f->vq, &f->c), -1);
	assert_true(f->vq.broken);
	put_desc(f->g, G_DESC(0), 7, G_BUF, 8, 0, 0);
	offer(f->g, 0, 7);
	assert_int_equal(virtq__pop(&f->vq, &f->c), 0);
	virtq__push(&f->vq, &f->c, 0); /* ignored */
	assert_int_equal(used_idx(f->g, 0), 0);
}

static void test_head_out_of_range(void **state)
{
	expect_broken(*state, 8);
}

static void test_next_out_of_range(void **state)
{
	struct fix *f = *state;
	put_desc(f->g, G_DESC(0), 0, G_BUF, 8, VIRTQ_DESC_F_NEXT, 200);
	expect_broken(f, 0);
}

static void test_loop(void **state)
{
	struct fix *f = *state;
	put_desc(f->g, G_DESC(0), 0, G_BUF, 8, VIRTQ_DESC_F_NEXT, 1);
	put_desc(f->g, G_DESC(0), 1, G_BUF, 8, VIRTQ_DESC_F_NEXT, 0);
	expect_broken(f, 0);
}

static void test_self_loop(void **state)
{
	struct fix *f = *state;
	put_desc(f->g, G_DESC(0), 2, G_BUF, 8, VIRTQ_DESC_F_NEXT, 2);
	expect_broken(f, 2);
}

static void test_outside_ram(void **state)
{
	struct fix *f = *state;
	put_desc(f->g, G_DESC(0), 0, 0x1000, 8, 0, 0); /* below RAM */
	expect_broken(f, 0);
}

static void test_crosses_ram_end(void **state)
{
	struct fix *f = *state;
	put_desc(f->g, G_DESC(0), 0, G_BASE + G_SIZE - 4, 8, 0, 0);
	expect_broken(f, 0);
}

static void test_huge_length(void **state)
{
	struct fix *f = *state;
	put_desc(f->g, G_DESC(0), 0, G_BUF, 0xffffffff, VIRTQ_DESC_F_WRITE, 0);
	expect_broken(f, 0);
}

static void test_address_wraps(void **state)
{
	struct fix *f = *state;
	put_desc(f->g, G_DESC(0), 0, ~0ull - 3, 16, 0, 0);
	expect_broken(f, 0);
}

static void test_readable_after_writable(void **state)
{
	struct fix *f = *state;
	put_desc(f->g, G_DESC(0), 0, G_BUF, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	put_desc(f->g, G_DESC(0), 1, G_BUF, 8, 0, 0);
	expect_broken(f, 0);
}

static void test_avail_idx_jump(void **state)
{
	struct fix *f = *state;
	avail_ring(f->g, 0)[1] = 100; /* 100 new buffers in a ring of 8 */
	assert_int_equal(virtq__pop(&f->vq, &f->c), -1);
	assert_true(f->vq.broken);
}

#define G_IND (G_BUF + 0x10000)

static void test_indirect(void **state)
{
	struct fix *f = *state;
	put_desc(f->g, G_IND, 0, G_BUF, 16, VIRTQ_DESC_F_NEXT, 2);
	put_desc(f->g, G_IND, 2, G_BUF + 0x100, 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	put_desc(f->g, G_IND, 1, G_BUF + 0x400, 1, VIRTQ_DESC_F_WRITE, 0);
	put_desc(f->g, G_DESC(0), 4, G_IND, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f->g, 0, 4);
	assert_int_equal(virtq__pop(&f->vq, &f->c), 1);
	assert_int_equal(f->c.head, 4);
	assert_int_equal(f->c.nout, 1);
	assert_int_equal(f->c.nin, 2);
	assert_int_equal(f->c.in_len, 513);
}

static void test_indirect_not_negotiated(void **state)
{
	struct fix *f = *state;
	assert_int_equal(enable(f, false, false), 0);
	put_desc(f->g, G_IND, 0, G_BUF, 16, 0, 0);
	put_desc(f->g, G_DESC(0), 0, G_IND, 16, VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(f, 0);
}

static void test_indirect_nested(void **state)
{
	struct fix *f = *state;
	put_desc(f->g, G_IND, 0, G_IND, 16, VIRTQ_DESC_F_INDIRECT, 0);
	put_desc(f->g, G_DESC(0), 0, G_IND, 16, VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(f, 0);
}

static void test_indirect_bad_length(void **state)
{
	struct fix *f = *state;
	put_desc(f->g, G_DESC(0), 0, G_IND, 24, VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(f, 0);
}

static void test_indirect_with_next(void **state)
{
	struct fix *f = *state;
	put_desc(f->g, G_IND, 0, G_BUF, 16, 0, 0);
	put_desc(f->g, G_DESC(0), 0, G_IND, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	expect_broken(f, 0);
}

static void test_indirect_outside_ram(void **state)
{
	struct fix *f = *state;
	put_desc(f->g, G_DESC(0), 0, G_BASE + G_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(f, 0);
}

static void test_indirect_loop(void **state)
{
	struct fix *f = *state;
	put_desc(f->g, G_IND, 0, G_BUF, 16, VIRTQ_DESC_F_NEXT, 1);
	put_desc(f->g, G_IND, 1, G_BUF, 16, VIRTQ_DESC_F_NEXT, 0);
	put_desc(f->g, G_DESC(0), 0, G_IND, 32, VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(f, 0);
}

static void test_indirect_longer_than_queue(void **state)
{
	struct fix *f = *state;
	for (unsigned i = 0; i < 9; i++)
		put_desc(f->g, G_IND, i, G_BUF, 16, i < 8 ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	put_desc(f->g, G_DESC(0), 0, G_IND, 9 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(f, 0);
}

static void test_enable_checks(void **state)
{
	struct fix *f = *state;
	f->g->num = 6; /* not a power of two */
	assert_int_equal(enable(f, false, false), -1);
	f->g->num = 8;
	virtq__init(&f->vq, &f->g->bus, 8);
	f->vq.desc_gpa = G_DESC(0) + 8; /* misaligned */
	f->vq.avail_gpa = G_AVAIL(0);
	f->vq.used_gpa = G_USED(0);
	assert_int_equal(virtq__enable(&f->vq, false, false), -1);
	f->vq.desc_gpa = G_DESC(0);
	f->vq.used_gpa = G_BASE + G_SIZE - 8; /* runs off the end of RAM */
	assert_int_equal(virtq__enable(&f->vq, false, false), -1);
	f->vq.used_gpa = G_USED(0);
	f->vq.num = 16; /* above the maximum */
	f->vq.num_max = 8;
	assert_int_equal(virtq__enable(&f->vq, false, false), -1);
	f->vq.num = 8;
	assert_int_equal(virtq__enable(&f->vq, false, false), 0);
}

static void push_one(struct fix *f, uint16_t head)
{
	put_desc(f->g, G_DESC(0), head, G_BUF, 8, VIRTQ_DESC_F_WRITE, 0);
	offer(f->g, 0, head);
	assert_int_equal(virtq__pop(&f->vq, &f->c), 1);
	virtq__push(&f->vq, &f->c, 8);
}

static void test_no_interrupt_flag(void **state)
{
	struct fix *f = *state;
	push_one(f, 0);
	assert_true(virtq__should_signal(&f->vq));
	avail_ring(f->g, 0)[0] = VIRTQ_AVAIL_F_NO_INTERRUPT;
	push_one(f, 1);
	assert_false(virtq__should_signal(&f->vq));
}

static void test_event_idx(void **state)
{
	struct fix *f = *state;
	assert_int_equal(enable(f, true, false), 0);
	uint16_t *used_event = &avail_ring(f->g, 0)[2 + f->g->num];
	uint16_t *avail_event = (uint16_t *)((uint8_t *)gptr(f->g, G_USED(0)) + 4 + 8 * f->g->num);
	*used_event = 0;
	push_one(f, 0);
	assert_true(virtq__should_signal(&f->vq)); /* first time */
	*used_event = 2;                           /* "interrupt me when used idx passes 2" */
	push_one(f, 1);
	assert_false(virtq__should_signal(&f->vq));
	push_one(f, 2);
	push_one(f, 3);
	assert_true(virtq__should_signal(&f->vq));
	/* An empty pop tells the driver where to notify next. */
	assert_int_equal(virtq__pop(&f->vq, &f->c), 0);
	assert_int_equal(*avail_event, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_empty),
		T(test_chain_and_push),
		T(test_zero_length_skipped),
		T(test_head_out_of_range),
		T(test_next_out_of_range),
		T(test_loop),
		T(test_self_loop),
		T(test_outside_ram),
		T(test_crosses_ram_end),
		T(test_huge_length),
		T(test_address_wraps),
		T(test_readable_after_writable),
		T(test_avail_idx_jump),
		T(test_indirect),
		T(test_indirect_not_negotiated),
		T(test_indirect_nested),
		T(test_indirect_bad_length),
		T(test_indirect_with_next),
		T(test_indirect_outside_ram),
		T(test_indirect_loop),
		T(test_indirect_longer_than_queue),
		T(test_enable_checks),
		T(test_no_interrupt_flag),
		T(test_event_idx),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
