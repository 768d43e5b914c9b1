# Unit tests: pure code (loaders, MP table, guest memory, virtio) over plain host
# buffers, built with the host gcc and ASan/UBSan; no KVM, no musl.
# Included by the root Makefile (BUILD, HOSTCC, need_pkgs defined there).
#   make test-unit   build $(BUILD)/tests/unit/test_* and run them all

UNIT_DIR     := $(BUILD)/tests/unit
UNIT_CFLAGS  := -std=gnu11 -Wall -Wextra -Werror -g -fsanitize=address,undefined \
                -fno-sanitize-recover=all -I.
# Code under test plus the framework and the image builders.
UNIT_LIB_SRCS := vmm/guest_mem.c vmm/mptable.c $(wildcard kernel-loader/*.c) \
                 virtio/virtqueue.c virtio/virtio.c virtio/blk.c vmm/util.c vmm/evloop.c \
                 tests/unit/unit.c tests/unit/images.c
UNIT_LIB_OBJS := $(patsubst %.c,$(UNIT_DIR)/obj/%.o,$(UNIT_LIB_SRCS))
UNIT_TESTS    := $(patsubst tests/unit/%.c,$(UNIT_DIR)/%,$(wildcard tests/unit/test_*.c))
UNIT_TIMEOUT  := 120

$(UNIT_DIR)/obj/%.o: %.c | $(BUILD)/.deps-build
	@mkdir -p $(dir $@)
	$(HOSTCC) $(UNIT_CFLAGS) -MMD -MP -c $< -o $@

$(UNIT_DIR)/test_%: $(UNIT_DIR)/obj/tests/unit/test_%.o $(UNIT_LIB_OBJS)
	$(HOSTCC) $(UNIT_CFLAGS) $^ -o $@

UNIT_TEST_OBJS := $(patsubst $(UNIT_DIR)/%,$(UNIT_DIR)/obj/tests/unit/%.o,$(UNIT_TESTS))
.SECONDARY: $(UNIT_LIB_OBJS) $(UNIT_TEST_OBJS)

-include $(UNIT_LIB_OBJS:.o=.d) $(UNIT_TEST_OBJS:.o=.d)

test-unit: $(UNIT_TESTS)
	@fail=0; for t in $(UNIT_TESTS); do \
		echo "== $$t"; \
		ASAN_OPTIONS=detect_leaks=1 timeout -k 5 $(UNIT_TIMEOUT) $$t || { echo "== $$t FAILED"; fail=1; }; \
	done; \
	if [ $$fail = 0 ]; then echo "unit tests: all passed"; else echo "unit tests: FAILED"; exit 1; fi
