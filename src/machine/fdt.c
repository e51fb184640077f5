/* The device tree the guest boots with, built with libfdt's sequential-write API. */
#include <libfdt.h>
#include <stdio.h>
#include <string.h>

#include "machine/machine.h"

#define PH_PLIC 1
#define PH_SYSCON 2
#define PH_INTC(h) (16 + (h))

/* fdt_property_* with error propagation: every call site is `TRY(...)`. */
#define TRY(expr)                                                                                            \
	do {                                                                                                 \
		int err_ = (expr);                                                                           \
		if (err_ < 0)                                                                                \
			return err_;                                                                         \
	} while (0)

static int prop_cells(void *fdt, const char *name, const uint32_t *cells, int n)
{
	fdt32_t buf[32];
	for (int i = 0; i < n; i++)
		buf[i] = cpu_to_fdt32(cells[i]);
	return fdt_property(fdt, name, buf, n * (int)sizeof(fdt32_t));
}

static int prop_reg(void *fdt, uint64_t base, uint64_t size)
{
	uint32_t c[4] = { (uint32_t)(base >> 32), (uint32_t)base, (uint32_t)(size >> 32), (uint32_t)size };
	return prop_cells(fdt, "reg", c, 4);
}

static int begin_node_at(void *fdt, const char *name, uint64_t addr)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%s@%llx", name, (unsigned long long)addr);
	return fdt_begin_node(fdt, buf);
}

static int cpus(struct machine *m, void *fdt)
{
	TRY(fdt_begin_node(fdt, "cpus"));
	TRY(fdt_property_u32(fdt, "#address-cells", 1));
	TRY(fdt_property_u32(fdt, "#size-cells", 0));
	TRY(fdt_property_u32(fdt, "timebase-frequency", (uint32_t)TIMEBASE_HZ));
	for (unsigned h = 0; h < m->nharts; h++) {
		TRY(begin_node_at(fdt, "cpu", h));
		TRY(fdt_property_string(fdt, "device_type", "cpu"));
		TRY(fdt_property_u32(fdt, "reg", h));
		TRY(fdt_property_string(fdt, "status", "okay"));
		TRY(fdt_property_string(fdt, "compatible", "riscv"));
		TRY(fdt_property_string(fdt, "riscv,isa", "rv64imafdc"));
		TRY(fdt_property_string(fdt, "mmu-type", "riscv,sv48"));
		TRY(fdt_begin_node(fdt, "interrupt-controller"));
		TRY(fdt_property_u32(fdt, "#interrupt-cells", 1));
		TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
		TRY(fdt_property_string(fdt, "compatible", "riscv,cpu-intc"));
		TRY(fdt_property_u32(fdt, "phandle", PH_INTC(h)));
		TRY(fdt_end_node(fdt));
		TRY(fdt_end_node(fdt));
	}
	return fdt_end_node(fdt);
}

static int soc(struct machine *m, void *fdt)
{
	uint32_t ext[4 * CLINT_MAX_HARTS];
	TRY(fdt_begin_node(fdt, "soc"));
	TRY(fdt_property_u32(fdt, "#address-cells", 2));
	TRY(fdt_property_u32(fdt, "#size-cells", 2));
	TRY(fdt_property_string(fdt, "compatible", "simple-bus"));
	TRY(fdt_property(fdt, "ranges", NULL, 0));

	TRY(begin_node_at(fdt, "clint", CLINT_BASE));
	static const char clint_compat[] = "sifive,clint0\0riscv,clint0";
	TRY(fdt_property(fdt, "compatible", clint_compat, sizeof(clint_compat)));
	TRY(prop_reg(fdt, CLINT_BASE, CLINT_SIZE));
	for (unsigned h = 0; h < m->nharts; h++) {
		uint32_t *e = &ext[4 * h];
		e[0] = PH_INTC(h), e[1] = IRQ_MSI, e[2] = PH_INTC(h), e[3] = IRQ_MTI;
	}
	TRY(prop_cells(fdt, "interrupts-extended", ext, (int)(4 * m->nharts)));
	TRY(fdt_end_node(fdt));

	TRY(begin_node_at(fdt, "plic", PLIC_BASE));
	static const char plic_compat[] = "sifive,plic-1.0.0\0riscv,plic0";
	TRY(fdt_property(fdt, "compatible", plic_compat, sizeof(plic_compat)));
	TRY(prop_reg(fdt, PLIC_BASE, PLIC_SIZE));
	TRY(fdt_property_u32(fdt, "#address-cells", 0));
	TRY(fdt_property_u32(fdt, "#interrupt-cells", 1));
	TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
	TRY(fdt_property_u32(fdt, "riscv,ndev", PLIC_NDEV));
	TRY(fdt_property_u32(fdt, "phandle", PH_PLIC));
	for (unsigned h = 0; h < m->nharts; h++) {
		uint32_t *e = &ext[4 * h];
		e[0] = PH_INTC(h), e[1] = IRQ_MEI, e[2] = PH_INTC(h), e[3] = IRQ_SEI;
	}
	TRY(prop_cells(fdt, "interrupts-extended", ext, (int)(4 * m->nharts)));
	TRY(fdt_end_node(fdt));

	TRY(begin_node_at(fdt, "serial", UART_BASE));
	TRY(fdt_property_string(fdt, "compatible", "ns16550a"));
	TRY(prop_reg(fdt, UART_BASE, UART_SIZE));
	TRY(fdt_property_u32(fdt, "clock-frequency", 3686400));
	TRY(fdt_property_u32(fdt, "interrupts", UART_IRQ));
	TRY(fdt_property_u32(fdt, "interrupt-parent", PH_PLIC));
	TRY(fdt_end_node(fdt));

	/* The test finisher: "sifive,test0" for firmware (OpenSBI), "syscon" for Linux's poweroff driver. */
	TRY(begin_node_at(fdt, "test", SYSCON_BASE));
	static const char test_compat[] = "sifive,test1\0sifive,test0\0syscon";
	TRY(fdt_property(fdt, "compatible", test_compat, sizeof(test_compat)));
	TRY(prop_reg(fdt, SYSCON_BASE, SYSCON_SIZE));
	TRY(fdt_property_u32(fdt, "phandle", PH_SYSCON));
	TRY(fdt_end_node(fdt));

	TRY(fdt_begin_node(fdt, "poweroff"));
	TRY(fdt_property_string(fdt, "compatible", "syscon-poweroff"));
	TRY(fdt_property_u32(fdt, "regmap", PH_SYSCON));
	TRY(fdt_property_u32(fdt, "offset", 0));
	TRY(fdt_property_u32(fdt, "value", SYSCON_POWEROFF));
	TRY(fdt_end_node(fdt));

	TRY(fdt_begin_node(fdt, "reboot"));
	TRY(fdt_property_string(fdt, "compatible", "syscon-reboot"));
	TRY(fdt_property_u32(fdt, "regmap", PH_SYSCON));
	TRY(fdt_property_u32(fdt, "offset", 0));
	TRY(fdt_property_u32(fdt, "value", SYSCON_REBOOT));
	TRY(fdt_end_node(fdt));

	/* The boot timer, so the guest's init can tell whether to signal it. */
	if (m->cfg.boot_timer) {
		TRY(begin_node_at(fdt, "boottimer", BOOTTIMER_BASE));
		TRY(fdt_property_string(fdt, "compatible", "wisp,boot-timer"));
		TRY(prop_reg(fdt, BOOTTIMER_BASE, BOOTTIMER_SIZE));
		TRY(fdt_end_node(fdt));
	}

	/* virtio-mmio slots are added by the virtio layer when devices exist. */
	for (unsigned i = 0; i < m->nmmio; i++) {
		struct mmio_region *r = &m->mmio[i];
		if (r->base < VIRTIO_BASE || r->base >= VIRTIO_BASE + VIRTIO_SLOTS * VIRTIO_STRIDE)
			continue;
		TRY(begin_node_at(fdt, "virtio_mmio", r->base));
		TRY(fdt_property_string(fdt, "compatible", "virtio,mmio"));
		TRY(prop_reg(fdt, r->base, r->size));
		TRY(fdt_property_u32(fdt, "interrupts",
				     VIRTIO_IRQ0 + (uint32_t)((r->base - VIRTIO_BASE) / VIRTIO_STRIDE)));
		TRY(fdt_property_u32(fdt, "interrupt-parent", PH_PLIC));
		TRY(fdt_end_node(fdt));
	}
	return fdt_end_node(fdt);
}

int fdt__build(struct machine *m, void *fdt, size_t size)
{
	TRY(fdt_create(fdt, (int)size));
	TRY(fdt_finish_reservemap(fdt));
	TRY(fdt_begin_node(fdt, ""));
	TRY(fdt_property_u32(fdt, "#address-cells", 2));
	TRY(fdt_property_u32(fdt, "#size-cells", 2));
	TRY(fdt_property_string(fdt, "compatible", "riscv-virtio"));
	TRY(fdt_property_string(fdt, "model", "wisp,virt"));

	TRY(fdt_begin_node(fdt, "chosen"));
	if (m->cfg.cmdline)
		TRY(fdt_property_string(fdt, "bootargs", m->cfg.cmdline));
	TRY(fdt_property_string(fdt, "stdout-path", "/soc/serial@10000000"));
	if (m->initrd_end > m->initrd_start) {
		TRY(fdt_property_u64(fdt, "linux,initrd-start", m->initrd_start));
		TRY(fdt_property_u64(fdt, "linux,initrd-end", m->initrd_end));
	}
	TRY(fdt_end_node(fdt));

	TRY(begin_node_at(fdt, "memory", m->bus.ram_base));
	TRY(fdt_property_string(fdt, "device_type", "memory"));
	TRY(prop_reg(fdt, m->bus.ram_base, m->bus.ram_size));
	TRY(fdt_end_node(fdt));

	TRY(cpus(m, fdt));
	TRY(soc(m, fdt));
	TRY(fdt_end_node(fdt));
	return fdt_finish(fdt);
}
