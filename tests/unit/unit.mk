# Unit tests: pure code (loaders, MP table, guest memory, virtio) over plain host
# buffers, built with the host gcc and ASan/UBSan; no KVM, no musl.
# Included by the root Makefile (BUILD, HOSTCC, need_pkgs defined there).
#   make test-unit   build $(BUILD)/tests/unit/test_* and run them all

UNIT_DIR     := $(BUILD)/tests/unit
UNIT_CFLAGS  := -std=gnu11 -Wall -Wextra -Werror -g -fsanitize=address,undefined \
                -fno-sanitize-recover=all -I. -isystem $(BUILD)/third_party/include
# Code under test plus the framework and the image builders.
UNIT_LIB_SRCS := core/guest_mem.c core/snapfile.c vmm/mptable.c vmm/acpi.c vmm/cpuid.c vmm/vmstate.c vmm/ioapic.c $(wildcard kernel-loader/*.c) \
                 virtio/virtqueue.c virtio/virtio.c virtio/blk.c virtio/net.c virtio/mmio.c mmds/tcp.c mmds/mmds.c \
                 core/util.c core/error.c core/evloop.c core/stop.c \
                 api-socket/http.c api-socket/server.c api-socket/vm_config.c \
                 api-socket/json.c api-socket/config.c \
                 core/logger.c core/metrics.c vmm/boot_timer.c core/bus.c \
                 tests/unit/unit.c tests/unit/images.c
UNIT_LIB_OBJS := $(patsubst %.c,$(UNIT_DIR)/obj/%.o,$(UNIT_LIB_SRCS))
UNIT_TESTS    := $(patsubst tests/unit/%.c,$(UNIT_DIR)/%,$(wildcard tests/unit/test_*.c))
UNIT_TIMEOUT  := 120

$(UNIT_DIR)/obj/%.o: %.c | $(BUILD)/.deps-build
	@mkdir -p $(dir $@)
	$(HOSTCC) $(UNIT_CFLAGS) -MMD -MP -c $< -o $@

# cJSON (third_party/third_party.mk, included before this file): a host build.
$(UNIT_DIR)/test_%: $(UNIT_DIR)/obj/tests/unit/test_%.o $(UNIT_LIB_OBJS) $(CJSON_HOST_LIB)
	$(HOSTCC) $(UNIT_CFLAGS) $^ -o $@ -pthread

UNIT_TEST_OBJS := $(patsubst $(UNIT_DIR)/%,$(UNIT_DIR)/obj/tests/unit/%.o,$(UNIT_TESTS))
.SECONDARY: $(UNIT_LIB_OBJS) $(UNIT_TEST_OBJS)
$(UNIT_LIB_OBJS) $(UNIT_TEST_OBJS): | $(CJSON_HDR)

-include $(UNIT_LIB_OBJS:.o=.d) $(UNIT_TEST_OBJS:.o=.d)

# ACPICA's disassembler checks the ACPI tables (test_acpi).
PKGS_UNIT := acpica-tools
.PHONY: deps-unit
deps-unit:
	$(call need_pkgs,$(PKGS_UNIT))

test-unit: deps-unit $(UNIT_TESTS)
	@fail=0; tests/layers/check.sh || fail=1; tests/nested/check-env.sh || fail=1; \
	for t in $(UNIT_TESTS); do \
		echo "== $$t"; \
		ASAN_OPTIONS=detect_leaks=1 timeout -k 5 $(UNIT_TIMEOUT) $$t || { echo "== $$t FAILED"; fail=1; }; \
	done; \
	if [ $$fail = 0 ]; then echo "unit tests: all passed"; else echo "unit tests: FAILED"; exit 1; fi

# --- fuzzing ------------------------------------------------------------------
# libFuzzer targets (clang, ASan/UBSan), run by tests/fuzz/run.sh. Seeds in tests/fuzz/<name>/ (read
# only); what the fuzzer finds goes to $(BUILD)/fuzz/corpus/<name>/, a crash to
# $(BUILD)/fuzz/crash-*.
#   make fuzz        each target for FUZZ_TIME seconds (default 300)
#   make test-fuzz   each target for FUZZ_TEST_TIME seconds (default 30)
# Targets: http (the API's parser), mmds (the MMDS's TCP responder and HTTP),
# snapfile (the snapshot state file's container), vmstate (its KVM sections).
PKGS_FUZZ      := clang-14 libclang-rt-14-dev
FUZZ_DIR       := $(BUILD)/fuzz
FUZZ_CC        := clang-14
FUZZ_CFLAGS    := -std=gnu11 -Wall -Wextra -Werror -g -O1 -I. \
                  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_TARGETS   := http mmds snapfile vmstate
FUZZ_TIME      ?= 300
FUZZ_TEST_TIME ?= 30

.PHONY: fuzz test-fuzz deps-fuzz
deps-fuzz:
	$(call need_pkgs,$(PKGS_FUZZ))

$(FUZZ_DIR)/fuzz_http: api-socket/fuzz_http.c api-socket/http.c api-socket/http.h core/fuzz.h | deps-fuzz
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) api-socket/fuzz_http.c api-socket/http.c -o $@

$(FUZZ_DIR)/fuzz_mmds: mmds/fuzz_mmds.c mmds/tcp.c mmds/mmds.c mmds/tcp.h mmds/mmds.h core/fuzz.h \
		$(CJSON_HOST_LIB) | deps-fuzz
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -isystem $(BUILD)/third_party/include mmds/fuzz_mmds.c \
		mmds/tcp.c mmds/mmds.c $(CJSON_HOST_LIB) -o $@

$(FUZZ_DIR)/fuzz_snapfile: core/fuzz_snapfile.c core/snapfile.c core/snapfile.h core/fuzz.h | deps-fuzz
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) core/fuzz_snapfile.c core/snapfile.c -o $@

$(FUZZ_DIR)/fuzz_vmstate: vmm/fuzz_vmstate.c vmm/vmstate.c vmm/vmstate.h vmm/ioapic.c \
		vmm/ioapic.h core/snapfile.c core/snapfile.h core/error.c core/logger.c core/fuzz.h \
		| deps-fuzz
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) vmm/fuzz_vmstate.c vmm/vmstate.c vmm/ioapic.c core/snapfile.c \
		core/error.c core/logger.c -o $@ -pthread

FUZZ_BINS := $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_TARGETS))
fuzz: $(FUZZ_BINS)
	@for t in $(FUZZ_TARGETS); do tests/fuzz/run.sh $(FUZZ_DIR) $$t $(FUZZ_TIME) || exit 1; done

test-fuzz: $(FUZZ_BINS)
	@for t in $(FUZZ_TARGETS); do tests/fuzz/run.sh $(FUZZ_DIR) $$t $(FUZZ_TEST_TIME) || exit 1; done
