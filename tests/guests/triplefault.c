/* SPDX-License-Identifier: Apache-2.0 */
/*
 * triplefault: loads an IDT with limit 0 and executes ud2. The #UD cannot be
 * delivered (#GP), neither can the #GP (#DF), nor the #DF: a triple fault,
 * which ember must report ("triple fault" on stderr, exit status 3).
 */
#include "lib.h"

const char guest_name[] = "triplefault";

void guest_main(const uint8_t *zp)
{
	(void)zp;
	static const struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} empty_idt = { 0, 0 };

	print("triplefault: ud2 with a zero-length IDT\n");
	__asm__ volatile("lidt %0\n\tud2" : : "m"(empty_idt) : "memory");
	fail("survived ud2 with a zero-length IDT");
}
