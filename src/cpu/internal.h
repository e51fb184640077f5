/* Helpers shared by the files of the interpreter; not part of the CPU's public interface. */
#ifndef WISP_CPU_INTERNAL_H
#define WISP_CPU_INTERNAL_H

#include "cpu/cpu.h"

static inline uint64_t cpu__instret(const struct rv_cpu *cpu)
{
	/* Inside an instruction the budget already counts that instruction: it has not retired yet. */
	return cpu->retired + (uint64_t)(cpu->budget_start - cpu->budget - cpu->budget_unused) -
	       (uint64_t)cpu->executing + cpu->instret_offset;
}

#endif
