/* SPDX-License-Identifier: Apache-2.0 */
#include "vmm/vmstate.h"
#include "core/ember.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define MAX_MSRS    VM_STATE_MAX_MSRS
#define MAX_CPUID   VM_STATE_MAX_CPUID
#define XSAVE_MIN   VM_STATE_XSAVE_MIN
#define XSAVE_MAX   VM_STATE_XSAVE_MAX
/* KVM takes a TSC within this of the host's as the host's (tsc_tolerance_ppm). */
#define TSC_TOLERANCE_PPM 250

static int xioctl(int fd, unsigned long req, void *arg)
{
	int r;

	do
		r = ioctl(fd, req, arg);
	while (r < 0 && errno == EINTR);
	return r;
}

#define TRY(fd, req, arg, what)                                                        \
	do {                                                                           \
		if (xioctl(fd, req, arg) < 0)                                          \
			return errorf(err, errlen, "%s: %s failed: %s", what, #req,    \
				      strerror(errno));                                \
	} while (0)

/* The XSAVE area's size KVM uses (KVM_CAP_XSAVE2 when larger than 4 KiB). */
static uint32_t xsave_len(struct vm *vm)
{
	int n = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);

	return n > (int)XSAVE_MIN ? (uint32_t)n : XSAVE_MIN;
}

/* The MSRs KVM says a VMM should save (kvm->msrs, count in *n); NULL on failure. */
static struct kvm_msr_list *msr_list(struct vm *vm)
{
	struct kvm_msr_list probe = { .nmsrs = 0 }, *l;

	if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return NULL;
	if (probe.nmsrs == 0 || probe.nmsrs > MAX_MSRS)
		return NULL;
	l = calloc(1, sizeof(*l) + probe.nmsrs * sizeof(l->indices[0]));
	if (!l)
		return NULL;
	l->nmsrs = probe.nmsrs;
	if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, l) < 0) {
		free(l);
		return NULL;
	}
	return l;
}

/*
 * Read every MSR of list on c into out (room for list->nmsrs); those KVM
 * lists but cannot read on this vCPU (a feature the CPUID leaves out) are
 * left out. The count, or -1.
 */
static int read_msrs(struct vcpu *c, const struct kvm_msr_list *list, struct kvm_msr_entry *out)
{
	struct kvm_msrs *m = calloc(1, sizeof(*m) + list->nmsrs * sizeof(m->entries[0]));
	uint32_t i = 0, kept = 0;

	if (!m)
		return -1;
	while (i < list->nmsrs) {
		int r;

		m->nmsrs = list->nmsrs - i;
		for (uint32_t j = 0; j < m->nmsrs; j++)
			m->entries[j] = (struct kvm_msr_entry){ .index = list->indices[i + j] };
		r = xioctl(c->fd, KVM_GET_MSRS, m);
		if (r < 0) {
			free(m);
			return -1;
		}
		memcpy(out + kept, m->entries, (size_t)r * sizeof(m->entries[0]));
		kept += (uint32_t)r;
		i += (uint32_t)r + 1; /* past the one that failed, if one did */
	}
	free(m);
	return (int)kept;
}

static int save_vcpu(struct vm *vm, struct vcpu *c, const struct kvm_msr_list *list,
		     struct snap_writer *w, char *err, size_t errlen)
{
	uint32_t xlen = xsave_len(vm);
	size_t size = sizeof(struct vm_state_vcpu) + xlen + list->nmsrs * sizeof(struct kvm_msr_entry) +
		      MAX_CPUID * sizeof(struct kvm_cpuid_entry2);
	uint8_t *buf = calloc(1, size);
	struct kvm_cpuid2 *cpuid = calloc(1, sizeof(*cpuid) + MAX_CPUID * sizeof(cpuid->entries[0]));
	struct vm_state_vcpu *r = (struct vm_state_vcpu *)buf;
	uint8_t *xsave = buf + sizeof(*r);
	struct kvm_msr_entry *msrs = (struct kvm_msr_entry *)(xsave + xlen);
	int n, ret = -1;
	char what[16];

	snprintf(what, sizeof(what), "vcpu %d", c->id);
	if (!buf || !cpuid) {
		errorf(err, errlen, "out of memory");
		goto out;
	}
	r->id = (uint32_t)c->id;
	r->xsave_len = xlen;
#define GET(req, arg)                                                                   \
	if (xioctl(c->fd, req, arg) < 0) {                                             \
		errorf(err, errlen, "%s: %s failed: %s", what, #req, strerror(errno)); \
		goto out;                                                              \
	}
	GET(KVM_GET_MP_STATE, &r->mp);
	GET(KVM_GET_REGS, &r->regs);
	GET(KVM_GET_SREGS, &r->sregs);
	if (xlen > XSAVE_MIN) {
		GET(KVM_GET_XSAVE2, xsave);
	} else {
		GET(KVM_GET_XSAVE, xsave);
	}
	GET(KVM_GET_XCRS, &r->xcrs);
	GET(KVM_GET_DEBUGREGS, &r->dregs);
	GET(KVM_GET_LAPIC, &r->lapic);
	GET(KVM_GET_VCPU_EVENTS, &r->events);
	cpuid->nent = MAX_CPUID;
	GET(KVM_GET_CPUID2, cpuid);
#undef GET
	n = read_msrs(c, list, msrs);
	if (n < 0) {
		errorf(err, errlen, "%s: KVM_GET_MSRS failed: %s", what, strerror(errno));
		goto out;
	}
	r->nmsrs = (uint32_t)n;
	r->ncpuid = cpuid->nent;
	memcpy(msrs + n, cpuid->entries, cpuid->nent * sizeof(cpuid->entries[0]));
	snap_w_section(w, SNAP_TAG_VCPU, buf, sizeof(*r) + xlen + (size_t)n * sizeof(*msrs) +
		       cpuid->nent * sizeof(cpuid->entries[0]));
	ret = 0;
out:
	free(cpuid);
	free(buf);
	return ret;
}

int vm_state_save(struct vm *vm, struct snap_writer *w, char *err, size_t errlen)
{
	struct vm_state_vm r = { 0 };
	struct kvm_msr_list *list;
	int khz;

	khz = ioctl(vm->vcpus[0].fd, KVM_GET_TSC_KHZ, 0);
	if (khz <= 0)
		return errorf(err, errlen, "KVM_GET_TSC_KHZ failed: %s", strerror(errno));
	r.tsc_khz = (uint32_t)khz;
	/* The clock as the vCPUs stopped: the guest does not see the pause either. */
	if (vm->pause_clock_valid)
		r.clock = vm->pause_clock;
	else
		TRY(vm->vm_fd, KVM_GET_CLOCK, &r.clock, "the VM");
	ioapic_save(&vm->ioapic, &r.ioapic);
	snap_w_section(w, SNAP_TAG_VM, &r, sizeof(r));

	list = msr_list(vm);
	if (!list)
		return errorf(err, errlen, "KVM_GET_MSR_INDEX_LIST failed");
	for (int i = 0; i < vm->nvcpus; i++)
		if (save_vcpu(vm, &vm->vcpus[i], list, w, err, errlen) < 0) {
			free(list);
			return -1;
		}
	free(list);
	return 0;
}

/* The fixed part of a VCPU section, checked: its lengths add up. */
static int vcpu_rec_check(const struct snap_section *s, int id, struct vm_state_vcpu *r, char *err,
			  size_t errlen)
{
	uint64_t want;

	if (s->len < sizeof(*r))
		return errorf(err, errlen, "vcpu %d's state is too short", id);
	memcpy(r, s->data, sizeof(*r));
	if (r->id != (uint32_t)id)
		return errorf(err, errlen, "vcpu %d's state says vcpu %u", id, r->id);
	if (r->nmsrs > MAX_MSRS || r->ncpuid == 0 || r->ncpuid > MAX_CPUID ||
	    r->xsave_len < XSAVE_MIN || r->xsave_len > XSAVE_MAX || r->xsave_len % 64)
		return errorf(err, errlen, "vcpu %d's state has a bad count (%u MSRs, %u CPUID "
			      "leaves, %u bytes of XSAVE)", id, r->nmsrs, r->ncpuid, r->xsave_len);
	want = sizeof(*r) + (uint64_t)r->xsave_len + r->nmsrs * sizeof(struct kvm_msr_entry) +
	       r->ncpuid * sizeof(struct kvm_cpuid_entry2);
	if (s->len != want)
		return errorf(err, errlen, "vcpu %d's state is %llu bytes, its counts say %llu",
			      id, (unsigned long long)s->len, (unsigned long long)want);
	return 0;
}

int vm_state_check(const struct snap_section *secs, unsigned int n, int nvcpus, char *err,
		   size_t errlen)
{
	int nvm = 0, nvcpu = 0;
	struct vm_state_vcpu r;
	struct vm_state_vm vm;

	for (unsigned int i = 0; i < n; i++) {
		if (secs[i].tag == SNAP_TAG_VM) {
			if (nvm++)
				return errorf(err, errlen, "two VM states");
			if (secs[i].len != sizeof(struct vm_state_vm))
				return errorf(err, errlen, "the VM state is %llu bytes, not %zu",
					      (unsigned long long)secs[i].len,
					      sizeof(struct vm_state_vm));
			memcpy(&vm, secs[i].data, sizeof(vm));
			if (ioapic_state_check(&vm.ioapic, err, errlen) < 0)
				return -1;
		} else if (secs[i].tag == SNAP_TAG_VCPU) {
			if (nvcpu >= nvcpus)
				return errorf(err, errlen, "more vCPU states than the %d vCPUs",
					      nvcpus);
			if (vcpu_rec_check(&secs[i], nvcpu++, &r, err, errlen) < 0)
				return -1;
		}
	}
	if (!nvm)
		return errorf(err, errlen, "no VM state");
	if (nvcpu != nvcpus)
		return errorf(err, errlen, "%d vCPU states for %d vCPUs", nvcpu, nvcpus);
	return 0;
}

/* Give the vCPUs the snapshot's TSC frequency: scaled, or refused. */
static int restore_tsc(struct vm *vm, uint32_t khz, char *err, size_t errlen)
{
	int host = ioctl(vm->vcpus[0].fd, KVM_GET_TSC_KHZ, 0);
	uint64_t diff;

	if (host <= 0)
		return errorf(err, errlen, "KVM_GET_TSC_KHZ failed: %s", strerror(errno));
	if ((uint32_t)host == khz)
		return 0;
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_CONTROL) > 0) {
		for (int i = 0; i < vm->nvcpus; i++)
			if (ioctl(vm->vcpus[i].fd, KVM_SET_TSC_KHZ, (unsigned long)khz) < 0)
				return errorf(err, errlen, "the snapshot's TSC runs at %u kHz, this "
					      "host's at %d kHz, and KVM cannot scale it: %s", khz,
					      host, strerror(errno));
		return 0;
	}
	diff = (uint32_t)host > khz ? (uint32_t)host - khz : khz - (uint32_t)host;
	if (diff * 1000000 > (uint64_t)khz * TSC_TOLERANCE_PPM)
		return errorf(err, errlen, "the snapshot's TSC runs at %u kHz, this host's at %d "
			      "kHz, and KVM cannot scale it (no KVM_CAP_TSC_CONTROL)", khz, host);
	return 0;
}

static int restore_vcpu(struct vcpu *c, const struct snap_section *s, char *err, size_t errlen)
{
	struct vm_state_vcpu r;
	const uint8_t *xsave;
	struct kvm_msrs *msrs = NULL;
	struct kvm_cpuid2 *cpuid = NULL;
	char what[16];
	int n, ret = -1;

	if (vcpu_rec_check(s, c->id, &r, err, errlen) < 0)
		return -1;
	snprintf(what, sizeof(what), "vcpu %d", c->id);
	xsave = s->data + sizeof(r);
	msrs = calloc(1, sizeof(*msrs) + r.nmsrs * sizeof(msrs->entries[0]));
	cpuid = calloc(1, sizeof(*cpuid) + r.ncpuid * sizeof(cpuid->entries[0]));
	if (!msrs || !cpuid) {
		errorf(err, errlen, "out of memory");
		goto out;
	}
	msrs->nmsrs = r.nmsrs;
	memcpy(msrs->entries, xsave + r.xsave_len, r.nmsrs * sizeof(msrs->entries[0]));
	cpuid->nent = r.ncpuid;
	memcpy(cpuid->entries, xsave + r.xsave_len + r.nmsrs * sizeof(msrs->entries[0]),
	       r.ncpuid * sizeof(cpuid->entries[0]));
	/* The events' NMI and SIPI parts too (KVM's GET leaves their flags out). */
	r.events.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR;
#define SET(req, arg)                                                                   \
	if (xioctl(c->fd, req, arg) < 0) {                                             \
		errorf(err, errlen, "%s: %s failed: %s", what, #req, strerror(errno)); \
		goto out;                                                              \
	}
	SET(KVM_SET_CPUID2, cpuid);
	SET(KVM_SET_MP_STATE, &r.mp);
	SET(KVM_SET_REGS, &r.regs);
	SET(KVM_SET_SREGS, &r.sregs);
	/* KVM_SET_XSAVE takes the larger area too where KVM_CAP_XSAVE2 made it. */
	SET(KVM_SET_XSAVE, (void *)xsave);
	SET(KVM_SET_XCRS, &r.xcrs);
	SET(KVM_SET_DEBUGREGS, &r.dregs);
	SET(KVM_SET_LAPIC, &r.lapic);
#undef SET
	n = xioctl(c->fd, KVM_SET_MSRS, msrs);
	if (n < 0 || (uint32_t)n != r.nmsrs) {
		errorf(err, errlen, "%s: KVM refused MSR 0x%x of the snapshot", what,
		       n < 0 ? 0 : msrs->entries[n].index);
		goto out;
	}
	if (xioctl(c->fd, KVM_SET_VCPU_EVENTS, &r.events) < 0) {
		errorf(err, errlen, "%s: KVM_SET_VCPU_EVENTS failed: %s", what, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	free(msrs);
	free(cpuid);
	return ret;
}

int vm_state_restore(struct vm *vm, const struct snap_section *secs, unsigned int n,
		     char *err, size_t errlen)
{
	struct vm_state_vm r;
	struct kvm_clock_data clock = { 0 };
	int id = 0;

	if (vm_state_check(secs, n, vm->nvcpus, err, errlen) < 0)
		return -1;
	for (unsigned int i = 0; i < n; i++)
		if (secs[i].tag == SNAP_TAG_VM)
			memcpy(&r, secs[i].data, sizeof(r));
	if (restore_tsc(vm, r.tsc_khz, err, errlen) < 0)
		return -1;
	if (ioapic_restore(&vm->ioapic, &r.ioapic, err, errlen) < 0)
		return -1;
	for (unsigned int i = 0; i < n; i++)
		if (secs[i].tag == SNAP_TAG_VCPU &&
		    restore_vcpu(&vm->vcpus[id++], &secs[i], err, errlen) < 0)
			return -1;
	clock.clock = r.clock.clock;
	TRY(vm->vm_fd, KVM_SET_CLOCK, &clock, "the VM");
	return 0;
}
