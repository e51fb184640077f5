/* The host memory manager's reclaim plan (src/mem/policy.c): idle memory taxed, shares, working sets kept. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mem/policy.h"

#define MIB 1024ull

static const struct mem_policy balloon_only = { MEM_POLICY_TAX_DEFAULT, 0, 0 };

static void test_idle_pays_first(void **state)
{
	(void)state;
	/* Same shares and size; one idle (10% active), one busy (90%). */
	struct mem_vm_state vms[2] = { { 1, 256 * MIB, 26 * MIB, 16 * MIB }, { 1, 256 * MIB, 230 * MIB, 16 * MIB } };
	struct mem_vm_plan p[2];
	uint64_t got = mem_policy__plan(&balloon_only, vms, 2, 128 * MIB, p);
	assert_int_equal(got, 128 * MIB);
	assert_true(p[0].give_kib >= 100 * MIB);
	assert_true(p[0].give_kib > 4 * p[1].give_kib);
	assert_true(vms[1].resident_kib - p[1].give_kib >= vms[1].active_kib); /* the busy one keeps its working set */
	assert_int_equal(p[0].compress_kib + p[1].compress_kib, 0); /* no compressor: all by balloon */
	assert_int_equal(p[0].balloon_kib, p[0].give_kib);
}

static void test_tax_zero_is_shares_only(void **state)
{
	(void)state;
	/* Without the tax, activity does not matter: equal shares give equally. */
	struct mem_policy pol = { 0, 0, 0 };
	struct mem_vm_state vms[2] = { { 1, 256 * MIB, 26 * MIB, 16 * MIB }, { 1, 256 * MIB, 100 * MIB, 16 * MIB } };
	struct mem_vm_plan p[2];
	mem_policy__plan(&pol, vms, 2, 100 * MIB, p);
	assert_true(p[0].give_kib - p[1].give_kib <= MIB && p[1].give_kib - p[0].give_kib <= MIB);
}

static void test_shares(void **state)
{
	(void)state;
	/* Same activity, shares 2:1: the cheaper microVM gives more, and the ratios level out at 2:1 of what they
	 * keep. */
	struct mem_policy pol = { 0, 0, 0 };
	struct mem_vm_state vms[2] = { { 2, 256 * MIB, 16 * MIB, 16 * MIB }, { 1, 256 * MIB, 16 * MIB, 16 * MIB } };
	struct mem_vm_plan p[2];
	mem_policy__plan(&pol, vms, 2, 128 * MIB, p);
	uint64_t keep0 = vms[0].resident_kib - p[0].give_kib, keep1 = vms[1].resident_kib - p[1].give_kib;
	assert_true(p[1].give_kib > p[0].give_kib);
	assert_true(keep0 > 19 * keep1 / 10 && keep0 < 21 * keep1 / 10);
}

static void test_nobody_below_floor(void **state)
{
	(void)state;
	/* Asked for more than exists above the working sets and floors: the plan stops there. */
	struct mem_vm_state vms[2] = { { 1, 64 * MIB, 40 * MIB, 16 * MIB }, { 1, 64 * MIB, 8 * MIB, 32 * MIB } };
	struct mem_vm_plan p[2];
	uint64_t got = mem_policy__plan(&balloon_only, vms, 2, 1024 * MIB, p);
	assert_int_equal(got, 24 * MIB + 32 * MIB);
	assert_int_equal(vms[0].resident_kib - p[0].give_kib, 40 * MIB);
	assert_int_equal(vms[1].resident_kib - p[1].give_kib, 32 * MIB);
}

static void test_compression_first(void **state)
{
	(void)state;
	/* A compressor at 4:1 frees 3/4 of each cold KiB: 30 MiB given = 40 MiB compressed, no balloon; asked for
	 * more than the cold pages can free, the balloon takes the rest. */
	struct mem_policy pol = { MEM_POLICY_TAX_DEFAULT, 4, 0 };
	struct mem_vm_state vm = { 1, 256 * MIB, 56 * MIB, 16 * MIB };
	struct mem_vm_plan p;
	assert_int_equal(mem_policy__plan(&pol, &vm, 1, 30 * MIB, &p), 30 * MIB);
	assert_int_equal(p.balloon_kib, 0);
	assert_true(p.compress_kib >= 40 * MIB - 64 && p.compress_kib <= 40 * MIB + 64);
	assert_int_equal(mem_policy__plan(&pol, &vm, 1, 190 * MIB, &p), 190 * MIB);
	assert_int_equal(p.compress_kib, 200 * MIB); /* every cold page */
	assert_true(p.balloon_kib >= 40 * MIB - 64 && p.balloon_kib <= 40 * MIB + 64);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_pays_first), cmocka_unit_test(test_tax_zero_is_shares_only),
		cmocka_unit_test(test_shares), cmocka_unit_test(test_nobody_below_floor),
		cmocka_unit_test(test_compression_first),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
