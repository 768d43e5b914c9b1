/* SPDX-License-Identifier: Apache-2.0 */
#include "tests/unit/images.h"
#include "kernel-loader/bootparam.h"

#include <stdlib.h>
#include <string.h>

uint8_t *make_elf(const struct elf_seg *segs, int n, uint64_t entry, size_t *len)
{
	size_t off = sizeof(Elf64_Ehdr) + (size_t)n * sizeof(Elf64_Phdr), total = off;
	uint8_t *img;
	Elf64_Ehdr *eh;

	for (int i = 0; i < n; i++)
		total += segs[i].filesz;
	img = calloc(1, total);
	if (!img)
		abort();
	eh = elf_ehdr(img);
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = entry;
	eh->e_phoff = sizeof(Elf64_Ehdr);
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = (uint16_t)n;
	for (int i = 0; i < n; i++) {
		Elf64_Phdr *ph = elf_phdr(img, i);

		ph->p_type = segs[i].type;
		ph->p_flags = PF_R | PF_X;
		ph->p_offset = off;
		ph->p_vaddr = 0xffffffff80000000ULL + segs[i].paddr;
		ph->p_paddr = segs[i].paddr;
		ph->p_filesz = segs[i].filesz;
		ph->p_memsz = segs[i].memsz;
		ph->p_align = 0x1000;
		for (uint64_t k = 0; k < segs[i].filesz; k++)
			img[off + k] = (uint8_t)(0x40 + 7 * i + k);
		off += segs[i].filesz;
	}
	*len = total;
	return img;
}

void bz_defaults(struct bz_opts *o)
{
	*o = (struct bz_opts){
		.setup_sects = 27,
		.pm_size = 0x30000,
		.init_size = 0x800000,
		.pref_address = 0x1000000,
		.kernel_alignment = 0x200000,
		.relocatable = 1,
		.version = 0x020f,
		.xloadflags = 0x7f,
		.cmdline_size = 0x7ff,
		.initrd_addr_max = 0x7fffffff,
		.loadflags = 0x00,
		.hdr_jump = 0x6a, /* 0x26c: end of the 2.15 header */
	};
}

uint8_t *make_bz(const struct bz_opts *o, size_t *len)
{
	size_t setup = ((size_t)(o->setup_sects ? o->setup_sects : 4) + 1) * 512;
	size_t total = setup + o->pm_size;
	uint8_t *img = malloc(total);

	if (!img)
		abort();
	for (size_t k = 0; k < setup; k++) /* recognisable filler in every field */
		img[k] = (uint8_t)(0xa0 + k % 37);
	for (size_t k = 0; k < o->pm_size; k++)
		img[setup + k] = bz_pm_byte(k);
	img[BP_SETUP_SECTS] = o->setup_sects;
	put_le16(img + BP_BOOT_FLAG, BOOT_FLAG_MAGIC);
	img[BP_JUMP] = 0xeb;
	img[BP_JUMP + 1] = o->hdr_jump;
	memcpy(img + BP_HEADER, "HdrS", 4);
	put_le16(img + BP_VERSION, o->version);
	img[BP_TYPE_OF_LOADER] = 0;
	img[BP_LOADFLAGS] = o->loadflags;
	put_le32(img + BP_RAMDISK_IMAGE, 0);
	put_le32(img + BP_RAMDISK_SIZE, 0);
	put_le32(img + BP_CMD_LINE_PTR, 0);
	put_le32(img + BP_INITRD_ADDR_MAX, o->initrd_addr_max);
	put_le32(img + BP_KERNEL_ALIGNMENT, o->kernel_alignment);
	img[BP_RELOCATABLE_KERNEL] = o->relocatable;
	put_le16(img + BP_XLOADFLAGS, o->xloadflags);
	put_le32(img + BP_CMDLINE_SIZE, o->cmdline_size);
	put_le32(img + BP_PREF_ADDRESS, (uint32_t)o->pref_address);
	put_le32(img + BP_PREF_ADDRESS + 4, (uint32_t)(o->pref_address >> 32));
	put_le32(img + BP_INIT_SIZE, o->init_size);
	*len = total;
	return img;
}
