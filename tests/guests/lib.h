/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Freestanding support for ember's test guests: port I/O, a polled 8250
 * console, a tiny printf, i8042 reset, command-line parsing and the few
 * libc functions gcc may call. Guests run in CPL0 under KVM's instruction
 * emulator on some hosts (~1.3 us per instruction): keep everything short.
 *
 * entry.S saves the register state ember handed over (see struct
 * entry_state) and calls guest_main() on ember's stack (RSP 0x8ff0).
 */
#ifndef EMBER_TEST_GUEST_LIB_H
#define EMBER_TEST_GUEST_LIB_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define COM1          0x3f8
#define COM1_LSR      (COM1 + 5)
#define LSR_THRE      0x20
#define I8042_CMD     0x64
#define I8042_RESET   0xfe

/* The zero page (struct boot_params) offsets the guests look at. */
#define BP_EXT_RAMDISK_IMAGE  0x0c0
#define BP_EXT_RAMDISK_SIZE   0x0c4
#define BP_EXT_CMD_LINE_PTR   0x0c8
#define BP_E820_ENTRIES       0x1e8
#define BP_SETUP_SECTS        0x1f1
#define BP_BOOT_FLAG          0x1fe
#define BP_HEADER             0x202
#define BP_VERSION            0x206
#define BP_TYPE_OF_LOADER     0x210
#define BP_LOADFLAGS          0x211
#define BP_CODE32_START       0x214
#define BP_RAMDISK_IMAGE      0x218
#define BP_RAMDISK_SIZE       0x21c
#define BP_CMD_LINE_PTR       0x228
#define BP_INITRD_ADDR_MAX    0x22c
#define BP_XLOADFLAGS         0x236
#define BP_CMDLINE_SIZE       0x238
#define BP_INIT_SIZE          0x260
#define BP_E820_TABLE         0x2d0
#define BP_E820_MAX           128

/* Register state at the 64-bit entry point, saved by entry.S. */
struct entry_state {
	uint64_t rsi, rsp, rflags, cr0, cr3, cr4, efer;
	uint64_t cs, ds, es, ss;
};
extern struct entry_state entry_state;

/* Linker-script symbols: first and one-past-last byte of the image. */
extern char __image_start[], __image_end[];

/* Each guest defines these. */
extern const char guest_name[];
void guest_main(const uint8_t *zero_page);

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint16_t inw(uint16_t port)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

struct cpuid_regs { uint32_t eax, ebx, ecx, edx; };
static inline struct cpuid_regs cpuid(uint32_t leaf, uint32_t subleaf)
{
	struct cpuid_regs r;
	__asm__ volatile("cpuid"
			 : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
			 : "a"(leaf), "c"(subleaf));
	return r;
}

/* Unaligned-safe little-endian loads from guest-physical addresses. */
static inline uint8_t rd8(const void *p) { return *(const volatile uint8_t *)p; }
static inline uint16_t rd16(const void *p)
{
	const volatile uint8_t *b = p;
	return (uint16_t)(b[0] | b[1] << 8);
}
static inline uint32_t rd32(const void *p)
{
	return rd16(p) | (uint32_t)rd16((const uint8_t *)p + 2) << 16;
}
static inline uint64_t rd64(const void *p)
{
	return rd32(p) | (uint64_t)rd32((const uint8_t *)p + 4) << 32;
}
static inline const uint8_t *phys(uint64_t addr)
{
	return (const uint8_t *)(uintptr_t)addr;
}

/* Console. */
void putc_serial(char c);
void puts_serial(const char *s);              /* no newline added */
void vprint(const char *fmt, va_list ap);
/* %s %c %d %u %x %lu %lx %lld... and %%; no widths. */
void print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Write 0xfe to the i8042 command port; never returns. */
__attribute__((noreturn)) void reset(void);

/* "FAIL <guest>: <reason>" and count it (see failures). */
void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern unsigned failures;

/*
 * Command line: value of the first "key=value" token (NULL if absent),
 * with its length in *len. Tokens are separated by spaces.
 */
const char *cmdline_get(const char *cmdline, const char *key, size_t *len);
/* Parse a decimal or 0x-prefixed hex number of exactly len chars. */
int parse_u64(const char *s, size_t len, uint64_t *out);
/* Convenience: key's numeric value, or dflt if absent; -1 if malformed. */
int cmdline_u64(const char *cmdline, const char *key, uint64_t dflt, uint64_t *out);

/* FNV-1a 32-bit, the checksum tests/guests/fnv1a.c computes on the host. */
uint32_t fnv1a32(const uint8_t *p, uint64_t len);

size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int memcmp(const void *a, const void *b, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);

#endif
