# SPDX-License-Identifier: Apache-2.0
# The clients that drive Firecracker, driving ember: firecracker-go-sdk (the
# release pinned in tests/clients/go.mod and go.sum) through sdkvm, a
# static Go program of ours (tests/clients/go.sh picks or installs the Go
# toolchain). It boots Linux guests, so it runs where one can run
# (LEVEL_LINUX=1: this machine's /dev/kvm if kvmprobe.elf runs on it, else
# the nested test host).
# Included by the root Makefile after tests/guests/guests.mk.
#   make test-clients

CLIENTS_OUT  := $(BUILD)/tests/clients
CLIENTS_SRCS := tests/clients/go.mod tests/clients/go.sum $(wildcard tests/clients/*/*.go)

.PHONY: test-clients

$(CLIENTS_OUT)/sdkvm: $(CLIENTS_SRCS) tests/clients/go.sh
	@mkdir -p $(@D)
	cd tests/clients && ./go.sh build -trimpath -o $(abspath $@).tmp ./sdkvm
	mv $@.tmp $@

test-clients: $(BUILD)/ember $(BUILD)/ember-jailer guest deps-nested $(CLIENTS_OUT)/sdkvm $(GUEST_OUT)/kvmprobe.elf \
		$(KVM_PROBE_GUEST)
	$(call need_pkgs,iproute2 util-linux)
	LEVEL_LINUX=1 $(ON_KVM) tests/clients/run.sh $(BUILD)
