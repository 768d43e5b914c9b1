# SPDX-License-Identifier: Apache-2.0
# ember-jailer: a static musl binary linked with libcap (built from Debian's
# source package by third_party/third_party.mk). Included by the root
# Makefile (BUILD, CC, HOSTCC, CFLAGS, LDFLAGS, the $(BUILD)/obj/%.o rule,
# $(BUILD)/ember and need_pkgs defined there).
#   make build/ember-jailer
#   make test-jailer     tests/jailer/run.sh (as root; boots a test guest
#                        with build/ember on /dev/kvm)

# third_party.mk defines LIBCAP_LIB; include it here unless the root
# Makefile already has (it must then come before this file).
ifndef LIBCAP_LIB
include third_party/third_party.mk
endif

JAILER_SRCS := $(wildcard jailer/*.c)
# core/cglimit.c: the cgroup memory limit, which ember reads too.
JAILER_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(JAILER_SRCS)) $(BUILD)/obj/core/cglimit.o
JAILER_TEST_OUT := $(BUILD)/tests/jailer

.PHONY: test-jailer

$(JAILER_OBJS): CFLAGS += -I$(TP_INC)
$(JAILER_OBJS): | $(LIBCAP_HDR)

$(BUILD)/ember-jailer: $(JAILER_OBJS) $(LIBCAP_LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) $(JAILER_OBJS) $(LIBCAP_LIB) -o $@

# The jailed test program (static: the jail has no libraries).
$(JAILER_TEST_OUT)/probe: tests/jailer/probe.c $(BUILD)/include/.stamp
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -static $< -o $@

$(JAILER_TEST_OUT)/startbench: tests/jailer/startbench.c | $(BUILD)/.deps-build
	@mkdir -p $(@D)
	$(HOSTCC) -std=gnu11 -Wall -Wextra -Werror -O2 $< -o $@

test-jailer: $(BUILD)/ember-jailer $(BUILD)/ember $(JAILER_TEST_OUT)/probe \
		$(JAILER_TEST_OUT)/startbench $(BUILD)/tests/guests/badport.elf
	$(call need_pkgs,iproute2)
	$(ON_KVM) tests/jailer/run.sh $(BUILD)

-include $(JAILER_OBJS:.o=.d)
