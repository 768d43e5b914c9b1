/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pvh: which entry ember takes of an ELF with Xen's PVH note
 * (XEN_ELFNOTE_PHYS32_ENTRY). Built twice: pvh.elf with that note alone
 * (not Linux: ember must enter at the PVH entry), and pvh-linux.elf with a
 * note named "Linux" too, as Linux's vmlinux has (ember enters at the ELF's
 * 64-bit entry unless --pvh).
 *
 * The PVH entry (32-bit protected mode, paging off, %ebx = the
 * hvm_start_info) is the assembly below: it checks the start info's magic
 * and version, the mode, a memory map, prints "PVH-ENTRY cmdline=<the
 * command line>" and "PASS pvh" (or "FAIL pvh: <what>"), and resets. The
 * 64-bit entry (entry.S) runs guest_main: "PVH-64BIT-ENTRY", "PASS pvh".
 */
#include "lib.h"

const char guest_name[] = "pvh";

#ifdef PVH_LINUX_NOTE
#define LINUX_NOTE                                                              \
	"	.balign 4\n"                                                    \
	"	.long 6, 4, 0x100\n" /* "Linux", build salt (Linux's first note) */ \
	"	.asciz \"Linux\"\n"                                             \
	"	.balign 4\n"                                                    \
	"	.long 0\n"
#else
#define LINUX_NOTE ""
#endif

__asm__(
	"	.section .note.pvh, \"a\"\n"
	"	.balign 4\n"
	"	.long 4, 4, 18\n" /* "Xen", 4-byte desc, XEN_ELFNOTE_PHYS32_ENTRY */
	"	.asciz \"Xen\"\n"
	"	.balign 4\n"
	"	.long pvh_start\n"
	LINUX_NOTE
	"	.text\n"
	"	.code32\n"
	"pvh_start:\n"
	"	cli\n"
	"	movl	$pvh_stack + 256, %esp\n"
	"	movl	%ebx, %esi\n"
	"	movl	$pvh_fail_magic, %edi\n"
	"	cmpl	$0x336ec578, (%esi)\n"
	"	jne	pvh_fail\n"
	"	movl	$pvh_fail_version, %edi\n"
	"	cmpl	$1, 4(%esi)\n"
	"	jb	pvh_fail\n"
	"	movl	$pvh_fail_mode, %edi\n"
	"	movl	%cr0, %eax\n"
	"	testl	$1, %eax\n"         /* protected mode */
	"	jz	pvh_fail\n"
	"	testl	$0x80000000, %eax\n" /* no paging */
	"	jnz	pvh_fail\n"
	"	movl	$pvh_fail_memmap, %edi\n"
	"	cmpl	$0, 48(%esi)\n"     /* memmap_entries */
	"	je	pvh_fail\n"
	"	cmpl	$0, 40(%esi)\n"     /* memmap_paddr */
	"	je	pvh_fail\n"
	"	movl	$pvh_fail_cmdline, %edi\n"
	"	cmpl	$0, 24(%esi)\n"     /* cmdline_paddr */
	"	je	pvh_fail\n"
	"	movl	$pvh_said_cmdline, %edi\n"
	"	call	pvh_puts\n"
	"	movl	24(%esi), %edi\n"
	"	call	pvh_puts\n"
	"	movl	$pvh_said_pass, %edi\n"
	"	call	pvh_puts\n"
	"	jmp	pvh_reset\n"
	"pvh_fail:\n"
	"	call	pvh_puts\n"
	"pvh_reset:\n"
	"	movb	$0xfe, %al\n"
	"	outb	%al, $0x64\n"
	"1:	hlt\n"
	"	jmp	1b\n"
	/* pvh_puts: the NUL-terminated string at %edi to COM1 */
	"pvh_puts:\n"
	"	movw	$0x3f8, %dx\n"
	"2:	movb	(%edi), %al\n"
	"	testb	%al, %al\n"
	"	jz	3f\n"
	"	outb	%al, %dx\n"
	"	incl	%edi\n"
	"	jmp	2b\n"
	"3:	ret\n"
	"	.code64\n"
	"	.section .rodata\n"
	"pvh_fail_magic:	.asciz \"FAIL pvh: no hvm_start_info magic at %ebx\\n\"\n"
	"pvh_fail_version:	.asciz \"FAIL pvh: hvm_start_info version 0\\n\"\n"
	"pvh_fail_mode:	.asciz \"FAIL pvh: not in 32-bit protected mode without paging\\n\"\n"
	"pvh_fail_memmap:	.asciz \"FAIL pvh: no memory map\\n\"\n"
	"pvh_fail_cmdline:	.asciz \"FAIL pvh: no command line\\n\"\n"
	"pvh_said_cmdline:	.asciz \"PVH-ENTRY cmdline=\"\n"
	"pvh_said_pass:	.asciz \"\\nPASS pvh\\n\"\n"
	"	.section .bss\n"
	"	.balign 16\n"
	"pvh_stack:	.skip 256\n"
	"	.text\n");

void guest_main(const uint8_t *zp)
{
	(void)zp;
	print("PVH-64BIT-ENTRY\n");
	print("PASS pvh\n");
}
