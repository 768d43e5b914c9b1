# SPDX-License-Identifier: Apache-2.0
# Firecracker's API on ember: the Python suite (tests/api/test_api.py, standard
# library only, http.client over AF_UNIX) against build/ember, with a test
# guest that keeps running on this machine's /dev/kvm (apiguest.c, linked
# like tests/guests' guests).
# Included by the root Makefile AFTER tests/unit/unit.mk and
# tests/guests/guests.mk (it uses GUEST_CFLAGS, GUEST_LDFLAGS, GUEST_LIB_OBJS,
# UNIT_DIR).
#   make test-api    build ember and the guest, run tests/api/run.sh

API_TEST_OUT := $(BUILD)/tests/api

.PHONY: test-api

$(API_TEST_OUT)/apiguest.o: tests/api/apiguest.c | $(BUILD)/.deps-build
	@mkdir -p $(@D)
	$(HOSTCC) $(GUEST_CFLAGS) -c $< -o $@

$(API_TEST_OUT)/apiguest.elf: $(API_TEST_OUT)/apiguest.o $(GUEST_LIB_OBJS) $(GUEST_SRC)/guest.ld
	$(HOSTCC) $(GUEST_LDFLAGS) $(GUEST_LIB_OBJS) $< -o $@

# The example page fault handler of the Uffd backend (static, musl, cJSON).
$(BUILD)/uffd-handler: tests/api/uffd-handler.c $(CJSON_LIB) | $(CJSON_HDR) $(BUILD)/include/.stamp
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(CJSON_LIB) -o $@

# The unit test of the JSON bodies links the code under test.
test-api: $(BUILD)/ember $(BUILD)/ember-jailer $(BUILD)/uffd-handler $(API_TEST_OUT)/apiguest.elf $(KVM_PROBE_GUEST) \
		$(GUEST_OUT)/blkflood.elf $(GUEST_OUT)/netflood.elf
	$(call need_pkgs,python3 iproute2)
	$(ON_KVM) tests/api/run.sh $(BUILD)

-include $(API_TEST_OUT)/apiguest.d
