/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ELF vmlinux loader: every PT_LOAD segment is copied to its physical
 * address (p_paddr), its tail up to p_memsz zeroed. The whole image is
 * validated before the first byte is written to guest memory.
 */
#include "core/layout.h"
#include "kernel-loader/bootparam.h"
#include "kernel-loader/loader.h"

#include <elf.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct seg {
	uint64_t paddr, memsz, offset, filesz;
	unsigned int index; /* in the program header table */
};

static int seg_cmp(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	if (x->paddr != y->paddr)
		return x->paddr < y->paddr ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* Check the ELF header; 0 or -1 with err set. */
static int check_ehdr(const Elf64_Ehdr *eh, uint64_t len, char *err, size_t errlen)
{
	uint64_t tbl;

	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return errorf(err, errlen, "ELF kernel is not 64-bit (EI_CLASS %u)",
				   eh->e_ident[EI_CLASS]);
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return errorf(err, errlen, "ELF kernel is not little-endian (EI_DATA %u)",
				   eh->e_ident[EI_DATA]);
	if (eh->e_machine != EM_X86_64)
		return errorf(err, errlen, "ELF kernel is not x86-64 (e_machine %u)",
				   eh->e_machine);
	if (eh->e_type != ET_EXEC)
		return errorf(err, errlen, "ELF kernel is not an executable (e_type %u)",
				   eh->e_type);
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return errorf(err, errlen, "ELF program header size is %u, expected %zu",
				   eh->e_phentsize, sizeof(Elf64_Phdr));
	if (eh->e_phnum == 0 || eh->e_phnum == PN_XNUM)
		return errorf(err, errlen, "ELF kernel has no program headers (e_phnum %u)",
				   eh->e_phnum);
	tbl = (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr); /* < 2^22 */
	if (eh->e_phoff > len || tbl > len - eh->e_phoff)
		return errorf(err, errlen,
				   "ELF program header table (%u entries at offset 0x%" PRIx64
				   ") is outside the %" PRIu64 "-byte file",
				   eh->e_phnum, (uint64_t)eh->e_phoff, len);
	return 0;
}

/* Check one PT_LOAD segment against the file and guest RAM. */
static int check_seg(const struct seg *s, uint64_t len, uint64_t low_end,
		     char *err, size_t errlen)
{
	if (s->filesz > s->memsz)
		return errorf(err, errlen,
				   "ELF segment %u: p_filesz 0x%" PRIx64 " > p_memsz 0x%" PRIx64,
				   s->index, s->filesz, s->memsz);
	if (s->offset > len || s->filesz > len - s->offset)
		return errorf(err, errlen,
				   "ELF segment %u: file range (0x%" PRIx64 " bytes at offset 0x%" PRIx64
				   ") is outside the %" PRIu64 "-byte file",
				   s->index, s->filesz, s->offset, len);
	if (s->memsz == 0)
		return 0;
	if (s->paddr < HIMEM_START)
		return errorf(err, errlen,
				   "ELF segment %u at 0x%" PRIx64 " is below 1 MiB", s->index, s->paddr);
	if (s->paddr > low_end || s->memsz > low_end - s->paddr)
		return errorf(err, errlen,
				   "ELF segment %u (0x%" PRIx64 " bytes at 0x%" PRIx64
				   ") does not fit in guest RAM below 0x%" PRIx64,
				   s->index, s->memsz, s->paddr, low_end);
	return 0;
}

/*
 * The PT_NOTE segments' notes, each bounds-checked: *pvh the Xen PVH entry
 * (the first note "Xen", type XEN_ELFNOTE_PHYS32_ENTRY, a 4- or 8-byte
 * address; 0 unless it is inside a loaded segment below 4 GiB), *is_linux
 * whether a note is named "Linux" (Linux's vmlinux has them since 4.18: its
 * e_entry is then the 64-bit boot protocol's entry).
 */
#define XEN_ELFNOTE_PHYS32_ENTRY 18
static void scan_notes(const uint8_t *img, uint64_t flen, const Elf64_Ehdr *eh,
		       const struct seg *segs, unsigned int n, uint64_t *pvh, bool *is_linux)
{
	bool xen_seen = false;

	*pvh = 0;
	*is_linux = false;
	for (unsigned int i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;
		uint64_t off, end;

		memcpy(&ph, img + eh->e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_NOTE || ph.p_offset > flen || ph.p_filesz > flen - ph.p_offset)
			continue;
		for (off = ph.p_offset, end = ph.p_offset + ph.p_filesz; end - off >= 12;) {
			Elf64_Nhdr nh;
			uint64_t name_sz, desc_off, desc_sz, entry = 0;
			const uint8_t *name = img + off + 12;

			memcpy(&nh, img + off, sizeof(nh));
			name_sz = ((uint64_t)nh.n_namesz + 3) & ~3ULL;
			desc_sz = ((uint64_t)nh.n_descsz + 3) & ~3ULL;
			if (name_sz > end - off - 12 || desc_sz > end - off - 12 - name_sz)
				break;
			desc_off = off + 12 + name_sz;
			if (nh.n_namesz == 6 && !memcmp(name, "Linux", 6))
				*is_linux = true;
			if (!xen_seen && nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 &&
			    !memcmp(name, "Xen", 4) && (nh.n_descsz == 4 || nh.n_descsz == 8)) {
				xen_seen = true;
				memcpy(&entry, img + desc_off, nh.n_descsz);
				for (unsigned int k = 0; k < n; k++)
					if (entry < 0x100000000ULL && entry >= segs[k].paddr &&
					    entry < segs[k].paddr + segs[k].memsz)
						*pvh = entry;
			}
			off = desc_off + desc_sz;
		}
	}
}

int load_elf(const struct guest_mem *gm, const uint8_t *img, size_t len,
	     struct kernel_info *ki, char *err, size_t errlen)
{
	uint64_t low_end = gm_low_end(gm), flen = len;
	uint64_t lo = UINT64_MAX, hi = 0;
	Elf64_Ehdr eh;
	struct seg *segs;
	unsigned int n = 0, hi_index = 0;
	int entry_ok = 0, ret = -1;

	if (len < sizeof(eh))
		return errorf(err, errlen,
				   "ELF kernel truncated: %zu bytes, the ELF header alone is %zu",
				   len, sizeof(eh));
	memcpy(&eh, img, sizeof(eh));
	if (check_ehdr(&eh, flen, err, errlen))
		return -1;

	segs = calloc(eh.e_phnum, sizeof(*segs));
	if (!segs)
		return errorf(err, errlen, "out of memory reading ELF program headers");

	for (unsigned int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		struct seg s;

		memcpy(&ph, img + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD)
			continue;
		s = (struct seg){ .paddr = ph.p_paddr, .memsz = ph.p_memsz,
				  .offset = ph.p_offset, .filesz = ph.p_filesz, .index = i };
		if (check_seg(&s, flen, low_end, err, errlen))
			goto out;
		if (s.memsz)
			segs[n++] = s;
	}
	if (n == 0) {
		errorf(err, errlen, "ELF kernel has no non-empty PT_LOAD segment");
		goto out;
	}

	qsort(segs, n, sizeof(*segs), seg_cmp);
	for (unsigned int i = 0; i < n; i++) {
		uint64_t end = segs[i].paddr + segs[i].memsz; /* checked: <= low_end */

		/* sorted by address: overlap iff it starts before the highest
		 * end seen so far (hi, reached by segment hi_index) */
		if (i > 0 && segs[i].paddr < hi) {
			errorf(err, errlen,
				    "ELF segments %u and %u overlap in guest memory (at 0x%" PRIx64 ")",
				    hi_index, segs[i].index, segs[i].paddr);
			goto out;
		}
		if (eh.e_entry >= segs[i].paddr && eh.e_entry < end)
			entry_ok = 1;
		if (segs[i].paddr < lo)
			lo = segs[i].paddr;
		if (end > hi) {
			hi = end;
			hi_index = segs[i].index;
		}
	}
	if (!entry_ok) {
		errorf(err, errlen,
			    "ELF entry point 0x%" PRIx64 " is not inside a loaded segment",
			    (uint64_t)eh.e_entry);
		goto out;
	}

	for (unsigned int i = 0; i < n; i++) {
		uint8_t *dst = gm_ptr(gm, segs[i].paddr, segs[i].memsz);

		if (!dst) { /* cannot happen after check_seg() */
			errorf(err, errlen, "ELF segment %u outside guest memory",
				    segs[i].index);
			goto out;
		}
		memcpy(dst, img + segs[i].offset, segs[i].filesz);
		memset(dst + segs[i].filesz, 0, segs[i].memsz - segs[i].filesz);
	}

	ki->format = KERNEL_ELF;
	ki->entry = eh.e_entry;
	scan_notes(img, flen, &eh, segs, n, &ki->pvh_entry, &ki->linux_notes);
	ki->load_start = lo;
	ki->load_end = hi;
	ki->hdr_len = 0;
	ki->boot_version = 0;
	ki->cmdline_max = CMDLINE_MAX_SIZE - 1;
	ki->initrd_addr_max = 0xffffffffULL;
	ret = 0;
out:
	free(segs);
	return ret;
}
