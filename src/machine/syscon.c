/* syscon: poweroff (0x5555), reboot (0x7777) and fail with an exit code (code << 16 | 0x3333). */
#include "machine/syscon.h"

static uint64_t syscon_read(void *dev, uint64_t off, unsigned size)
{
	(void)dev;
	(void)off;
	(void)size;
	return 0;
}

static void syscon_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct syscon *s = dev;
	if (off != 0 || size < 2)
		return;
	switch (val & 0xffff) {
	case SYSCON_POWEROFF:
		s->event(s->opaque, SYSCON_EV_POWEROFF, 0);
		break;
	case SYSCON_REBOOT:
		s->event(s->opaque, SYSCON_EV_REBOOT, 0);
		break;
	case SYSCON_FAIL:
		s->event(s->opaque, SYSCON_EV_FAIL, (unsigned)((val >> 16) & 0xffff));
		break;
	}
}

const struct mmio_ops syscon__ops = { syscon_read, syscon_write };
