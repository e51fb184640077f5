/* Boot timer: logs the guest's boot time when its init writes the magic byte. */
#include "machine/boottimer.h"

#include "log/log.h"

void boottimer__init(struct boottimer *b, struct logger *log)
{
	b->log = log;
	b->start_us = log__now_us();
	b->start_cpu_us = log__cpu_now_us();
	atomic_store(&b->boot_us, 0);
}

static uint64_t boottimer_read(void *dev, uint64_t off, unsigned size)
{
	(void)dev;
	(void)off;
	(void)size;
	return 0;
}

static void boottimer_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct boottimer *b = dev;
	if (off != 0 || size != 1 || val != BOOTTIMER_MAGIC)
		return;
	uint64_t now = log__now_us(), cpu = log__cpu_now_us();
	uint64_t us = now - b->start_us, cpu_us = cpu - b->start_cpu_us;
	atomic_store(&b->boot_us, us);
	uint64_t since_start = b->log ? now - b->log->start_us : 0;
	pr_info(b->log, "Guest-boot-time = %6llu us %llu ms, %6llu CPU us %llu CPU ms (%llu ms since wisp started)",
		(unsigned long long)us, (unsigned long long)us / 1000, (unsigned long long)cpu_us,
		(unsigned long long)cpu_us / 1000, (unsigned long long)since_start / 1000);
}

const struct mmio_ops boottimer__ops = { boottimer_read, boottimer_write };
