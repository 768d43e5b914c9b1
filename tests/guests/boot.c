/* SPDX-License-Identifier: Apache-2.0 */
/*
 * boot: checks what a Linux kernel would see when ember enters it.
 *
 * Expectations come from the command line (all optional except
 * expect_mem_mib; numbers decimal or 0x-hex):
 *   expect_mem_mib=N        guest RAM; the e820 map must be exactly
 *                           RAM [0,0x9fc00) reserved [0x9fc00,1M)
 *                           RAM [1M, min(N MiB, 0xd0000000))
 *                           RAM [4G, 4G + rest) when N MiB > 0xd0000000
 *   expect_cpus=N           MP table processor entries (default 1)
 *   expect_threads=T        threads per core in CPUID's topology (default 1):
 *                           leaf 0xB (or AMD's 0x8000001E) and leaf 4's cores
 *   expect_initrd_size=N    ramdisk_size (0: no initrd, image must be 0)
 *   expect_initrd_sum=H     FNV-1a 32 of the initrd bytes
 *   expect_cmdline_len=N    strlen of the whole command line
 *   expect_bzimage=1        setup header fields of boot.bzImage (mkbzimage)
 *   end=1                   must be the last token: nothing appended
 * Always checked: the entry state, the page tables, the command line, CPUID
 * (hypervisor and TSC-deadline bits, topology, KVM's signature and the timing
 * leaf 0x40000010).
 * The command line must start with "console=ttyS0 reboot=k panic=1 i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd guest=boot "
 * (ember's defaults, then the user text, whose first token is guest=boot).
 *
 * Prints one "FAIL boot: <reason>" line per failed check, "PASS boot" if
 * none failed, then resets through the i8042.
 */
#include "lib.h"

const char guest_name[] = "boot";

#define EBDA_START      0x9fc00UL
#define HIMEM_START     0x100000UL
#define MMIO_GAP_START  0xd0000000UL
#define FOUR_GIB        0x100000000UL
#define LAPIC_ADDR      0xfee00000UL

#define CMDLINE_PREFIX  "console=ttyS0 reboot=k panic=1 i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd guest=boot "
#define CMDLINE_SUFFIX  " end=1"

/* What mkbzimage writes into boot.bzImage's setup header. */
#define BZ_VERSION       0x020f
#define BZ_SETUP_SECTS   1
#define BZ_CMDLINE_SIZE  2047
#define BZ_CODE32_START  0x100000

struct e820 { uint64_t addr, size; uint32_t type; };

static uint64_t low_ram_end;    /* from expect_mem_mib */

static int in_low_ram(uint64_t addr, uint64_t len)
{
	return addr >= HIMEM_START && addr + len >= addr && addr + len <= low_ram_end;
}

static void check_entry_state(void)
{
	const struct entry_state *s = &entry_state;

	if (s->rsi != 0x7000)
		fail("entry RSI 0x%lx, want 0x7000 (zero page)", s->rsi);
	if (s->rsp != 0x8ff0)
		fail("entry RSP 0x%lx, want 0x8ff0", s->rsp);
	if (s->rflags & (1u << 9))
		fail("entry RFLAGS 0x%lx: interrupts enabled", s->rflags);
	if (s->cs != 0x10)
		fail("entry CS 0x%lx, want 0x10", s->cs);
	if (s->ds != 0x18 || s->es != 0x18 || s->ss != 0x18)
		fail("entry DS/ES/SS 0x%lx/0x%lx/0x%lx, want 0x18", s->ds, s->es, s->ss);
	if ((s->cr0 & 0x80000001u) != 0x80000001u)
		fail("entry CR0 0x%lx: PE/PG not both set", s->cr0);
	if (!(s->cr4 & (1u << 5)))
		fail("entry CR4 0x%lx: PAE clear", s->cr4);
	if ((s->efer & 0x500) != 0x500)
		fail("entry EFER 0x%lx: LME/LMA not both set", s->efer);
}

/* The low 4 GiB must be identity-mapped with 2 MiB pages (4-level paging). */
static void check_page_tables(void)
{
	const uint64_t addr_mask = 0x000ffffffffff000ULL;
	const uint8_t *pml4 = phys(entry_state.cr3 & addr_mask);
	uint64_t e = rd64(pml4);

	if ((e & 3) != 3) {
		fail("PML4[0] 0x%lx not present+writable", e);
		return;
	}
	const uint8_t *pdpt = phys(e & addr_mask);
	for (unsigned g = 0; g < 4; g++) {
		e = rd64(pdpt + 8 * g);
		if ((e & 0x83) != 3) {
			fail("PDPT[%u] 0x%lx: not a present writable table", g, e);
			return;
		}
		const uint8_t *pd = phys(e & addr_mask);
		for (unsigned i = 0; i < 512; i++) {
			uint64_t want = ((uint64_t)g << 30) | ((uint64_t)i << 21);
			e = rd64(pd + 8 * i);
			if ((e & 0x83) != 0x83 || (e & 0x000fffffffe00000ULL) != want) {
				fail("PD[%u][%u] 0x%lx: not a present writable 2M page at 0x%lx",
				     g, i, e, want);
				return;
			}
		}
	}
}

static void check_header(const uint8_t *zp, int bzimage)
{
	if (rd16(zp + BP_BOOT_FLAG) != 0xaa55)
		fail("boot_flag 0x%x, want 0xaa55", rd16(zp + BP_BOOT_FLAG));
	if (memcmp(zp + BP_HEADER, "HdrS", 4) != 0)
		fail("header magic 0x%x, want \"HdrS\"", rd32(zp + BP_HEADER));
	if (rd8(zp + BP_TYPE_OF_LOADER) != 0xff)
		fail("type_of_loader 0x%x, want 0xff", rd8(zp + BP_TYPE_OF_LOADER));
	if (!bzimage)
		return;
	if (rd16(zp + BP_VERSION) != BZ_VERSION)
		fail("bzImage: version 0x%x, want 0x%x (setup header not copied?)",
		     rd16(zp + BP_VERSION), BZ_VERSION);
	if (rd8(zp + BP_SETUP_SECTS) != BZ_SETUP_SECTS)
		fail("bzImage: setup_sects %u, want %u", rd8(zp + BP_SETUP_SECTS),
		     BZ_SETUP_SECTS);
	if (!(rd16(zp + BP_XLOADFLAGS) & 1))
		fail("bzImage: xloadflags 0x%x lacks XLF_KERNEL_64", rd16(zp + BP_XLOADFLAGS));
	if (rd32(zp + BP_CMDLINE_SIZE) != BZ_CMDLINE_SIZE)
		fail("bzImage: cmdline_size %u, want %u", rd32(zp + BP_CMDLINE_SIZE),
		     BZ_CMDLINE_SIZE);
	if (rd32(zp + BP_CODE32_START) != BZ_CODE32_START)
		fail("bzImage: code32_start 0x%x, want 0x%x", rd32(zp + BP_CODE32_START),
		     BZ_CODE32_START);
	if (!(rd8(zp + BP_LOADFLAGS) & 1))
		fail("bzImage: loadflags 0x%x lacks LOADED_HIGH", rd8(zp + BP_LOADFLAGS));
}

static void check_e820(const uint8_t *zp, uint64_t mem)
{
	struct e820 want[4];
	unsigned nwant = 0;

	want[nwant++] = (struct e820){ 0, EBDA_START, 1 };
	want[nwant++] = (struct e820){ EBDA_START, HIMEM_START - EBDA_START, 2 };
	want[nwant++] = (struct e820){ HIMEM_START, low_ram_end - HIMEM_START, 1 };
	if (mem > MMIO_GAP_START)
		want[nwant++] = (struct e820){ FOUR_GIB, mem - MMIO_GAP_START, 1 };

	unsigned n = rd8(zp + BP_E820_ENTRIES);
	if (n != nwant)
		fail("e820: %u entries, want %u", n, nwant);
	if (n > BP_E820_MAX)
		n = BP_E820_MAX;
	for (unsigned i = 0; i < n && i < nwant; i++) {
		const uint8_t *e = zp + BP_E820_TABLE + 20 * i;
		uint64_t a = rd64(e), s = rd64(e + 8);
		uint32_t t = rd32(e + 16);
		if (a != want[i].addr || s != want[i].size || t != want[i].type)
			fail("e820[%u] = [0x%lx +0x%lx type %u], want [0x%lx +0x%lx type %u]",
			     i, a, s, t, want[i].addr, want[i].size, want[i].type);
	}
}

/* Returns the command line (NULL if unusable). */
static const char *check_cmdline(const uint8_t *zp)
{
	uint64_t ptr = rd32(zp + BP_CMD_LINE_PTR) |
		       (uint64_t)rd32(zp + BP_EXT_CMD_LINE_PTR) << 32;

	if (ptr == 0 || ptr >= low_ram_end || (ptr >= EBDA_START && ptr < HIMEM_START)) {
		fail("cmd_line_ptr 0x%lx is not in RAM", ptr);
		return NULL;
	}
	const char *cl = (const char *)phys(ptr);
	size_t len = strnlen(cl, 2048);
	if (len == 2048) {
		fail("command line at 0x%lx is not NUL-terminated within 2048 bytes", ptr);
		return NULL;
	}
	size_t plen = sizeof(CMDLINE_PREFIX) - 1, slen = sizeof(CMDLINE_SUFFIX) - 1;
	if (len < plen || memcmp(cl, CMDLINE_PREFIX, plen) != 0)
		fail("command line does not start with \"%s\": \"%s\"", CMDLINE_PREFIX, cl);
	if (len < slen || memcmp(cl + len - slen, CMDLINE_SUFFIX, slen) != 0)
		fail("command line does not end with \"%s\": \"%s\"", CMDLINE_SUFFIX, cl);
	uint64_t want;
	if (cmdline_u64(cl, "expect_cmdline_len", len, &want) != 0)
		fail("bad expect_cmdline_len");
	else if (want != len)
		fail("command line is %lu bytes long, want %lu", (uint64_t)len, want);
	return cl;
}

static void check_initrd(const uint8_t *zp, const char *cl)
{
	uint64_t want_size, want_sum;
	uint64_t image = rd32(zp + BP_RAMDISK_IMAGE) |
			 (uint64_t)rd32(zp + BP_EXT_RAMDISK_IMAGE) << 32;
	uint64_t size = rd32(zp + BP_RAMDISK_SIZE) |
			(uint64_t)rd32(zp + BP_EXT_RAMDISK_SIZE) << 32;

	if (cmdline_u64(cl, "expect_initrd_size", 0, &want_size) != 0 ||
	    cmdline_u64(cl, "expect_initrd_sum", 0, &want_sum) != 0) {
		fail("bad expect_initrd_size/expect_initrd_sum");
		return;
	}
	if (size != want_size) {
		fail("ramdisk_size %lu, want %lu", size, want_size);
		return;
	}
	if (want_size == 0) {
		if (image != 0)
			fail("no initrd but ramdisk_image is 0x%lx", image);
		return;
	}
	if (!in_low_ram(image, size)) {
		fail("initrd [0x%lx +0x%lx) is not inside RAM [1M, 0x%lx)", image, size,
		     low_ram_end);
		return;
	}
	uint64_t kend = (uint64_t)(uintptr_t)__image_end;
	if (image < kend)
		fail("initrd at 0x%lx overlaps the kernel image (ends 0x%lx)", image, kend);
	uint32_t sum = fnv1a32(phys(image), size);
	if (sum != (uint32_t)want_sum)
		fail("initrd checksum 0x%x, want 0x%x", sum, (uint32_t)want_sum);
}

static void check_ram_end(void)
{
	/* The last 8 bytes of low RAM must be mapped, writable RAM. */
	volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)(low_ram_end - 8);
	uint64_t old = *p;

	*p = 0x5a5aa5a5c3c33c3cULL;
	if (*p != 0x5a5aa5a5c3c33c3cULL)
		fail("RAM at 0x%lx does not hold a written value", low_ram_end - 8);
	*p = old;
}

static unsigned sum8(const uint8_t *p, unsigned len)
{
	unsigned s = 0;

	for (unsigned i = 0; i < len; i++)
		s += p[i];
	return s & 0xff;
}

static void check_mptable(uint64_t cpus)
{
	const uint8_t *mpf = phys(EBDA_START);

	if (memcmp(mpf, "_MP_", 4) != 0) {
		fail("no MP floating pointer \"_MP_\" at 0x%lx", EBDA_START);
		return;
	}
	if (rd8(mpf + 8) != 1)
		fail("MP floating pointer length %u paragraphs, want 1", rd8(mpf + 8));
	if (sum8(mpf, 16) != 0)
		fail("MP floating pointer checksum is off by 0x%x", sum8(mpf, 16));
	if (rd8(mpf + 9) != 1 && rd8(mpf + 9) != 4)
		fail("MP spec revision %u, want 1 or 4", rd8(mpf + 9));
	if (rd8(mpf + 11) != 0)
		fail("MP feature byte 1 is %u: default configuration, no table", rd8(mpf + 11));

	uint64_t cfg_addr = rd32(mpf + 4);
	if (cfg_addr < 0x1000 || cfg_addr + 44 > HIMEM_START) {
		fail("MP configuration table pointer 0x%lx is not below 1 MiB", cfg_addr);
		return;
	}
	const uint8_t *cfg = phys(cfg_addr);
	if (memcmp(cfg, "PCMP", 4) != 0) {
		fail("no \"PCMP\" at MP configuration table 0x%lx", cfg_addr);
		return;
	}
	unsigned len = rd16(cfg + 4), count = rd16(cfg + 34);
	if (len < 44 || cfg_addr + len > HIMEM_START) {
		fail("MP configuration table length %u is bad", len);
		return;
	}
	if (sum8(cfg, len) != 0)
		fail("MP configuration table checksum is off by 0x%x", sum8(cfg, len));
	if (rd32(cfg + 36) != LAPIC_ADDR)
		fail("MP local APIC address 0x%x, want 0x%lx", rd32(cfg + 36), LAPIC_ADDR);
	unsigned ext_len = rd16(cfg + 40);
	if (ext_len && cfg_addr + len + ext_len <= HIMEM_START &&
	    ((sum8(cfg + len, ext_len) + rd8(cfg + 42)) & 0xff) != 0)
		fail("MP extended table checksum is wrong");

	unsigned off = 44, nproc = 0;
	for (unsigned i = 0; i < count; i++) {
		if (off >= len) {
			fail("MP entry %u of %u lies beyond the table length %u", i, count, len);
			return;
		}
		unsigned type = rd8(cfg + off);
		unsigned esize = type == 0 ? 20 : 8;
		if (type > 4) {
			fail("MP entry %u has unknown type %u", i, type);
			return;
		}
		if (off + esize > len) {
			fail("MP entry %u overruns the table", i);
			return;
		}
		if (type == 0) {
			unsigned id = rd8(cfg + off + 1), flags = rd8(cfg + off + 3);
			if (id != nproc)
				fail("MP processor entry %u has APIC id %u, want %u", nproc, id, nproc);
			if (!(flags & 1))
				fail("MP processor %u is not enabled (flags 0x%x)", nproc, flags);
			if (!!(flags & 2) != (nproc == 0))
				fail("MP processor %u: BSP flag %s", nproc,
				     nproc == 0 ? "missing" : "set on an AP");
			nproc++;
		}
		off += esize;
	}
	if (off != len)
		fail("MP entries end at %u, table length says %u", off, len);
	if (nproc != cpus)
		fail("MP table lists %u processors, want %lu", nproc, cpus);
}

static void check_cpuid(uint64_t cpus, uint64_t threads)
{
	struct cpuid_regs r = cpuid(1, 0);
	uint32_t max = cpuid(0, 0).eax, maxext = cpuid(0x80000000u, 0).eax;

	if (!(r.ecx & (1u << 31)))
		fail("CPUID.1:ECX 0x%x lacks the hypervisor bit 31", r.ecx);
	if (r.ebx >> 24 != 0)
		fail("CPUID.1:EBX APIC id %u, want 0 on the BSP", r.ebx >> 24);
	if (!(r.ecx & (1u << 24)))
		fail("CPUID.1:ECX 0x%x lacks TSC-deadline bit 24 (Linux would use the PIT)", r.ecx);
	if (((r.ebx >> 16) & 0xff) != cpus)
		fail("CPUID.1:EBX %u logical processors, want %lu", (r.ebx >> 16) & 0xff, cpus);
	if (max >= 0xb) {
		r = cpuid(0xb, 0);
		if ((r.ebx & 0xffff) != threads || ((r.ecx >> 8) & 0xff) != 1)
			fail("CPUID.B.0: %u threads per core (level type %u), want %lu",
			     r.ebx & 0xffff, (r.ecx >> 8) & 0xff, threads);
		r = cpuid(0xb, 1);
		if ((r.ebx & 0xffff) != cpus)
			fail("CPUID.B.1: %u logical processors, want %lu", r.ebx & 0xffff, cpus);
	}
	if (max >= 4) {
		r = cpuid(4, 0);
		if ((r.eax & 0x1f) && (r.eax >> 26) + 1 != cpus / threads)
			fail("CPUID.4: %u cores, want %lu", (r.eax >> 26) + 1, cpus / threads);
	}
	/* KVM's signature, and the timing leaf: TSC kHz (a sane range), bus 1 GHz */
	r = cpuid(0x40000000u, 0);
	if (r.ebx != 0x4b4d564bu || r.ecx != 0x564b4d56u || r.edx != 0x4d)
		fail("CPUID.40000000: signature %x %x %x, want KVMKVMKVM", r.ebx, r.ecx, r.edx);
	else if (r.eax < 0x40000010u)
		fail("CPUID.40000000: maximum leaf 0x%x, want 0x40000010 (timing)", r.eax);
	r = cpuid(0x40000010u, 0);
	if (r.eax < 100000 || r.eax > 10000000 || r.ebx != 1000000)
		fail("CPUID.40000010: TSC %u kHz, bus %u kHz; want 100000-10000000 and 1000000",
		     r.eax, r.ebx);
	if (maxext >= 0x8000001eu && cpuid(0x80000001u, 0).ecx) {
		r = cpuid(0x8000001eu, 0);
		if (((r.ebx >> 8) & 0xff) + 1 != threads && ((r.ebx >> 8) & 0xff) != 0xff)
			fail("CPUID.8000001E: %u threads per core, want %lu",
			     ((r.ebx >> 8) & 0xff) + 1, threads);
	}
}

void guest_main(const uint8_t *zp_arg)
{
	(void)zp_arg;
	const uint8_t *zp = phys(0x7000);
	uint64_t mem_mib = 0, cpus = 1, bz = 0, threads = 1;

	check_entry_state();
	check_header(zp, 0);

	/* The command line drives everything else; find it first. */
	uint64_t mem_guess = 16; /* until expect_mem_mib is known */
	low_ram_end = mem_guess << 20;
	uint64_t ptr = rd32(zp + BP_CMD_LINE_PTR);
	if (ptr == 0 || ptr >= 0xd0000000ULL) {
		fail("cmd_line_ptr 0x%lx: cannot read the expectations", ptr);
		return;
	}
	const char *raw = (const char *)phys(ptr);
	if (strnlen(raw, 2048) == 2048) {
		fail("command line at 0x%lx is not NUL-terminated", ptr);
		return;
	}
	if (cmdline_u64(raw, "expect_mem_mib", 0, &mem_mib) != 0 || mem_mib == 0) {
		fail("expect_mem_mib=N missing or bad on the command line: \"%s\"", raw);
		return;
	}
	if (cmdline_u64(raw, "expect_cpus", 1, &cpus) != 0 ||
	    cmdline_u64(raw, "expect_threads", 1, &threads) != 0 ||
	    cmdline_u64(raw, "expect_bzimage", 0, &bz) != 0) {
		fail("bad expect_cpus/expect_threads/expect_bzimage");
		return;
	}
	uint64_t mem = mem_mib << 20;
	low_ram_end = mem < MMIO_GAP_START ? mem : MMIO_GAP_START;

	if (bz)
		check_header(zp, 1);
	const char *cl = check_cmdline(zp);
	check_e820(zp, mem);
	check_page_tables();
	if (cl)
		check_initrd(zp, cl);
	check_ram_end();
	check_mptable(cpus);
	check_cpuid(cpus, threads);

	if (failures == 0)
		print("PASS boot\n");
}
