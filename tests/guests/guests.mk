# SPDX-License-Identifier: Apache-2.0
# Freestanding test guests for ember on /dev/kvm (included by the root
# Makefile, which defines BUILD, HOSTCC, $(BUILD)/ember, $(BUILD)/.deps-build).
#   make test-guests    build the guests and run tests/guests/run.sh
# (blk, blkhostile and net also link virtio.c, a polled virtio-mmio driver).
# Guests are plain integer CPL0 code linked at 1 MiB (entry 1 MiB + 0x200);
# on an instruction-emulating KVM every instruction costs ~1.3 us.

GUEST_SRC := tests/guests
GUEST_OUT := $(BUILD)/tests/guests
GUESTS    := boot triplefault badport kvmprobe exitloop loopback xcr0 pvh pvh-linux
# Guests that also link the polled virtio-mmio driver (virtio.c).
VIRTIO_GUESTS := blk blkhostile net blkflood netflood

GUEST_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -O2 -g0 \
	-ffreestanding -fno-pic -fno-pie -mno-red-zone -mgeneral-regs-only \
	-mcmodel=small -march=x86-64 -mtune=generic -fcf-protection=none \
	-fno-stack-protector -fno-asynchronous-unwind-tables -fno-unwind-tables \
	-fno-tree-loop-distribute-patterns -fno-strict-aliasing -MMD -MP
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,--build-id=none \
	-Wl,-z,noexecstack -Wl,-z,max-page-size=0x1000 \
	-Wl,--no-warn-rwx-segments -Wl,-T,$(GUEST_SRC)/guest.ld

GUEST_LIB_OBJS := $(GUEST_OUT)/entry.o $(GUEST_OUT)/lib.o
GUEST_VIRTIO_OBJ := $(GUEST_OUT)/virtio.o
GUEST_OBJS     := $(GUESTS:%=$(GUEST_OUT)/%.o) $(VIRTIO_GUESTS:%=$(GUEST_OUT)/%.o) \
	$(GUEST_LIB_OBJS) $(GUEST_VIRTIO_OBJ)
GUEST_ELFS     := $(GUESTS:%=$(GUEST_OUT)/%.elf) $(VIRTIO_GUESTS:%=$(GUEST_OUT)/%.elf)
GUEST_TOOLS    := $(GUEST_OUT)/mkbzimage $(GUEST_OUT)/fnv1a
# Deliberately broken kernels for ember's bad-input cases.
GUEST_BAD      := $(GUEST_OUT)/bad-proto211.bzImage $(GUEST_OUT)/bad-no64.bzImage \
	$(GUEST_OUT)/bad-lowload.elf
GUEST_ALL      := $(GUEST_ELFS) $(GUEST_OUT)/boot.bzImage $(GUEST_TOOLS) $(GUEST_BAD)

.PHONY: test-guests
.SECONDARY: $(GUEST_OBJS) $(GUEST_OUT)/boot.bin

$(GUEST_OUT)/%.o: $(GUEST_SRC)/%.c | $(BUILD)/.deps-build
	@mkdir -p $(@D)
	$(HOSTCC) $(GUEST_CFLAGS) -c $< -o $@

# pvh.c once more with a note named "Linux" (Linux's vmlinux has them).
$(GUEST_OUT)/pvh-linux.o: $(GUEST_SRC)/pvh.c | $(BUILD)/.deps-build
	@mkdir -p $(@D)
	$(HOSTCC) $(GUEST_CFLAGS) -DPVH_LINUX_NOTE -c $< -o $@

$(GUEST_OUT)/%.o: $(GUEST_SRC)/%.S | $(BUILD)/.deps-build
	@mkdir -p $(@D)
	$(HOSTCC) $(GUEST_CFLAGS) -c $< -o $@

$(GUEST_OUT)/%.elf: $(GUEST_OUT)/%.o $(GUEST_LIB_OBJS) $(GUEST_SRC)/guest.ld
	$(HOSTCC) $(GUEST_LDFLAGS) $(GUEST_LIB_OBJS) $< -o $@

$(VIRTIO_GUESTS:%=$(GUEST_OUT)/%.elf): $(GUEST_OUT)/%.elf: $(GUEST_OUT)/%.o $(GUEST_LIB_OBJS) \
		$(GUEST_VIRTIO_OBJ) $(GUEST_SRC)/guest.ld
	$(HOSTCC) $(GUEST_LDFLAGS) $(GUEST_LIB_OBJS) $(GUEST_VIRTIO_OBJ) $< -o $@

# badport linked at 512 KiB: a PT_LOAD below 1 MiB, which ember must refuse.
$(GUEST_OUT)/bad-lowload.elf: $(GUEST_OUT)/badport.o $(GUEST_LIB_OBJS) $(GUEST_SRC)/guest.ld
	$(HOSTCC) $(GUEST_LDFLAGS) -Wl,--section-start=.text=0x80000 $(GUEST_LIB_OBJS) $< -o $@

$(GUEST_OUT)/%.bin: $(GUEST_OUT)/%.elf
	objcopy -O binary $< $@

$(GUEST_OUT)/mkbzimage: $(GUEST_SRC)/mkbzimage.c | $(BUILD)/.deps-build
	@mkdir -p $(@D)
	$(HOSTCC) -std=gnu11 -Wall -Wextra -Werror -O2 $< -o $@

$(GUEST_OUT)/fnv1a: $(GUEST_SRC)/fnv1a.c | $(BUILD)/.deps-build
	@mkdir -p $(@D)
	$(HOSTCC) -std=gnu11 -Wall -Wextra -Werror -O2 $< -o $@

$(GUEST_OUT)/boot.bzImage: $(GUEST_OUT)/boot.bin $(GUEST_OUT)/mkbzimage
	$(GUEST_OUT)/mkbzimage $< $@

# Protocol 2.11 (ember needs >= 2.12) and no XLF_KERNEL_64.
$(GUEST_OUT)/bad-proto211.bzImage: $(GUEST_OUT)/boot.bin $(GUEST_OUT)/mkbzimage
	$(GUEST_OUT)/mkbzimage --version 0x020b $< $@
$(GUEST_OUT)/bad-no64.bzImage: $(GUEST_OUT)/boot.bin $(GUEST_OUT)/mkbzimage
	$(GUEST_OUT)/mkbzimage --xloadflags 0 $< $@

test-guests: $(BUILD)/ember $(GUEST_ALL)
	$(call need_pkgs,python3 iproute2)
	$(ON_KVM) $(GUEST_SRC)/run.sh $(BUILD)

-include $(GUEST_OBJS:.o=.d)
