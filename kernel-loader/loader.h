/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel loading for Linux's 64-bit boot protocol: ELF vmlinux, bzImage,
 * initrd, command line and the zero page (boot_params with its e820 map).
 *
 * Pure code over a guest_mem: no KVM, no files. Every function returns 0 on
 * success and -1 on failure with a one-line reason (no trailing newline,
 * no "ember:" prefix) in err[errlen]. Every guest write goes through gm_*().
 */
#ifndef EMBER_LOADER_H
#define EMBER_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/guest_mem.h"

enum kernel_format { KERNEL_ELF = 1, KERNEL_BZIMAGE = 2 };

struct kernel_info {
	enum kernel_format format;
	uint64_t entry;          /* 64-bit entry point (guest-physical) */
	uint64_t pvh_entry;      /* ELF with the Xen PVH note: its 32-bit entry (else 0) */
	bool linux_notes;        /* ELF with notes named "Linux": Linux's vmlinux, whose
				  * e_entry is the 64-bit boot protocol's */
	uint64_t load_start;     /* lowest guest-physical byte loaded */
	uint64_t load_end;       /* one past the highest byte the kernel owns
				  * (for bzImage: max(1 MiB + image, its runtime
				  * address (pref_address, aligned) + init_size):
				  * it decompresses itself there) */
	/*
	 * bzImage only: the setup header copied from the image
	 * (bytes 0x1f1 .. 0x202 + image[0x201]), to be placed at offset 0x1f1
	 * of the zero page; hdr_len == 0 for ELF.
	 */
	uint8_t hdr[0x80];
	size_t hdr_len;
	uint16_t boot_version;   /* bzImage protocol version, 0 for ELF */
	uint32_t cmdline_max;    /* longest command line accepted, excl. NUL */
	uint64_t initrd_addr_max;/* highest address of the initrd's last byte */
};

/*
 * Load a kernel image (format detected from its magic: "\x7fELF" or a
 * bzImage setup header with "HdrS") into guest memory. Refuses: truncated
 * images, bad magic, non-x86-64/non-executable ELF, program headers outside
 * the file, PT_LOAD segments outside guest RAM, below 1 MiB or overlapping
 * each other, p_filesz > p_memsz, a bzImage older than protocol 2.12 or
 * without XLF_KERNEL_64, a protected-mode part that does not fit.
 */
int load_kernel(const struct guest_mem *gm, const uint8_t *img, size_t len,
		struct kernel_info *ki, char *err, size_t errlen);

/*
 * Place the initrd page-aligned at the highest address that keeps it below
 * min(ki->initrd_addr_max + 1, end of low RAM) and above ki->load_end.
 * Refuses an initrd that does not fit.
 */
int load_initrd(const struct guest_mem *gm, const struct kernel_info *ki,
		const uint8_t *data, size_t len, uint64_t *addr,
		char *err, size_t errlen);

/* One e820 entry as Linux's boot_params holds it (20 bytes, packed). */
struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

#define E820_RAM      1
#define E820_RESERVED 2

/*
 * The e820 map for gm: RAM [0, EBDA_START), reserved [EBDA_START,
 * HIMEM_START), RAM [HIMEM_START, end of low RAM), RAM above 4 GiB if any.
 * Returns the number of entries written (at most max), -1 if max is short.
 */
int e820_build(const struct guest_mem *gm, struct e820_entry *out, int max);

/*
 * PVH boot (Xen's hvm_start_info, version 1, as Linux's pvh_start_xen
 * reads it): written at PVH_START_INFO with its module list (the initrd)
 * and memory map after it; cmdline at CMDLINE_START (write_boot_params puts
 * it there), rsdp 0 for none. 0, or -1 with a reason.
 */
#define PVH_START_INFO  0x6000ULL
int write_pvh_start_info(const struct guest_mem *gm, uint64_t initrd_addr, uint64_t initrd_len,
			 uint64_t rsdp, char *err, size_t errlen);

/*
 * Write the command line at CMDLINE_START and the zero page at
 * ZERO_PAGE_START: setup header (bzImage) or a synthesised one (ELF) with
 * boot_flag/header magic, type_of_loader 0xff, cmd_line_ptr, ramdisk
 * image/size (0 when initrd_size is 0), and the e820 map. Refuses a command
 * line longer than ki->cmdline_max.
 */
int write_boot_params(const struct guest_mem *gm, const struct kernel_info *ki,
		      const char *cmdline, uint64_t initrd_addr,
		      uint64_t initrd_size, char *err, size_t errlen);

#endif
