/* SPDX-License-Identifier: Apache-2.0 */
#include "vmm/ioapic.h"
#include "core/ember.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

/* Registers behind IOREGSEL, and redirection-entry bits. */
#define REG_ID        0x00
#define REG_VERSION   0x01
#define REG_ARB       0x02
#define REG_RTE       0x10             /* pin n: 0x10 + 2n (low), 0x11 + 2n (high) */
#define WIN_SEL       0x00             /* offsets in the page */
#define WIN_DATA      0x10
#define RTE_VECTOR(e)   ((uint32_t)(e) & 0xff)
#define RTE_DELIVERY(e) (((uint32_t)(e) >> 8) & 7)
#define RTE_LOGICAL     (1ULL << 11)
#define RTE_RO_BITS     ((1ULL << 12) | (1ULL << 14)) /* delivery status, remote IRR */
#define RTE_HIGH_BITS   0xffff0000u    /* destination (56..63), extended (49..55), 48 */
enum { DM_FIXED = 0, DM_LOWEST = 1, DM_NMI = 4 };

int ioapic_init(struct ioapic *a, int vm_fd, int npins, uint8_t id)
{
	if (npins < IOAPIC_MIN_PINS || npins > IOAPIC_MAX_PINS)
		return -1;
	memset(a, 0, sizeof(*a));
	pthread_mutex_init(&a->lock, NULL);
	a->vm_fd = vm_fd;
	a->npins = (uint32_t)npins;
	a->id = (uint32_t)(id & 0xf) << 24;
	for (int i = 0; i < npins; i++)
		a->rte[i] = IOAPIC_RTE_MASKED;
	a->routes_set = true; /* none, as KVM's split irqchip starts */
	return 0;
}

/*
 * A pin's MSI: the address names the destination (bits 12..19, the
 * extended destination's bits 5..11) and its mode (bit 2), the data the
 * vector and delivery mode; edge-triggered always. False for a masked pin,
 * or one that cannot deliver (no vector, a mode KVM's MSIs have no use for).
 */
static bool rte_msi(uint64_t e, struct kvm_irq_routing_msi *m)
{
	uint32_t dm = RTE_DELIVERY(e);

	if (e & IOAPIC_RTE_MASKED)
		return false;
	if (dm != DM_FIXED && dm != DM_LOWEST && dm != DM_NMI)
		return false;
	if (dm != DM_NMI && RTE_VECTOR(e) < 16)
		return false;
	memset(m, 0, sizeof(*m));
	m->address_lo = 0xfee00000u | (uint32_t)(e >> 56) << 12 |
			(uint32_t)((e >> 49) & 0x7f) << 5 | (e & RTE_LOGICAL ? 1u << 2 : 0);
	m->data = RTE_VECTOR(e) | dm << 8;
	return true;
}

unsigned int ioapic_routes(const struct ioapic *a, struct kvm_irq_routing_entry *out)
{
	unsigned int n = 0;

	for (uint32_t pin = 0; pin < a->npins; pin++) {
		struct kvm_irq_routing_msi m;

		if (!rte_msi(a->rte[pin], &m))
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		out[n].gsi = pin;
		out[n].type = KVM_IRQ_ROUTING_MSI;
		out[n].u.msi = m;
		n++;
	}
	return n;
}

int ioapic_apply_routes(struct ioapic *a)
{
	union {
		struct kvm_irq_routing r;
		uint8_t b[sizeof(struct kvm_irq_routing) +
			  IOAPIC_MAX_PINS * sizeof(struct kvm_irq_routing_entry)];
	} buf;
	struct kvm_irq_routing_entry *e = (struct kvm_irq_routing_entry *)(buf.b + sizeof(buf.r));
	unsigned int n = ioapic_routes(a, e);

	if (a->routes_set && n == a->nroutes && !memcmp(e, a->routes, n * sizeof(*e)))
		return 0;
	buf.r.nr = n;
	buf.r.flags = 0;
	if (a->vm_fd >= 0) {
		int r;

		do
			r = ioctl(a->vm_fd, KVM_SET_GSI_ROUTING, &buf.r);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return -1;
	}
	memcpy(a->routes, e, n * sizeof(*e));
	a->nroutes = n;
	a->routes_set = true;
	return 0;
}

static uint32_t read_reg(struct ioapic *a)
{
	uint32_t pin = (a->sel - REG_RTE) / 2;

	switch (a->sel) {
	case REG_ID:
		return a->id;
	case REG_VERSION:
		return IOAPIC_VERSION | (a->npins - 1) << 16;
	case REG_ARB:
		return a->id;
	}
	if (a->sel < REG_RTE || pin >= a->npins)
		return 0;
	return (uint32_t)(a->sel & 1 ? a->rte[pin] >> 32 : a->rte[pin]);
}

static void write_reg(struct ioapic *a, uint32_t v)
{
	uint32_t pin = (a->sel - REG_RTE) / 2;
	uint64_t e;

	if (a->sel == REG_ID) {
		a->id = v & 0x0f000000u;
		return;
	}
	if (a->sel < REG_RTE || pin >= a->npins)
		return;
	e = a->rte[pin];
	if (a->sel & 1)
		e = (e & 0xffffffffULL) | (uint64_t)(v & RTE_HIGH_BITS) << 32;
	else
		e = (e & ~0xffffffffULL) | (v & ~RTE_RO_BITS & 0xffffffffULL);
	a->rte[pin] = e;
	if (ioapic_apply_routes(a) < 0 && !a->warned) {
		a->warned = true;
		warn("IOAPIC: KVM_SET_GSI_ROUTING failed: %s (pin %u's interrupts may not arrive)",
		     strerror(errno), pin);
	}
}

void ioapic_access(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct ioapic *a = opaque;
	uint32_t v = 0;

	/* 32-bit registers; IOREGSEL's index is its low byte */
	if (!((off == WIN_SEL && (len == 4 || len == 1)) || (off == WIN_DATA && len == 4))) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	pthread_mutex_lock(&a->lock);
	if (is_write) {
		memcpy(&v, data, len);
		if (off == WIN_SEL)
			a->sel = v & 0xff;
		else
			write_reg(a, v);
	} else {
		v = off == WIN_SEL ? a->sel : read_reg(a);
		memcpy(data, &v, len);
	}
	pthread_mutex_unlock(&a->lock);
}

void ioapic_save(struct ioapic *a, struct ioapic_state *s)
{
	pthread_mutex_lock(&a->lock);
	memset(s, 0, sizeof(*s));
	s->npins = a->npins;
	s->id = a->id;
	s->sel = a->sel;
	memcpy(s->rte, a->rte, sizeof(s->rte));
	pthread_mutex_unlock(&a->lock);
}

int ioapic_state_check(const struct ioapic_state *s, char *err, size_t errlen)
{
	if (s->npins < IOAPIC_MIN_PINS || s->npins > IOAPIC_MAX_PINS)
		return errorf(err, errlen, "the snapshot's IOAPIC has %u pins, not %d..%d",
			      s->npins, IOAPIC_MIN_PINS, IOAPIC_MAX_PINS);
	if (s->sel > 0xff || s->id & ~0x0f000000u || s->reserved)
		return errorf(err, errlen, "the snapshot's IOAPIC state is out of range");
	for (uint32_t i = 0; i < IOAPIC_MAX_PINS; i++)
		if (s->rte[i] & (RTE_RO_BITS | 0x0000ffff00000000ULL) ||
		    (i >= s->npins && s->rte[i]))
			return errorf(err, errlen, "the snapshot's IOAPIC pin %u has reserved bits set",
				      i);
	return 0;
}

int ioapic_restore(struct ioapic *a, const struct ioapic_state *s, char *err, size_t errlen)
{
	int r;

	if (ioapic_state_check(s, err, errlen) < 0)
		return -1;
	if (s->npins != a->npins)
		return errorf(err, errlen, "the snapshot's IOAPIC has %u pins, this VM's devices "
			      "give it %u", s->npins, a->npins);
	pthread_mutex_lock(&a->lock);
	a->id = s->id;
	a->sel = s->sel;
	memcpy(a->rte, s->rte, sizeof(a->rte));
	a->routes_set = false;
	r = ioapic_apply_routes(a);
	pthread_mutex_unlock(&a->lock);
	if (r < 0)
		return errorf(err, errlen, "KVM_SET_GSI_ROUTING failed: %s", strerror(errno));
	return 0;
}
