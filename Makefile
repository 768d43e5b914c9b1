# ember: a minimal microVM monitor. `make` builds build/ember.
#   make run    boot the default microVM with its console attached
#   make test   unit tests, test guests on /dev/kvm, end-to-end in the nested test host
#   make guest  build the guest kernel, initrd (cached)
# Every target installs the Debian packages it needs (apt-get) when missing.

SHELL   := /bin/bash
BUILD   := build
VERSION := 0.1.0

CC      := musl-gcc
HOSTCC  := gcc
CFLAGS  := -std=gnu11 -Wall -Wextra -Werror -O2 -g0 -fno-strict-aliasing \
           -D_GNU_SOURCE -DEMBER_VERSION='"$(VERSION)"' -I. -isystem $(BUILD)/include \
           -isystem $(BUILD)/third_party/include
LDFLAGS := -static -s -pthread

# Packages each part needs, installed on demand (never by hand).
PKGS_BUILD := musl-tools linux-libc-dev make gcc
PKGS_GUEST := make gcc libc6-dev musl-tools perl linux-source-6.1 bc flex bison libelf-dev libssl-dev cpio xz-utils busybox-static e2fsprogs
PKGS_NESTED := qemu-system-x86 busybox-static cpio kmod

define need_pkgs
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -q >/dev/null && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing >/dev/null; \
	fi
endef

# The layers, bottom up (README, Layout; tests/layers.sh checks the includes).
CORE_SRCS   := $(filter-out core/fuzz_%.c,$(wildcard core/*.c))
LOADER_SRCS := $(wildcard kernel-loader/*.c)
VMM_SRCS    := $(filter-out vmm/seccomp_gen.c vmm/fuzz_%.c,$(wildcard vmm/*.c))
VIRTIO_SRCS := $(wildcard virtio/*.c)
MMDS_SRCS   := $(filter-out mmds/fuzz_%.c,$(wildcard mmds/*.c))
API_SRCS    := $(filter-out api-socket/fuzz_%.c,$(wildcard api-socket/*.c))
MAIN_SRCS   := $(wildcard main/*.c)
EMBER_SRCS  := $(CORE_SRCS) $(LOADER_SRCS) $(VMM_SRCS) $(VIRTIO_SRCS) $(MMDS_SRCS) $(API_SRCS) $(MAIN_SRCS)
EMBER_OBJS  := $(patsubst %.c,$(BUILD)/obj/%.o,$(EMBER_SRCS))

.PHONY: all deps deps-guest deps-nested guest run test test-unit test-guests test-e2e clean
.DEFAULT_GOAL := all

all: $(BUILD)/ember $(BUILD)/ember-jailer

$(BUILD)/.deps-build:
	$(call need_pkgs,$(PKGS_BUILD))
	@mkdir -p $(BUILD) && touch $@
deps-guest:
	$(call need_pkgs,$(PKGS_GUEST))
deps-nested:
	$(call need_pkgs,$(PKGS_NESTED))
deps: $(BUILD)/.deps-build deps-guest deps-nested

# musl's include path has no kernel headers: expose Debian's (linux-libc-dev).
$(BUILD)/include/.stamp: $(BUILD)/.deps-build
	@mkdir -p $(BUILD)/include
	@ln -sfn /usr/include/linux $(BUILD)/include/linux
	@ln -sfn /usr/include/asm-generic $(BUILD)/include/asm-generic
	@ln -sfn /usr/include/$$(gcc -print-multiarch)/asm $(BUILD)/include/asm
	@touch $@

$(BUILD)/obj/%.o: %.c $(BUILD)/include/.stamp
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# Third-party libraries from Debian source packages (cJSON): defines
# CJSON_LIB, CJSON_HDR... used below and by tests/unit/unit.mk.
include third_party/third_party.mk
$(EMBER_OBJS): | $(CJSON_HDR)

$(BUILD)/ember: $(EMBER_OBJS) $(CJSON_LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@

-include $(EMBER_OBJS:.o=.d)

# seccomp: vmm/seccomp_gen.c, a build-time tool built with the host's
# libseccomp (third_party/third_party.mk), compiles the allowlists to BPF:
# $(SECCOMP_BPF_H), compiled into ember (vmm/seccomp.c), and $(SECCOMP_LISTS),
# the lists as text for tests/seccomp.
SECCOMP_OUT      := $(BUILD)/seccomp
SECCOMP_GEN      := $(SECCOMP_OUT)/seccomp-gen
SECCOMP_BPF_H    := $(SECCOMP_OUT)/seccomp_bpf.h
SECCOMP_LISTS    := $(SECCOMP_OUT)/allowlists.txt
$(SECCOMP_GEN): vmm/seccomp_gen.c vmm/seccomp.h $(LIBSECCOMP_HOST_LIB) $(LIBSECCOMP_HOST_HDR)
	@mkdir -p $(@D)
	$(HOSTCC) -std=gnu11 -Wall -Wextra -Werror -O2 -I. \
		-I$(LIBSECCOMP_HOST_INC) vmm/seccomp_gen.c $(LIBSECCOMP_HOST_LIB) -o $@

$(SECCOMP_BPF_H) $(SECCOMP_LISTS) &: $(SECCOMP_GEN)
	$(SECCOMP_GEN) $(SECCOMP_BPF_H).tmp $(SECCOMP_LISTS).tmp
	mv $(SECCOMP_BPF_H).tmp $(SECCOMP_BPF_H)
	mv $(SECCOMP_LISTS).tmp $(SECCOMP_LISTS)

# ember's vmm/seccomp.o includes the generated programs.
$(BUILD)/obj/vmm/seccomp.o: $(SECCOMP_BPF_H)
$(BUILD)/obj/vmm/seccomp.o: CFLAGS += -I$(SECCOMP_OUT)

include jailer/jailer.mk

# --- guest image -------------------------------------------------------------
guest: deps-guest
	guest/build.sh $(BUILD)/guest

# --- run ---------------------------------------------------------------------
run: $(BUILD)/ember guest deps-nested $(BUILD)/tests/guests/kvmprobe.elf
	tests/nested/run.sh $(BUILD)

# --- tests -------------------------------------------------------------------
# A level that needs KVM runs through tests/nested/level.sh: on this machine's
# /dev/kvm when a test guest runs on it, else in the nested test host
# (EMBER_TEST_KVM=local|nested forces one). It probes with this guest.
KVM_PROBE_GUEST = $(BUILD)/tests/guests/badport.elf
ON_KVM = tests/nested/level.sh $@ $(BUILD) --
include tests/unit/unit.mk
include tests/guests/guests.mk
include tests/api/api.mk
include tests/seccomp/seccomp.mk
include tests/clients/clients.mk

test-e2e: $(BUILD)/ember $(BUILD)/ember-jailer $(BUILD)/uffd-handler guest deps-nested
	tests/e2e/run.sh $(BUILD)

TEST_LEVELS := test-unit test-fuzz test-guests test-api test-seccomp test-jailer test-e2e test-clients
test:
	@tests/run-all.sh $(TEST_LEVELS)

# Benchmarks against QEMU -M microvm: prints a Markdown table, writes
# bench/results.md and the plot bench/results.png (about 10 minutes). Never
# part of `make test`.
PKGS_BENCH := gnuplot-nox fonts-dejavu-core
.PHONY: bench deps-bench
deps-bench:
	$(call need_pkgs,$(PKGS_BENCH))
bench: $(BUILD)/ember guest deps-nested deps-bench $(BUILD)/tests/guests/exitloop.elf \
		$(KVM_PROBE_GUEST) $(API_TEST_OUT)/apiguest.elf
	bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD)
