/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bzImage loader (boot protocol 2.12+, 64-bit entry): the protected-mode
 * part, after the (setup_sects + 1) 512-byte real-mode sectors, goes to
 * HIMEM_START; the 64-bit entry point is 0x200 bytes into it.
 *
 * load_end: the compressed kernel moves itself to its runtime start
 * address before decompressing (boot.rst, init_size), and needs init_size
 * bytes there, so the kernel owns [1 MiB, max(1 MiB + image size,
 * runtime start + init_size)). Both ends must be in low RAM.
 */
#include "core/layout.h"
#include "kernel-loader/bootparam.h"
#include "kernel-loader/loader.h"

#include <inttypes.h>
#include <string.h>

/* Where the kernel decompresses itself when loaded at HIMEM_START. */
static int runtime_start(const uint8_t *img, uint64_t low_end, uint64_t *start,
			 char *err, size_t errlen)
{
	uint64_t pref = get_le64(img + BP_PREF_ADDRESS);
	uint64_t align = get_le32(img + BP_KERNEL_ALIGNMENT);
	uint64_t s = HIMEM_START;

	if (img[BP_RELOCATABLE_KERNEL]) {
		if (align == 0 || (align & (align - 1)))
			return errorf(err, errlen,
					   "bzImage has an invalid kernel_alignment 0x%" PRIx64, align);
		if (pref > s)
			s = pref;
		if (s > low_end) /* also keeps the rounding below from wrapping */
			goto nofit;
		s = (s + align - 1) & ~(align - 1);
	} else {
		s = pref;
	}
	if (s < HIMEM_START || s >= low_end)
		goto nofit;
	*start = s;
	return 0;
nofit:
	return errorf(err, errlen,
			   "bzImage runs at 0x%" PRIx64 " (pref_address), outside guest RAM below 0x%" PRIx64,
			   pref, low_end);
}

int load_bzimage(const struct guest_mem *gm, const uint8_t *img, size_t len,
		 struct kernel_info *ki, char *err, size_t errlen)
{
	uint64_t low_end = gm_low_end(gm);
	uint64_t setup_size, pm_size, init_size, start = 0, end;
	uint16_t version, xlf;
	size_t hdr_end;
	unsigned int sects;

	if (len < BP_HDR_MIN_END)
		return errorf(err, errlen,
				   "bzImage truncated: %zu bytes, the setup header ends at 0x%x",
				   len, BP_HDR_MIN_END);
	if (get_le16(img + BP_BOOT_FLAG) != BOOT_FLAG_MAGIC)
		return errorf(err, errlen, "bzImage has a bad boot flag 0x%04x (expected 0x%04x)",
				   get_le16(img + BP_BOOT_FLAG), BOOT_FLAG_MAGIC);
	version = get_le16(img + BP_VERSION);
	if (version < BOOT_PROTO_MIN)
		return errorf(err, errlen,
				   "bzImage boot protocol %u.%02u is too old (need 2.12 or later)",
				   version >> 8, version & 0xff);
	xlf = get_le16(img + BP_XLOADFLAGS);
	if (!(xlf & XLF_KERNEL_64))
		return errorf(err, errlen,
				   "bzImage has no 64-bit entry point (XLF_KERNEL_64 not set in xloadflags 0x%04x)",
				   xlf);
	hdr_end = BP_HEADER + (size_t)img[BP_JUMP + 1];
	if (hdr_end < BP_HDR_MIN_END)
		return errorf(err, errlen,
				   "bzImage setup header ends at 0x%zx, too short for protocol 2.12",
				   hdr_end);

	sects = img[BP_SETUP_SECTS] ? img[BP_SETUP_SECTS] : 4;
	setup_size = ((uint64_t)sects + 1) * 512;
	if (setup_size >= len || hdr_end > len)
		return errorf(err, errlen,
				   "bzImage truncated: %zu bytes, no kernel after %u setup sectors",
				   len, sects);
	pm_size = len - setup_size;

	if (low_end <= HIMEM_START || pm_size > low_end - HIMEM_START)
		return errorf(err, errlen,
				   "bzImage kernel (%" PRIu64 " bytes at 0x%llx) does not fit in guest RAM below 0x%" PRIx64,
				   pm_size, HIMEM_START, low_end);
	if (runtime_start(img, low_end, &start, err, errlen))
		return -1;
	init_size = get_le32(img + BP_INIT_SIZE);
	if (init_size > low_end - start)
		return errorf(err, errlen,
				   "bzImage needs 0x%" PRIx64 " bytes (init_size) at 0x%" PRIx64
				   ", beyond guest RAM ending at 0x%" PRIx64,
				   init_size, start, low_end);
	end = start + init_size;
	if (HIMEM_START + pm_size > end)
		end = HIMEM_START + pm_size;

	if (gm_write(gm, HIMEM_START, img + setup_size, pm_size))
		return errorf(err, errlen, "bzImage kernel outside guest memory");

	ki->format = KERNEL_BZIMAGE;
	ki->entry = HIMEM_START + BZIMAGE_ENTRY_64_OFF;
	ki->load_start = HIMEM_START;
	ki->load_end = end;
	ki->hdr_len = hdr_end - BP_HDR;
	if (ki->hdr_len > sizeof(ki->hdr))
		ki->hdr_len = sizeof(ki->hdr);
	memcpy(ki->hdr, img + BP_HDR, ki->hdr_len);
	ki->boot_version = version;
	ki->cmdline_max = get_le32(img + BP_CMDLINE_SIZE);
	if (ki->cmdline_max > CMDLINE_MAX_SIZE - 1)
		ki->cmdline_max = CMDLINE_MAX_SIZE - 1;
	ki->initrd_addr_max = get_le32(img + BP_INITRD_ADDR_MAX);
	return 0;
}
