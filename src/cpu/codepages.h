/*
 * Which decoded/translated blocks came from which RAM page, for both backends: a head pointer per
 * RAM page (the backend chains its blocks from there) and the list of pages that have one, so that
 * dropping everything touches only those pages, not the whole table.
 */
#ifndef WISP_CPU_CODEPAGES_H
#define WISP_CPU_CODEPAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct code_pages {
	void **head;      /* per RAM page: the first block, or NULL */
	uint32_t *used;   /* pages whose head was set since the last clear */
	size_t npages, nused, cap;
};

/* Returns -1 when out of memory. */
static inline int code_pages__init(struct code_pages *cp, size_t npages)
{
	memset(cp, 0, sizeof(*cp));
	cp->npages = npages;
	cp->head = calloc(npages ? npages : 1, sizeof(*cp->head));
	return cp->head ? 0 : -1;
}

static inline void code_pages__exit(struct code_pages *cp)
{
	free(cp->head);
	free(cp->used);
	memset(cp, 0, sizeof(*cp));
}

static inline void *code_pages__get(const struct code_pages *cp, size_t page)
{
	return page < cp->npages ? cp->head[page] : NULL;
}

/* Make `block` the page's head; returns the previous head (the caller chains it). False = no memory
 * for the bookkeeping (the caller then drops everything). */
static inline bool code_pages__push(struct code_pages *cp, size_t page, void *block, void **prev)
{
	*prev = cp->head[page];
	if (!*prev) {
		if (cp->nused == cp->cap) {
			size_t cap = cp->cap ? 2 * cp->cap : 256;
			uint32_t *u = realloc(cp->used, cap * sizeof(*u));
			if (!u)
				return false;
			cp->used = u;
			cp->cap = cap;
		}
		cp->used[cp->nused++] = (uint32_t)page;
	}
	cp->head[page] = block;
	return true;
}

/* The page no longer has blocks (its entry in `used` stays until the next clear: harmless). */
static inline void code_pages__drop(struct code_pages *cp, size_t page)
{
	cp->head[page] = NULL;
}

static inline void code_pages__clear(struct code_pages *cp)
{
	for (size_t i = 0; i < cp->nused; i++)
		cp->head[cp->used[i]] = NULL;
	cp->nused = 0;
}

#endif
