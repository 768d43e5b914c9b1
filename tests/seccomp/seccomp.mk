# SPDX-License-Identifier: Apache-2.0
# The tests of ember's seccomp filters (vmm/seccomp.c, the lists in
# vmm/seccomp_gen.c; the root Makefile builds seccomp-gen, $(SECCOMP_BPF_H)
# and $(SECCOMP_LISTS)). Included by the root Makefile after
# tests/api/api.mk (it uses CC, HOSTCC, CFLAGS, LDFLAGS, EMBER_OBJS,
# CJSON_LIB, SECCOMP_*, GUEST_ALL, API_TEST_OUT).
#
#   make test-seccomp   tests/seccomp/run.sh: the forbidden-syscall report
#                       and exit status 148 for each thread kind (with
#                       build/tests/seccomp/ember-seccomp-test, the same
#                       sources with -DEMBER_SECCOMP_TEST), --no-seccomp, no
#                       test hook in build/ember, and every syscall the
#                       test-guests and test-api workloads make (strace) is
#                       in its thread's list.

SECCOMP_TEST_OUT := $(BUILD)/tests/seccomp
SECCOMP_TEST_BIN := $(SECCOMP_TEST_OUT)/ember-seccomp-test

.PHONY: test-seccomp

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
