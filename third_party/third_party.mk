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

# --- libseccomp (for the seccomp filters) --------------------------------------
#   $(LIBSECCOMP_HOST_LIB)  libseccomp.a for the build host (gcc). Only the
#                           build-time filter compiler links it (vmm/seccomp.c
#                           built with -DEMBER_SECCOMP_GEN, tests/seccomp/
#                           seccomp.mk): ember carries the compiled BPF, not the
#                           library.
#   $(LIBSECCOMP_HOST_HDR)  #include <seccomp.h> with -I$(LIBSECCOMP_HOST_INC)
# Built from its sources without configure/libtool. Debian's patch updates
# src/syscalls.csv, so the shipped syscalls.perf.c is stale: it is generated
# again with gperf, as Debian's build does.
LIBSECCOMP_VERSION  := 2.5.4-1+deb12u1
LIBSECCOMP_SRC      := $(TP_DIR)/src/libseccomp-$(LIBSECCOMP_VERSION)
LIBSECCOMP_HOST_LIB := $(TP_DIR)/host/lib/libseccomp.a
LIBSECCOMP_HOST_INC := $(TP_DIR)/host/include
LIBSECCOMP_HOST_HDR := $(LIBSECCOMP_HOST_INC)/seccomp.h
LIBSECCOMP_CSRCS    := api system helper gen_pfc gen_bpf hash db arch arch-x86 arch-x86_64 \
	arch-x32 arch-arm arch-aarch64 arch-mips arch-mips64 arch-mips64n32 arch-parisc \
	arch-parisc64 arch-ppc arch-ppc64 arch-riscv64 arch-s390 arch-s390x syscalls syscalls.perf

third-party: $(LIBSECCOMP_HOST_LIB) $(LIBSECCOMP_HOST_HDR)

$(LIBSECCOMP_SRC)/.ember-debsrc: third_party/debsrc.sh third_party/third_party.mk | $(BUILD)/.deps-build
	third_party/debsrc.sh libseccomp $(LIBSECCOMP_VERSION) $(LIBSECCOMP_SRC)
	@touch $@

$(LIBSECCOMP_HOST_HDR): $(LIBSECCOMP_SRC)/.ember-debsrc
	@mkdir -p $(dir $@)
	cp $(LIBSECCOMP_SRC)/include/seccomp.h $(LIBSECCOMP_SRC)/include/seccomp-syscalls.h $(dir $@)

$(LIBSECCOMP_HOST_LIB): $(LIBSECCOMP_SRC)/.ember-debsrc
	$(call need_pkgs,gperf)
	@mkdir -p $(dir $@) $(TP_DIR)/host/obj/libseccomp
	cd $(LIBSECCOMP_SRC)/src && rm -f syscalls.perf syscalls.perf.c && \
		./arch-gperf-generate syscalls.csv syscalls.perf.template && \
		gperf -m 100 --null-strings --pic -tCEG -T -S1 syscalls.perf > syscalls.perf.c
	echo '#define HAVE_LINUX_SECCOMP_H 1' > $(LIBSECCOMP_SRC)/src/configure.h
	for f in $(LIBSECCOMP_CSRCS); do \
		$(HOSTCC) $(TP_CFLAGS) -w -I$(LIBSECCOMP_SRC)/include -I$(LIBSECCOMP_SRC)/src \
			-c $(LIBSECCOMP_SRC)/src/$$f.c -o $(TP_DIR)/host/obj/libseccomp/$$f.o || exit 1; \
	done
	rm -f $@ && ar rcs $@ $(LIBSECCOMP_CSRCS:%=$(TP_DIR)/host/obj/libseccomp/%.o)
