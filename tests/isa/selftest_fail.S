/*
 * selftest_fail.S - harness self-test: a program whose check 5 fails on purpose.
 * The emulator must exit with status 5 (CMake test isa_selftest_fail expects exactly that),
 * proving that failures are reported and not mistaken for passes.
 */
#include "common.h"

TEST_START
	li	a0, 1
	CHECK_IMM a0, 1, 4                       /* passes */
	CHECK_IMM a0, 2, 5                       /* fails: exit status 5 */
	PASS
