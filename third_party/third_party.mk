# Third-party libraries, built from Debian's source packages pinned to a
# version (third_party/debsrc.sh fetches and unpacks them; apt verifies them
# against the mirror's signed Release files). Included by the root Makefile
# (BUILD, CC, HOSTCC, need_pkgs defined there).
#
#   $(TP_INC)          headers:  #include <cjson/cJSON.h>
#   $(CJSON_LIB)       libcjson.a for ember (musl-gcc, static)
#   $(CJSON_HOST_LIB)  libcjson.a for the unit tests and fuzzers (host gcc,
#                      ASan/UBSan)
# To move to a new Debian version, change *_VERSION (apt-cache policy).

TP_DIR := $(BUILD)/third_party
TP_INC := $(TP_DIR)/include

CJSON_VERSION  := 1.7.15-1+deb12u4
CJSON_SRC      := $(TP_DIR)/src/cjson-$(CJSON_VERSION)
CJSON_LIB      := $(TP_DIR)/lib/libcjson.a
CJSON_HOST_LIB := $(TP_DIR)/host/lib/libcjson.a
CJSON_HDR      := $(TP_INC)/cjson/cJSON.h
TP_CFLAGS      := -std=gnu11 -O2 -g0 -fno-strict-aliasing -Wall

.PHONY: third-party
third-party: $(CJSON_LIB) $(CJSON_HOST_LIB) $(CJSON_HDR)

$(CJSON_SRC)/.ember-debsrc: third_party/debsrc.sh third_party/third_party.mk | $(BUILD)/.deps-build
	third_party/debsrc.sh cjson $(CJSON_VERSION) $(CJSON_SRC)
	@touch $@

$(CJSON_HDR): $(CJSON_SRC)/.ember-debsrc
	@mkdir -p $(dir $@)
	cp $(CJSON_SRC)/cJSON.h $@

$(CJSON_LIB): $(CJSON_SRC)/.ember-debsrc
	@mkdir -p $(dir $@) $(TP_DIR)/obj
	$(CC) $(TP_CFLAGS) -c $(CJSON_SRC)/cJSON.c -o $(TP_DIR)/obj/cJSON.o
	rm -f $@ && ar rcs $@ $(TP_DIR)/obj/cJSON.o

$(CJSON_HOST_LIB): $(CJSON_SRC)/.ember-debsrc
	@mkdir -p $(dir $@) $(TP_DIR)/host/obj
	$(HOSTCC) $(TP_CFLAGS) -g -fsanitize=address,undefined -c $(CJSON_SRC)/cJSON.c \
		-o $(TP_DIR)/host/obj/cJSON.o
	rm -f $@ && ar rcs $@ $(TP_DIR)/host/obj/cJSON.o

# --- libcap (for ember-jailer) ------------------------------------------------
#   $(LIBCAP_LIB)  libcap.a (musl-gcc, static), built by libcap's own Makefile
#                  without gperf (USE_GPERF=no), shared objects or libpsx
#   $(LIBCAP_HDR)  #include <sys/capability.h> with -I$(TP_INC)
LIBCAP_VERSION := 1:2.66-4+deb12u3
LIBCAP_SRC     := $(TP_DIR)/src/libcap2-$(lastword $(subst :, ,$(LIBCAP_VERSION)))
LIBCAP_LIB     := $(TP_DIR)/lib/libcap.a
LIBCAP_HDR     := $(TP_INC)/sys/capability.h

third-party: $(LIBCAP_LIB) $(LIBCAP_HDR)

$(LIBCAP_SRC)/.ember-debsrc: third_party/debsrc.sh third_party/third_party.mk | $(BUILD)/.deps-build
	third_party/debsrc.sh libcap2 $(LIBCAP_VERSION) $(LIBCAP_SRC)
	@touch $@

$(LIBCAP_HDR): $(LIBCAP_SRC)/.ember-debsrc
	@mkdir -p $(dir $@)
	cp $(LIBCAP_SRC)/libcap/include/sys/capability.h $@

$(LIBCAP_LIB): $(LIBCAP_SRC)/.ember-debsrc
	@mkdir -p $(dir $@)
	$(MAKE) -s -C $(LIBCAP_SRC)/libcap CC=$(CC) BUILD_CC=$(HOSTCC) SHARED=no \
		PTHREADS=no USE_GPERF=no GOLANG=no COPTS="-O2 -g0" libcap.a
	cp $(LIBCAP_SRC)/libcap/libcap.a $@
