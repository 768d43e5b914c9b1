/* SPDX-License-Identifier: Apache-2.0 */
/* The e820 map, the command line and the zero page (struct boot_params). */
#include "core/layout.h"
#include "kernel-loader/bootparam.h"
#include "kernel-loader/loader.h"

#include <inttypes.h>
#include <string.h>

static int e820_add(struct e820_entry *out, int max, int *n,
		    uint64_t addr, uint64_t size, uint32_t type)
{
	if (*n >= max)
		return -1;
	out[*n] = (struct e820_entry){ .addr = addr, .size = size, .type = type };
	(*n)++;
	return 0;
}

int e820_build(const struct guest_mem *gm, struct e820_entry *out, int max)
{
	uint64_t low = gm_low_end(gm);
	int n = 0;

	if (low == 0)
		return 0;
	if (e820_add(out, max, &n, 0, low < EBDA_START ? low : EBDA_START, E820_RAM))
		return -1;
	if (low > EBDA_START &&
	    e820_add(out, max, &n, EBDA_START, HIMEM_START - EBDA_START, E820_RESERVED))
		return -1;
	if (low > HIMEM_START &&
	    e820_add(out, max, &n, HIMEM_START, low - HIMEM_START, E820_RAM))
		return -1;
	for (int i = 1; i < gm->nregions; i++)
		if (gm->region[i].size &&
		    e820_add(out, max, &n, gm->region[i].gpa, gm->region[i].size, E820_RAM))
			return -1;
	return n;
}

int write_boot_params(const struct guest_mem *gm, const struct kernel_info *ki,
		      const char *cmdline, uint64_t initrd_addr,
		      uint64_t initrd_size, char *err, size_t errlen)
{
	struct e820_entry e820[BP_E820_MAX];
	uint8_t zp[ZERO_PAGE_SIZE];
	size_t clen;
	int ne;

	if (!cmdline)
		cmdline = "";
	clen = strnlen(cmdline, (size_t)ki->cmdline_max + 1);
	if (clen > ki->cmdline_max || clen >= CMDLINE_MAX_SIZE)
		return errorf(err, errlen,
				   "kernel command line too long (%zu bytes, this kernel accepts at most %u)",
				   strlen(cmdline), ki->cmdline_max);
	if (ki->hdr_len > sizeof(ki->hdr))
		return errorf(err, errlen, "invalid setup header length %zu", ki->hdr_len);
	if (!gm_ptr(gm, ZERO_PAGE_START, ZERO_PAGE_SIZE) ||
	    !gm_ptr(gm, CMDLINE_START, CMDLINE_MAX_SIZE))
		return errorf(err, errlen, "guest memory too small for the boot parameters");
	if (initrd_size && !gm_ptr(gm, initrd_addr, initrd_size))
		return errorf(err, errlen,
				   "initrd (0x%" PRIx64 " bytes at 0x%" PRIx64 ") is outside guest RAM",
				   initrd_size, initrd_addr);
	ne = e820_build(gm, e820, BP_E820_MAX);
	if (ne < 0)
		return errorf(err, errlen, "e820 map has more than %d entries", BP_E820_MAX);

	memset(zp, 0, sizeof(zp));
	if (ki->format == KERNEL_BZIMAGE) {
		memcpy(zp + BP_HDR, ki->hdr, ki->hdr_len);
		zp[BP_LOADFLAGS] |= LOADFLAG_LOADED_HIGH;
	} else {
		put_le16(zp + BP_BOOT_FLAG, BOOT_FLAG_MAGIC);
		put_le32(zp + BP_HEADER, HDRS_MAGIC);
		put_le16(zp + BP_VERSION, ELF_BOOT_VERSION);
		put_le32(zp + BP_KERNEL_ALIGNMENT, ELF_KERNEL_ALIGNMENT);
		put_le32(zp + BP_CMDLINE_SIZE, ki->cmdline_max);
	}
	zp[BP_TYPE_OF_LOADER] = LOADER_TYPE_UNDEFINED;
	put_le32(zp + BP_CMD_LINE_PTR, (uint32_t)CMDLINE_START);
	put_le32(zp + BP_EXT_CMD_LINE_PTR, (uint32_t)(CMDLINE_START >> 32));
	if (initrd_size) {
		put_le32(zp + BP_RAMDISK_IMAGE, (uint32_t)initrd_addr);
		put_le32(zp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(initrd_addr >> 32));
		put_le32(zp + BP_RAMDISK_SIZE, (uint32_t)initrd_size);
		put_le32(zp + BP_EXT_RAMDISK_SIZE, (uint32_t)(initrd_size >> 32));
	}
	zp[BP_E820_ENTRIES] = (uint8_t)ne;
	memcpy(zp + BP_E820_TABLE, e820, (size_t)ne * sizeof(e820[0]));

	if (gm_write(gm, CMDLINE_START, cmdline, clen) ||
	    gm_write(gm, CMDLINE_START + clen, "", 1) ||
	    gm_write(gm, ZERO_PAGE_START, zp, sizeof(zp)))
		return errorf(err, errlen, "guest memory too small for the boot parameters");
	return 0;
}

/* Xen's struct hvm_start_info (version 1) and what it points to. */
#define PVH_MAGIC        0x336ec578u
#define PVH_MODLIST      (PVH_START_INFO + 0x40)  /* one hvm_modlist_entry (32 bytes) */
#define PVH_MEMMAP       (PVH_START_INFO + 0x100) /* hvm_memmap_table_entry (24 bytes) each */
#define PVH_MEMMAP_MAX   ((0x1000 - 0x100) / 24)

int write_pvh_start_info(const struct guest_mem *gm, uint64_t initrd_addr, uint64_t initrd_len,
			 uint64_t rsdp, char *err, size_t errlen)
{
	struct e820_entry e820[PVH_MEMMAP_MAX];
	uint8_t page[0x1000] = { 0 }, *si = page, *mod = page + 0x40, *mm = page + 0x100;
	int n = e820_build(gm, e820, PVH_MEMMAP_MAX);

	if (n <= 0)
		return errorf(err, errlen, "PVH: no memory map");
	put_le32(si, PVH_MAGIC);
	put_le32(si + 4, 1);                     /* version */
	put_le32(si + 8, 0);                     /* flags */
	put_le32(si + 12, initrd_len ? 1 : 0);   /* nr_modules */
	put_le64(si + 16, initrd_len ? PVH_MODLIST : 0);
	put_le64(si + 24, CMDLINE_START);
	put_le64(si + 32, rsdp);
	put_le64(si + 40, PVH_MEMMAP);
	put_le32(si + 48, (uint32_t)n);          /* memmap_entries */
	put_le64(mod, initrd_addr);
	put_le64(mod + 8, initrd_len);
	for (int i = 0; i < n; i++) {
		put_le64(mm + 24 * i, e820[i].addr);
		put_le64(mm + 24 * i + 8, e820[i].size);
		put_le32(mm + 24 * i + 16, e820[i].type);
	}
	if (gm_write(gm, PVH_START_INFO, page, sizeof(page)) < 0)
		return errorf(err, errlen, "PVH: guest memory too small");
	return 0;
}
