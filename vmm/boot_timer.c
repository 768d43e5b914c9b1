/* SPDX-License-Identifier: Apache-2.0 */
#include "vmm/boot_timer.h"
#include "core/logger.h"
#include "core/metrics.h"
#include "vmm/vm.h"

#include <string.h>
#include <time.h>

static struct {
	uint64_t start_ns, start_cpu_ns;
	uint64_t us, cpu_us;  /* written last (atomically): done tells they are set */
	int done;
} bt;

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

uint64_t boot_timer_now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static void boot_timer_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
			  bool is_write)
{
	uint64_t now, cpu, us, cpu_us;

	(void)opaque;
	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	if (len != 1 || offset != 0 || data[0] != BOOT_TIMER_MAGIC)
		return;
	now = clock_ns(CLOCK_MONOTONIC);
	cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	us = (now - bt.start_ns) / 1000;
	cpu_us = (cpu - bt.start_cpu_ns) / 1000;
	__atomic_store_n(&bt.us, us, __ATOMIC_RELAXED);
	__atomic_store_n(&bt.cpu_us, cpu_us, __ATOMIC_RELAXED);
	__atomic_store_n(&bt.done, 1, __ATOMIC_RELEASE);
	METRIC_SET(ember_metrics.vmm.guest_boot_time_us, us);
	METRIC_SET(ember_metrics.vmm.guest_boot_time_cpu_us, cpu_us);
	LOG_INFO("Guest-boot-time = %6llu us %llu ms, %6llu CPU us %llu CPU ms",
		 (unsigned long long)us, (unsigned long long)us / 1000,
		 (unsigned long long)cpu_us, (unsigned long long)cpu_us / 1000);
}

int boot_timer_init(struct vm *vm, uint64_t start_ns)
{
	uint64_t cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	uint64_t now = clock_ns(CLOCK_MONOTONIC);

	bt.start_ns = start_ns <= now ? start_ns : now;
	bt.start_cpu_ns = cpu;
	bt.us = bt.cpu_us = 0;
	__atomic_store_n(&bt.done, 0, __ATOMIC_RELEASE);
	return bus_register(&vm->mmio, BOOT_TIMER_ADDR, BOOT_TIMER_SIZE, boot_timer_io, NULL);
}

bool boot_timer_result(uint64_t *us, uint64_t *cpu_us)
{
	if (!__atomic_load_n(&bt.done, __ATOMIC_ACQUIRE))
		return false;
	*us = __atomic_load_n(&bt.us, __ATOMIC_RELAXED);
	*cpu_us = __atomic_load_n(&bt.cpu_us, __ATOMIC_RELAXED);
	return true;
}
