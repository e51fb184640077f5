/*
 * boottimer.S - bare-metal program for the boot timer test (tests/e2e/api.py boottimer): writes the magic
 * byte 123 to the boot timer register at 0x102000 and passes. Without --boot-timer nothing is mapped there:
 * the store faults and the default handler fails with 200 + 7 (store access fault).
 */
#include "common.h"

TEST_START
	li	t0, 0x102000
	li	t1, 123
	sb	t1, 0(t0)
	PASS
