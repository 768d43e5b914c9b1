/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Common entry of ember's test guests. The image starts at 1 MiB; the 64-bit
 * entry point _start is at 1 MiB + 0x200, where Linux's boot protocol enters
 * a bzImage's protected-mode part in 64-bit mode, so the same flat binary
 * serves as ELF and bzImage payload. The first 0x200 bytes are a stop loop
 * for anyone entering at code32_start (1 MiB) in 32-bit mode (f4 eb fd:
 * hlt; jmp back, the same bytes in 32- and 64-bit mode).
 */
	.section .head, "ax"
	.globl __code32_stop
__code32_stop:
	hlt
	jmp	__code32_stop
	.org	0x200, 0

	.code64
	.globl	_start
_start:
	/* Save the state ember handed over before anything changes it. */
	movq	%rsi, entry_state + 0
	movq	%rsp, entry_state + 8
	pushfq
	popq	entry_state + 16
	cli
	movq	%cr0, %rax
	movq	%rax, entry_state + 24
	movq	%cr3, %rax
	movq	%rax, entry_state + 32
	movq	%cr4, %rax
	movq	%rax, entry_state + 40
	movl	$0xc0000080, %ecx	/* IA32_EFER */
	rdmsr
	shlq	$32, %rdx
	orq	%rdx, %rax
	movq	%rax, entry_state + 48
	xorl	%eax, %eax
	movw	%cs, %ax
	movq	%rax, entry_state + 56
	movw	%ds, %ax
	movq	%rax, entry_state + 64
	movw	%es, %ax
	movq	%rax, entry_state + 72
	movw	%ss, %ax
	movq	%rax, entry_state + 80

	movq	%rsi, %rdi		/* guest_main(zero_page) */
	andq	$-16, %rsp		/* ABI: 16-byte aligned before the call */
	call	guest_main
	call	reset
1:	cli
	hlt
	jmp	1b

	.section .bss
	.balign 8
	.globl	entry_state
entry_state:
	.skip	11 * 8

	.section .note.GNU-stack, "", @progbits
