/* SPDX-License-Identifier: Apache-2.0 */
/* load_kernel(): detect the image format and hand it to its loader. */
#include "kernel-loader/bootparam.h"
#include "kernel-loader/loader.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int load_kernel(const struct guest_mem *gm, const uint8_t *img, size_t len,
		struct kernel_info *ki, char *err, size_t errlen)
{
	memset(ki, 0, sizeof(*ki));
	if (err && errlen)
		err[0] = '\0';
	if (!img || len == 0)
		return errorf(err, errlen, "kernel image is empty");
	if (len >= 4 && memcmp(img, "\177ELF", 4) == 0)
		return load_elf(gm, img, len, ki, err, errlen);
	if (len >= BP_HEADER + 4 && get_le32(img + BP_HEADER) == HDRS_MAGIC)
		return load_bzimage(gm, img, len, ki, err, errlen);
	return errorf(err, errlen,
			   "unrecognised kernel image (neither an ELF vmlinux nor a bzImage with a \"HdrS\" header)");
}
