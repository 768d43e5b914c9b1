/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal to the kernel loader (and its unit tests): byte offsets in the
 * zero page (struct boot_params) and in a bzImage (whose first 0x270 bytes
 * use the same layout for the setup header), plus little-endian accessors.
 * See Linux's Documentation/arch/x86/boot.rst and zero-page.rst.
 */
#ifndef EMBER_BOOTPARAM_H
#define EMBER_BOOTPARAM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/ember.h" /* errorf */
#include "kernel-loader/loader.h"

#define ZERO_PAGE_SIZE        0x1000

/* boot_params, outside the setup header */
#define BP_ACPI_RSDP_ADDR     0x070 /* u64, where the RSDP is (0: scan for it) */
#define BP_EXT_RAMDISK_IMAGE  0x0c0 /* u32, high half of ramdisk_image */
#define BP_EXT_RAMDISK_SIZE   0x0c4 /* u32, high half of ramdisk_size */
#define BP_EXT_CMD_LINE_PTR   0x0c8 /* u32, high half of cmd_line_ptr */
#define BP_E820_ENTRIES       0x1e8 /* u8 */
#define BP_E820_TABLE         0x2d0 /* 128 x struct e820_entry */
#define BP_E820_MAX           128

/* struct setup_header, at the same offsets in the image and zero page */
#define BP_HDR                0x1f1 /* first byte: setup_sects */
#define BP_SETUP_SECTS        0x1f1 /* u8, 0 means 4 */
#define BP_BOOT_FLAG          0x1fe /* u16, 0xaa55 */
#define BP_JUMP               0x200 /* u16: 0xeb, offset of header end - 0x202 */
#define BP_HEADER             0x202 /* u32, "HdrS" */
#define BP_VERSION            0x206 /* u16 */
#define BP_TYPE_OF_LOADER     0x210 /* u8 */
#define BP_LOADFLAGS          0x211 /* u8 */
#define BP_RAMDISK_IMAGE      0x218 /* u32 */
#define BP_RAMDISK_SIZE       0x21c /* u32 */
#define BP_CMD_LINE_PTR       0x228 /* u32 */
#define BP_INITRD_ADDR_MAX    0x22c /* u32 */
#define BP_KERNEL_ALIGNMENT   0x230 /* u32 */
#define BP_RELOCATABLE_KERNEL 0x234 /* u8 */
#define BP_XLOADFLAGS         0x236 /* u16 */
#define BP_CMDLINE_SIZE       0x238 /* u32, excluding the NUL */
#define BP_PREF_ADDRESS       0x258 /* u64 */
#define BP_INIT_SIZE          0x260 /* u32 */
#define BP_HDR_MIN_END        0x264 /* a 2.12 header reaches at least here */

#define BOOT_FLAG_MAGIC       0xaa55
#define HDRS_MAGIC            0x53726448u /* "HdrS" little-endian */
#define LOADFLAG_LOADED_HIGH  0x01
#define XLF_KERNEL_64         0x0001
#define LOADER_TYPE_UNDEFINED 0xff
#define BOOT_PROTO_MIN        0x020c /* 2.12: xloadflags */
#define ELF_BOOT_VERSION      0x020c /* synthesised header for vmlinux */
#define ELF_KERNEL_ALIGNMENT  0x1000000
#define BZIMAGE_ENTRY_64_OFF  0x200 /* 64-bit entry, from the load address */

_Static_assert(sizeof(struct e820_entry) == 20, "e820 entry must be 20 bytes");
_Static_assert(BP_E820_TABLE + BP_E820_MAX * 20 <= ZERO_PAGE_SIZE, "e820 table");

static inline uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static inline void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
	put_le16(p, (uint16_t)v);
	put_le16(p + 2, (uint16_t)(v >> 16));
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}


int load_elf(const struct guest_mem *gm, const uint8_t *img, size_t len,
	     struct kernel_info *ki, char *err, size_t errlen);
int load_bzimage(const struct guest_mem *gm, const uint8_t *img, size_t len,
		 struct kernel_info *ki, char *err, size_t errlen);

#endif
