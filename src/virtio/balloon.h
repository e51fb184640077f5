/*
 * virtio-balloon (virtio 1.2, 5.5), as Firecracker has it: a target the host sets, pages the guest's own
 * allocator picks and gives back (inflate) and takes back (deflate), memory statistics at a polling
 * interval, free page hinting runs started by the host, and free page reporting by the guest.
 *
 * Pages the guest gives back are really returned to the host and read as zeros when touched again:
 * anonymous guest RAM gets MADV_DONTNEED; RAM mapped MAP_PRIVATE from a snapshot's memory file (the pages
 * `*file_pages` marks) first gets a fresh anonymous mapping over it, since MADV_DONTNEED there would bring
 * back the file's contents. Given-back pages are marked dirty, so a Diff snapshot records them as zeros.
 * Every page frame number and range the guest sends is checked to lie in its RAM.
 */
#ifndef WISP_VIRTIO_BALLOON_H
#define WISP_VIRTIO_BALLOON_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/ioloop.h"
#include "virtio/virtio.h"

#define VIRTIO_BALLOON_CONFIG_SIZE 16 /* num_pages, actual, free_page_hint_cmd_id, poison_val */
#define VIRTIO_BALLOON_PAGE_SHIFT 12
#define VIRTIO_BALLOON_PAGES_PER_MIB 256
#define VIRTIO_BALLOON_STAT_TAGS 16 /* tags the statistics may carry (5.5.6.3, and later kernels') */
#define VIRTIO_BALLOON_CMD_STOP 0
#define VIRTIO_BALLOON_CMD_DONE 1

/* Feature bits (5.5.3). */
#define VIRTIO_BALLOON_F_STATS_VQ 1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2
#define VIRTIO_BALLOON_F_FREE_PAGE_HINT 3
#define VIRTIO_BALLOON_F_REPORTING 5

/* Statistics tags (5.5.6.3 and Linux's later ones). */
enum {
	VIRTIO_BALLOON_S_SWAP_IN,
	VIRTIO_BALLOON_S_SWAP_OUT,
	VIRTIO_BALLOON_S_MAJFLT,
	VIRTIO_BALLOON_S_MINFLT,
	VIRTIO_BALLOON_S_MEMFREE,
	VIRTIO_BALLOON_S_MEMTOT,
	VIRTIO_BALLOON_S_AVAIL,
	VIRTIO_BALLOON_S_CACHES,
	VIRTIO_BALLOON_S_HTLB_PGALLOC,
	VIRTIO_BALLOON_S_HTLB_PGFAIL,
	VIRTIO_BALLOON_S_OOM_KILL,
	VIRTIO_BALLOON_S_ALLOC_STALL,
	VIRTIO_BALLOON_S_ASYNC_SCAN,
	VIRTIO_BALLOON_S_DIRECT_SCAN,
	VIRTIO_BALLOON_S_ASYNC_RECLAIM,
	VIRTIO_BALLOON_S_DIRECT_RECLAIM,
};

/* What the device offers; fixed at creation. */
struct virtio_balloon_config {
	uint32_t amount_mib;	   /* initial target */
	bool deflate_on_oom;	   /* VIRTIO_BALLOON_F_DEFLATE_ON_OOM */
	uint32_t stats_interval_s; /* > 0: the statistics queue (VIRTIO_BALLOON_F_STATS_VQ) */
	bool free_page_hinting;	   /* VIRTIO_BALLOON_F_FREE_PAGE_HINT */
	bool free_page_reporting;  /* VIRTIO_BALLOON_F_REPORTING */
};

/* The latest statistics from the guest: tag t is valid when bit t of `present` is set. */
struct virtio_balloon_guest_stats {
	uint32_t present;
	uint64_t val[VIRTIO_BALLOON_STAT_TAGS];
};

/* Firecracker's balloon metrics, plus page counts. */
struct virtio_balloon_stats {
	uint64_t inflate_count, deflate_count, stats_updates, stats_update_fails, event_fails;
	uint64_t free_page_report_count, free_page_report_freed, free_page_report_fails;
	uint64_t free_page_hint_count, free_page_hint_freed, free_page_hint_fails;
	uint64_t inflated_pages, deflated_pages, bad_pfns;
};

/* GET /balloon/statistics and /balloon/hinting/status. */
struct virtio_balloon_info {
	uint32_t target_pages, actual_pages, stats_interval_s;
	struct virtio_balloon_guest_stats guest;
	uint32_t host_cmd, guest_cmd;
	bool guest_cmd_valid;
};

struct virtio_balloon {
	struct virtio_dev vdev;
	uint8_t config[VIRTIO_BALLOON_CONFIG_SIZE];
	struct virtio_balloon_config cfg;
	uint64_t *const *file_pages; /* the machine's bitmap of RAM pages backed by a memory file (may be NULL) */
	int timer_fd;
	uint32_t stats_interval_s;
	bool stats_held; /* the guest's statistics buffer, kept until the next poll */
	uint16_t stats_head;
	struct virtio_balloon_guest_stats guest;
	uint32_t host_cmd, guest_cmd, next_cmd;
	bool guest_cmd_valid, ack_on_stop;
	bool arm_pending; /* DRIVER_OK was set: the I/O thread starts the statistics timer */
	struct virtq_chain chain;
	struct virtio_balloon_stats stats;
};

/*
 * `file_pages` points at the machine's ram_file_pages (filled in later by a snapshot restore), or NULL.
 * Prints a message and returns -1 on error.
 */
int virtio_balloon__init(struct virtio_balloon *b, const struct rv_bus *bus, struct irq_line irq,
			 const struct virtio_balloon_config *cfg, uint64_t *const *file_pages);
void virtio_balloon__exit(struct virtio_balloon *b);
/* Have the I/O thread serve the queues and the statistics timer. */
int virtio_balloon__attach(struct virtio_balloon *b, struct ioloop *l);
/* The statistics timer fired (I/O thread; exposed for tests): hand the guest its buffer back to refill. */
void virtio_balloon__poll_stats(struct virtio_balloon *b);

/* Runtime requests (any thread). The caller validated the values against the configuration. */
void virtio_balloon__set_target(struct virtio_balloon *b, uint32_t amount_mib);
/* A new polling interval (> 0, statistics enabled); the next poll is at once. */
void virtio_balloon__set_stats_interval(struct virtio_balloon *b, uint32_t seconds);
/* A free page hinting run (free_page_hinting enabled); acknowledge: answer the guest's STOP with DONE. */
void virtio_balloon__hint_start(struct virtio_balloon *b, bool acknowledge_on_stop);
void virtio_balloon__hint_stop(struct virtio_balloon *b);
struct virtio_balloon_info virtio_balloon__info(struct virtio_balloon *b);
struct virtio_balloon_stats virtio_balloon__stats(struct virtio_balloon *b);

#endif
