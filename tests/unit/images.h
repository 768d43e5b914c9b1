/* SPDX-License-Identifier: Apache-2.0 */
/* Kernel images crafted for the loader tests. */
#ifndef EMBER_TEST_IMAGES_H
#define EMBER_TEST_IMAGES_H

#include <elf.h>
#include <stddef.h>
#include <stdint.h>

/* ELF: header, program headers, then each segment's file bytes in order. */
struct elf_seg {
	uint32_t type;     /* PT_LOAD, PT_NOTE, ... */
	uint64_t paddr;
	uint64_t filesz;
	uint64_t memsz;
};

/* malloc'd image; byte k of segment i's file data is (uint8_t)(0x40 + 7 * i + k) */
uint8_t *make_elf(const struct elf_seg *segs, int n, uint64_t entry, size_t *len);

static inline Elf64_Ehdr *elf_ehdr(uint8_t *img)
{
	return (Elf64_Ehdr *)img;
}

static inline Elf64_Phdr *elf_phdr(uint8_t *img, int i)
{
	return (Elf64_Phdr *)(img + sizeof(Elf64_Ehdr) + (size_t)i * sizeof(Elf64_Phdr));
}

/* bzImage: (setup_sects or 4) + 1 sectors of setup, then pm_size bytes. */
struct bz_opts {
	uint8_t setup_sects;
	size_t pm_size;
	uint32_t init_size;
	uint64_t pref_address;
	uint32_t kernel_alignment;
	uint8_t relocatable;
	uint16_t version;
	uint16_t xloadflags;
	uint32_t cmdline_size;
	uint32_t initrd_addr_max;
	uint8_t loadflags;
	uint8_t hdr_jump;  /* image[0x201]: header end = 0x202 + hdr_jump */
};

/* A typical modern kernel: 2.15, relocatable, pref 16 MiB, 2 MiB alignment. */
void bz_defaults(struct bz_opts *o);
uint8_t *make_bz(const struct bz_opts *o, size_t *len);
/* byte k of the protected-mode part */
static inline uint8_t bz_pm_byte(size_t k)
{
	return (uint8_t)(0x5a ^ (k * 13) ^ (k >> 9));
}

#endif
