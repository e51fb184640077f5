/* Compressed instruction expansion. */
#ifndef WISP_CPU_RVC_H
#define WISP_CPU_RVC_H

#include <stdint.h>

/* The 32-bit instruction a 16-bit RVC instruction stands for, or 0 if it is illegal/reserved. */
uint32_t rvc__expand(uint16_t c);

/* A read-only table of rvc__expand() for all 65536 values: generated at build time (WISP_RVC_TABLE), else built on
 * first use (thread-safe). */
const uint32_t *rvc__table(void);

#endif
