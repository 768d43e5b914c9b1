/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reset.elf: a guest that writes "RST" to COM1 and resets the VM through the
 * i8042 (0xfe to port 0x64) as its first instructions. ember enters it in
 * 64-bit mode at 1 MiB and writes every COM1 byte straight to stdout, so
 * fork to "RST" on ember's stdout bounds ember's start to first guest
 * instruction (plus three exits); fork to exit adds the teardown.
 * Linked by bench/run.sh: as + ld -n -Ttext=0x100000.
 */
	.text
	.code64
	.globl	_start
_start:
	movw	$0x3f8, %dx
	movb	$'R', %al
	outb	%al, %dx
	movb	$'S', %al
	outb	%al, %dx
	movb	$'T', %al
	outb	%al, %dx
	movb	$0xfe, %al
	outb	%al, $0x64
1:	hlt
	jmp	1b
	.section .note.GNU-stack, "", @progbits
