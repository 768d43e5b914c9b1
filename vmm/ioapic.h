/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The IOAPIC, in ember rather than in KVM (KVM_CAP_SPLIT_IRQCHIP: the local
 * APICs stay in KVM, there is no 8259 PIC and no PIT). An 82093AA (version
 * 0x11) at IOAPIC_ADDR with as many pins as the VM's devices need: a Linux
 * guest reads and masks every pin at boot. Measured in the nested test host
 * (make bench, a quiet boot of our guest kernel): 30 IOAPIC accesses, each
 * an exit, with 6 pins and no PIC, against 414 with KVM's 24 pins and 8259s
 * (about 17 accesses a pin with a PIC, 5 without).
 *
 * It delivers nothing itself: every unmasked pin is a KVM GSI route to the
 * MSI its redirection entry describes (destination, its mode, vector,
 * delivery mode), set with KVM_SET_GSI_ROUTING whenever the guest changes
 * one; the devices' KVM_IRQ_LINE pulses and irqfds go through them. The
 * lines are edge-triggered (the MP table and the DSDT say so): an entry the
 * guest makes level-triggered still delivers edges, and Remote IRR stays 0.
 * An edge on a masked pin is lost, as on KVM's own IOAPIC.
 */
#ifndef EMBER_VMM_IOAPIC_H
#define EMBER_VMM_IOAPIC_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "core/layout.h"

#define IOAPIC_MMIO_SIZE   0x1000
#define IOAPIC_VERSION     0x11
#define IOAPIC_RTE_MASKED  (1ULL << 16)

struct ioapic {
	pthread_mutex_t lock;   /* vCPU threads access it at once */
	int vm_fd;              /* for KVM_SET_GSI_ROUTING; -1: routes are not set (tests) */
	uint32_t npins;
	uint32_t id;            /* bits 24..27 of the ID register */
	uint32_t sel;           /* IOREGSEL */
	uint64_t rte[IOAPIC_MAX_PINS];
	/* the routes KVM has (ioapic_apply_routes() skips a set it has already) */
	struct kvm_irq_routing_entry routes[IOAPIC_MAX_PINS];
	unsigned int nroutes;
	bool routes_set;
	bool warned;            /* KVM_SET_GSI_ROUTING failed once (said once) */
};

/* Its state in a snapshot (the VM section): all of it. */
struct ioapic_state {
	uint32_t npins, id, sel, reserved;
	uint64_t rte[IOAPIC_MAX_PINS];
};

/*
 * A reset IOAPIC of npins pins (IOAPIC_MIN_PINS..IOAPIC_MAX_PINS) and APIC id
 * id, every pin masked: no route, which is what KVM's split irqchip starts
 * with, so nothing to apply.
 * -1 when npins is out of range.
 */
int ioapic_init(struct ioapic *a, int vm_fd, int npins, uint8_t id);
/* The bus handler for its page at IOAPIC_ADDR (IOREGSEL at 0, IOWIN at 0x10). */
void ioapic_access(void *a, uint64_t off, uint8_t *data, uint32_t len, bool is_write);
/*
 * The KVM GSI routes of a's unmasked pins into out (IOAPIC_MAX_PINS
 * entries): their count. Pure, for tests.
 */
unsigned int ioapic_routes(const struct ioapic *a, struct kvm_irq_routing_entry *out);
/* Give KVM a's routes. 0, or -1 (errno set). */
int ioapic_apply_routes(struct ioapic *a);
void ioapic_save(struct ioapic *a, struct ioapic_state *s);
/* A snapshot's IOAPIC state in range (pins, registers, no reserved bit). 0, or -1 with a reason. */
int ioapic_state_check(const struct ioapic_state *s, char *err, size_t errlen);
/*
 * The state s into a (which keeps its vm_fd), checked (ioapic_state_check,
 * and its pin count must be a's) and its routes applied. 0, or -1 with a one-line reason.
 */
int ioapic_restore(struct ioapic *a, const struct ioapic_state *s, char *err, size_t errlen);

#endif
