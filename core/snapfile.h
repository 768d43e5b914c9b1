/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The snapshot state file's container (issue 16): a header, tagged sections
 * and a CRC64 over everything before it, checked before any section is
 * handed out. Pure code over memory buffers; the file is untrusted input.
 *
 *   header  "EMBERSNP" | u32 version | u32 flags (0) | u64 body length
 *   body    sections: u32 tag | u32 0 | u64 length | payload, zero-padded
 *           to a multiple of 8
 *   trailer u64 CRC-64/XZ of header and body
 *
 * All integers little-endian. A version other than SNAP_VERSION, unknown
 * flags, a length that disagrees with the buffer, a section running past
 * the body, non-zero padding or reserved fields, more than the caller's
 * room for sections, or a CRC mismatch: refused with a one-line reason.
 */
#ifndef EMBER_CORE_SNAPFILE_H
#define EMBER_CORE_SNAPFILE_H

#include <stddef.h>
#include <stdint.h>

#define SNAP_MAGIC      "EMBERSNP"
#define SNAP_VERSION    2u /* 2: the IOAPIC is ember's (no KVM irqchip or PIT state) */
#define SNAP_HDR_SIZE   24u
#define SNAP_SEC_HDR    16u
#define SNAP_CRC_SIZE   8u
/* What one file may hold, whatever its header says. */
#define SNAP_MAX_BODY   (64u << 20)

/* Section tags: four characters, first in the file's byte order. */
#define SNAP_TAG(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | \
			      (uint32_t)(d) << 24)
#define SNAP_TAG_CONFIG  SNAP_TAG('C', 'O', 'N', 'F') /* the VM's configuration (JSON) */
#define SNAP_TAG_VM      SNAP_TAG('K', 'V', 'M', 'V') /* clock, TSC kHz, IOAPIC */
#define SNAP_TAG_VCPU    SNAP_TAG('V', 'C', 'P', 'U') /* one per vCPU, in id order */
#define SNAP_TAG_SERIAL  SNAP_TAG('U', 'A', 'R', 'T')
#define SNAP_TAG_I8042   SNAP_TAG('I', '8', '0', '4')
#define SNAP_TAG_VIRTIO  SNAP_TAG('V', 'I', 'R', 'T') /* one per virtio-mmio slot */

/* CRC-64/XZ (ECMA-182 polynomial, reflected, inverted): "123456789" gives
 * 0x995dc9bbdf1939fa. crc starts at 0 and chains across calls. */
uint64_t crc64_xz(uint64_t crc, const void *data, size_t len);

/* A file being written in memory; any failure sticks (snap_w_finish says). */
struct snap_writer {
	uint8_t *buf;
	size_t len, cap;
	int failed;
};

void snap_w_init(struct snap_writer *w);
/* Append a section of len bytes (len may be 0). */
void snap_w_section(struct snap_writer *w, uint32_t tag, const void *data, uint64_t len);
/*
 * Fill in the header and the CRC; on success the caller owns *out (free())
 * of *outlen bytes. -1 when a section could not be added (out of memory,
 * or past SNAP_MAX_BODY); the writer is empty afterwards either way.
 */
int snap_w_finish(struct snap_writer *w, uint8_t **out, size_t *outlen);

struct snap_section {
	uint32_t tag;
	uint64_t len;
	const uint8_t *data; /* inside the parsed buffer */
};

/*
 * Check buf (len bytes) whole, then list its sections in file order into
 * secs (room for max). 0 with *n set, or -1 with a one-line reason in err.
 */
int snap_parse(const uint8_t *buf, size_t len, struct snap_section *secs, unsigned int max,
	       unsigned int *n, char *err, size_t errlen);

#endif
