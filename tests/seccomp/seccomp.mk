# SPDX-License-Identifier: Apache-2.0
# ember's seccomp filters (vmm/seccomp.c, vmm/seccomp.h). Included by the
# root Makefile after tests/api/api.mk (it uses CC, HOSTCC, CFLAGS, LDFLAGS,
# EMBER_OBJS, CJSON_LIB, LIBSECCOMP_HOST_*, GUEST_ALL, API_TEST_OUT).
#
# Build time: vmm/seccomp.c built with -DEMBER_SECCOMP_GEN and the host's
# libseccomp (third_party/third_party.mk) is seccomp-gen, which compiles the
# allowlists to BPF: $(SECCOMP_BPF_H), compiled into ember; and
# $(SECCOMP_LISTS), the lists as text for the tests.
#
#   make test-seccomp   tests/seccomp/run.sh: the forbidden-syscall report
#                       and exit status 148 for each thread kind (with
#                       build/tests/seccomp/ember-seccomp-test, the same
#                       sources with -DEMBER_SECCOMP_TEST), --no-seccomp, no
#                       test hook in build/ember, and every syscall the
#                       test-guests and test-api workloads make (strace) is
#                       in its thread's list.

SECCOMP_OUT      := $(BUILD)/seccomp
SECCOMP_GEN      := $(SECCOMP_OUT)/seccomp-gen
SECCOMP_BPF_H    := $(SECCOMP_OUT)/seccomp_bpf.h
SECCOMP_LISTS    := $(SECCOMP_OUT)/allowlists.txt
SECCOMP_TEST_OUT := $(BUILD)/tests/seccomp
SECCOMP_TEST_BIN := $(SECCOMP_TEST_OUT)/ember-seccomp-test

.PHONY: test-seccomp

$(SECCOMP_GEN): vmm/seccomp.c vmm/seccomp.h $(LIBSECCOMP_HOST_LIB) $(LIBSECCOMP_HOST_HDR)
	@mkdir -p $(@D)
	$(HOSTCC) -std=gnu11 -Wall -Wextra -Werror -O2 -DEMBER_SECCOMP_GEN \
		-I$(LIBSECCOMP_HOST_INC) vmm/seccomp.c $(LIBSECCOMP_HOST_LIB) -o $@

$(SECCOMP_BPF_H) $(SECCOMP_LISTS) &: $(SECCOMP_GEN)
	$(SECCOMP_GEN) $(SECCOMP_BPF_H).tmp $(SECCOMP_LISTS).tmp
	mv $(SECCOMP_BPF_H).tmp $(SECCOMP_BPF_H)
	mv $(SECCOMP_LISTS).tmp $(SECCOMP_LISTS)

# ember's vmm/seccomp.o includes the generated programs.
$(BUILD)/obj/vmm/seccomp.o: $(SECCOMP_BPF_H)
$(BUILD)/obj/vmm/seccomp.o: CFLAGS += -I$(SECCOMP_OUT)

# The test binary: ember with the test hooks of vmm/seccomp.c.
$(SECCOMP_TEST_OUT)/seccomp-test.o: vmm/seccomp.c vmm/seccomp.h $(SECCOMP_BPF_H) \
		$(BUILD)/include/.stamp
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -I$(SECCOMP_OUT) -DEMBER_SECCOMP_TEST -c $< -o $@

$(SECCOMP_TEST_BIN): $(filter-out $(BUILD)/obj/vmm/seccomp.o,$(EMBER_OBJS)) \
		$(SECCOMP_TEST_OUT)/seccomp-test.o $(CJSON_LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@

test-seccomp: $(BUILD)/ember $(SECCOMP_TEST_BIN) $(SECCOMP_LISTS) $(GUEST_ALL) \
		$(API_TEST_OUT)/apiguest.elf
	$(call need_pkgs,strace python3 binutils bsdutils iproute2)
	$(ON_KVM) tests/seccomp/run.sh $(BUILD)

# A test guest (linked like tests/guests' guests).
$(SECCOMP_TEST_OUT)/sysguest.o: tests/seccomp/sysguest.c | $(BUILD)/.deps-build
	@mkdir -p $(@D)
	$(HOSTCC) $(GUEST_CFLAGS) -c $< -o $@

$(SECCOMP_TEST_OUT)/sysguest.elf: $(SECCOMP_TEST_OUT)/sysguest.o $(GUEST_LIB_OBJS) \
		$(GUEST_SRC)/guest.ld
	$(HOSTCC) $(GUEST_LDFLAGS) $(GUEST_LIB_OBJS) $< -o $@

test-seccomp: $(SECCOMP_TEST_OUT)/sysguest.elf
