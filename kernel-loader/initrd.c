/* SPDX-License-Identifier: Apache-2.0 */
/* initrd placement: page-aligned, as high as the kernel allows. */
#include "core/layout.h"
#include "kernel-loader/bootparam.h"
#include "kernel-loader/loader.h"

#include <inttypes.h>

#define INITRD_ALIGN 0x1000ULL

int load_initrd(const struct guest_mem *gm, const struct kernel_info *ki,
		const uint8_t *data, size_t len, uint64_t *addr,
		char *err, size_t errlen)
{
	uint64_t top = gm_low_end(gm);
	uint64_t floor = ki->load_end > HIMEM_START ? ki->load_end : HIMEM_START;
	uint64_t a;

	if (!data || len == 0)
		return errorf(err, errlen, "initrd is empty");
	/* the initrd's last byte must be <= initrd_addr_max */
	if (top > 0 && ki->initrd_addr_max < top - 1)
		top = ki->initrd_addr_max + 1;
	if ((uint64_t)len > top || top - len < floor)
		goto nofit;
	a = (top - len) & ~(INITRD_ALIGN - 1);
	if (a < floor)
		goto nofit;
	if (gm_write(gm, a, data, len))
		goto nofit;
	*addr = a;
	return 0;
nofit:
	return errorf(err, errlen,
			   "initrd (%zu bytes) does not fit in guest memory below 0x%" PRIx64
			   " (kernel ends at 0x%" PRIx64 ")",
			   len, top, floor);
}
