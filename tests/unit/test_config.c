/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Firecracker's JSON bodies and config file (api-socket/config.h): the
 * strict JSON reader (UTF-8, floats, leading zeros, control characters,
 * \u0000, duplicate keys, trailing bytes, depth), every resource's fields
 * (unknown, missing, wrong types, out of range, unsupported values), the
 * pre-boot rules that live in the parser (one root drive, ids, limits), the
 * --config-file document, and GET /vm/config read back as a config file.
 *
 * Links api-socket/config.c and json.c (tests/unit/unit.mk) and cJSON.
 */
#include "tests/unit/unit.h"
#include "api-socket/config.h"
#include "api-socket/json.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64], kernel[128], initrd[128], disk[128], disk2[128], rodisk[128];
static char err[1024];
static struct ember_config C;

static void touch(const char *p, mode_t mode)
{
	FILE *f = fopen(p, "w");

	CHECK(f != NULL);
	if (f) {
		fputs("x", f);
		fclose(f);
	}
	chmod(p, mode);
}

static void setup(void)
{
	strcpy(dir, "/tmp/ember-config-XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	snprintf(kernel, sizeof(kernel), "%s/vmlinux", dir);
	snprintf(initrd, sizeof(initrd), "%s/initrd", dir);
	snprintf(disk, sizeof(disk), "%s/disk", dir);
	snprintf(disk2, sizeof(disk2), "%s/disk2", dir);
	snprintf(rodisk, sizeof(rodisk), "%s/rodisk", dir);
	touch(kernel, 0644);
	touch(initrd, 0644);
	touch(disk, 0644);
	touch(disk2, 0644);
	touch(rodisk, 0444);
	ember_config_init(&C);
}

static void teardown(void)
{
	unlink(kernel);
	unlink(initrd);
	unlink(disk);
	unlink(disk2);
	unlink(rodisk);
	rmdir(dir);
}

/* Parse s; NULL (and err set) when refused. */
static cJSON *J(const char *s)
{
	err[0] = '\0';
	return json_parse(s, strlen(s), err, sizeof(err));
}

/* s is refused by the reader with a message containing want. */
static void bad_json(const char *s, size_t len, const char *want, int line)
{
	cJSON *j;

	err[0] = '\0';
	j = json_parse(s, len, err, sizeof(err));
	unit_check(j == NULL && strstr(err, want) && !strchr(err, '\n'), __FILE__, line,
		   "bad_json", "\"%.60s\": got \"%s\", want \"%s\"", s, err, want);
	cJSON_Delete(j);
}
#define BAD_JSON(s, want) bad_json(s, strlen(s), want, __LINE__)

static void test_reader(void)
{
	cJSON *j = J("{\"a\": [1, 2, {\"b\": \"\\u00e9\\ud83d\\ude00 ok\"}], \"c\": -0}");

	CHECK(j != NULL);
	cJSON_Delete(j);
	j = J("  {}  \r\n");
	CHECK(j != NULL);
	cJSON_Delete(j);

	BAD_JSON("", "EOF while parsing");
	BAD_JSON("   ", "EOF while parsing");
	BAD_JSON("{", "line 1 column");
	BAD_JSON("{\"a\":1,}", "expected value");
	BAD_JSON("{\"a\":1} x", "trailing characters");
	BAD_JSON("{\"a\":1}{}", "trailing characters");
	BAD_JSON("{\"a\":1.5}", "floating point");
	BAD_JSON("{\"a\":1e3}", "floating point");
	BAD_JSON("{\"a\":-2E1}", "floating point");
	BAD_JSON("{\"a\":012}", "leading zero");
	BAD_JSON("{\"a\":-01}", "leading zero");
	BAD_JSON("{\"a\":\"x\ty\"}", "control character");
	BAD_JSON("{\"a\":\"x\ny\"}", "control character");
	BAD_JSON("{\"a\":\"x\\u0000y\"}", "\\u0000");
	BAD_JSON("{\"a\\u0000\":1}", "\\u0000");
	BAD_JSON("{\"a\":\"\xff\"}", "invalid UTF-8");
	BAD_JSON("{\"a\":\"\xc0\x80\"}", "invalid UTF-8");         /* overlong NUL */
	BAD_JSON("{\"a\":\"\xed\xa0\x80\"}", "invalid UTF-8");     /* surrogate */
	BAD_JSON("{\"a\":\"\xf4\x90\x80\x80\"}", "invalid UTF-8"); /* > U+10FFFF */
	BAD_JSON("{\"a\":\"\xe2\x82\"}", "invalid UTF-8");         /* truncated */
	BAD_JSON("{\"a\":1,\"a\":2}", "duplicate field `a`");
	BAD_JSON("{\"x\":[{\"b\":1,\"c\":2,\"b\":3}]}", "duplicate field `b`");
	BAD_JSON("{'a':1}", "expected value");
	BAD_JSON("{\"a\":tru}", "expected value");
	BAD_JSON("{\"a\":NaN}", "expected value");
	bad_json("{\"a\":1}\0", 8, "NUL byte", __LINE__);
	bad_json("{\"a\":\"b\0\"}", 10, "NUL byte", __LINE__);

	/* deep nesting: refused or parsed, never a crash */
	{
		static char deep[20001];

		memset(deep, '[', 10000);
		memset(deep + 10000, ']', 10000);
		err[0] = '\0';
		j = json_parse(deep, 20000, err, sizeof(err));
		CHECK(j == NULL && err[0]);
		cJSON_Delete(j);
	}
}

/* f(c, j) on body s must fail with want in err and leave C unchanged. */
#define REFUSE(call_with_j, s, want)                                          \
	do {                                                                  \
		static struct ember_config before_;                           \
		cJSON *j = J(s);                                              \
		CHECK(j != NULL);                                             \
		before_ = C;                                                  \
		CHECK_FAIL(call_with_j, err, want);                           \
		CHECK(!memcmp(&before_, &C, sizeof(C)));                      \
		cJSON_Delete(j);                                              \
	} while (0)

#define ACCEPT(call_with_j, s)                                                \
	do {                                                                  \
		cJSON *j = J(s);                                              \
		CHECK(j != NULL);                                             \
		CHECK_OK(call_with_j, err);                                   \
		cJSON_Delete(j);                                              \
	} while (0)

static char body[8192];

static const char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static const char *fmt(const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	vsnprintf(body, sizeof(body), f, ap);
	va_end(ap);
	return body;
}

static void test_boot_source(void)
{
	setup();
	REFUSE(config_put_boot_source(&C, j, err, sizeof(err)), "{}",
	       "missing field `kernel_image_path`");
	REFUSE(config_put_boot_source(&C, j, err, sizeof(err)), "[]", "expected BootSource");
	REFUSE(config_put_boot_source(&C, j, err, sizeof(err)),
	       "{\"kernel_image_path\": 5}", "invalid type: integer `5`, expected a string");
	REFUSE(config_put_boot_source(&C, j, err, sizeof(err)),
	       "{\"kernel_image_path\": null}", "invalid type: null");
	REFUSE(config_put_boot_source(&C, j, err, sizeof(err)),
	       fmt("{\"kernel_image_path\": \"%s\", \"foo\": 1}", kernel), "unknown field `foo`");
	REFUSE(config_put_boot_source(&C, j, err, sizeof(err)),
	       fmt("{\"kernel_image_path\": \"%s/none\"}", dir),
	       "The kernel file cannot be opened");
	REFUSE(config_put_boot_source(&C, j, err, sizeof(err)),
	       fmt("{\"kernel_image_path\": \"%s\", \"initrd_path\": \"%s/none\"}", kernel, dir),
	       "The initrd file cannot be opened");
	REFUSE(config_put_boot_source(&C, j, err, sizeof(err)),
	       fmt("{\"kernel_image_path\": \"%s\", \"boot_args\": \"a\\u00e9\"}", kernel),
	       "printable ASCII");
	REFUSE(config_put_boot_source(&C, j, err, sizeof(err)),
	       fmt("{\"kernel_image_path\": \"%s\", \"boot_args\": \"a\\u0001\"}", kernel),
	       "printable ASCII");
	REFUSE(config_put_boot_source(&C, j, err, sizeof(err)),
	       "{\"kernel_image_path\": \"\"}", "`kernel_image_path` is empty");
	{
		static char big[CMDLINE_MAX_SIZE + 1];

		memset(big, 'a', CMDLINE_MAX_SIZE);
		REFUSE(config_put_boot_source(&C, j, err, sizeof(err)),
		       fmt("{\"kernel_image_path\": \"%s\", \"boot_args\": \"%s\"}", kernel, big),
		       "longer than 2047");
	}

	ACCEPT(config_put_boot_source(&C, j, err, sizeof(err)),
	       fmt("{\"kernel_image_path\": \"%s\"}", kernel));
	CHECK_STREQ(C.vm.kernel, kernel);
	CHECK(!C.vm.cmdline_replaces);
	CHECK_STREQ(C.vm.initrd, "");
	ACCEPT(config_put_boot_source(&C, j, err, sizeof(err)),
	       fmt("{\"kernel_image_path\": \"%s\", \"initrd_path\": \"%s\", "
		   "\"boot_args\": \"console=ttyS0 reboot=k\"}", kernel, initrd));
	CHECK(C.vm.cmdline_replaces);
	CHECK_STREQ(C.vm.cmdline, "console=ttyS0 reboot=k");
	CHECK_STREQ(C.vm.initrd, initrd);
	/* a later PUT replaces the whole boot source (nulls mean absent) */
	ACCEPT(config_put_boot_source(&C, j, err, sizeof(err)),
	       fmt("{\"kernel_image_path\": \"%s\", \"initrd_path\": null, \"boot_args\": null}",
		   kernel));
	CHECK(!C.vm.cmdline_replaces);
	CHECK_STREQ(C.vm.initrd, "");
	/* an empty boot_args is a command line of its own (replaces the default) */
	ACCEPT(config_put_boot_source(&C, j, err, sizeof(err)),
	       fmt("{\"kernel_image_path\": \"%s\", \"boot_args\": \"\"}", kernel));
	CHECK(C.vm.cmdline_replaces);
	teardown();
}

static void test_machine(void)
{
	setup();
	REFUSE(config_machine(&C, j, false, err, sizeof(err)), "{\"vcpu_count\": 2}",
	       "missing field `mem_size_mib`");
	REFUSE(config_machine(&C, j, false, err, sizeof(err)), "{\"mem_size_mib\": 256}",
	       "missing field `vcpu_count`");
	REFUSE(config_machine(&C, j, false, err, sizeof(err)),
	       "{\"vcpu_count\": 0, \"mem_size_mib\": 256}", "The number of vCPUs");
	REFUSE(config_machine(&C, j, false, err, sizeof(err)),
	       "{\"vcpu_count\": 33, \"mem_size_mib\": 256}", "The number of vCPUs");
	REFUSE(config_machine(&C, j, false, err, sizeof(err)),
	       "{\"vcpu_count\": 256, \"mem_size_mib\": 256}", "invalid value: integer `256`");
	REFUSE(config_machine(&C, j, false, err, sizeof(err)),
	       "{\"vcpu_count\": -1, \"mem_size_mib\": 256}", "invalid type: integer `-1`");
	REFUSE(config_machine(&C, j, false, err, sizeof(err)),
	       "{\"vcpu_count\": \"2\", \"mem_size_mib\": 256}", "invalid type: string \"2\"");
	REFUSE(config_machine(&C, j, false, err, sizeof(err)),
	       "{\"vcpu_count\": true, \"mem_size_mib\": 256}", "invalid type: boolean `true`");
	REFUSE(config_machine(&C, j, false, err, sizeof(err)),
	       "{\"vcpu_count\": 1, \"mem_size_mib\": 0}", "memory size (MiB) is either 0");
	/* the size's range is the boot's to check (Firecracker: the allocation fails) */
	ACCEPT(config_machine(&C, j, false, err, sizeof(err)),
	       "{\"vcpu_count\": 1, \"mem_size_mib\": 4}");
	ACCEPT(config_machine(&C, j, true, err, sizeof(err)),
	       "{\"mem_size_mib\": 18446744073709551615}");
	CHECK_EQ(C.vm.mem_mib, UINT64_MAX);
	ACCEPT(config_machine(&C, j, false, err, sizeof(err)),
	       "{\"vcpu_count\": 1, \"mem_size_mib\": 256}");
	REFUSE(config_machine(&C, j, false, err, sizeof(err)),
	       "{\"vcpu_count\": 1, \"mem_size_mib\": 99999999999999999999}",
	       "invalid type: floating point");
	/* past u64: a float to serde, an invalid type */
	REFUSE(config_machine(&C, j, false, err, sizeof(err)),
	       "{\"vcpu_count\": 1, \"mem_size_mib\": 18446744073709551616}",
	       "invalid type: floating point `18446744073709551616`, expected an unsigned integer "
	       "for `mem_size_mib` at line 1 column 54.");
	/* SMT: 1 or an even number of vCPUs (Firecracker's words) */
	REFUSE(config_machine(&C, j, false, err, sizeof(err)),
	       "{\"vcpu_count\": 3, \"mem_size_mib\": 256, \"smt\": true}",
	       "must be 1 or an even number if SMT is enabled");
	ACCEPT(config_machine(&C, j, false, err, sizeof(err)),
	       "{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"smt\": true}");
	CHECK(C.vm.smt);
	REFUSE(config_machine(&C, j, true, err, sizeof(err)), "{\"vcpu_count\": 5}",
	       "must be 1 or an even number if SMT is enabled");
	ACCEPT(config_machine(&C, j, true, err, sizeof(err)), "{\"vcpu_count\": 1}");
	ACCEPT(config_machine(&C, j, false, err, sizeof(err)),
	       "{\"vcpu_count\": 2, \"mem_size_mib\": 256}");
	CHECK(!C.vm.smt);
	REFUSE(config_machine(&C, j, false, err, sizeof(err)),
	       "{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"smt\": null}", "invalid type: null");
	REFUSE(config_machine(&C, j, false, err, sizeof(err)),
	       "{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"cpu_template\": \"T2\"}",
	       "CPU template \"T2\" is not supported");
	/* huge pages: 2M needs an even number of MiB, now and after a PATCH */
	REFUSE(config_machine(&C, j, false, err, sizeof(err)),
	       "{\"vcpu_count\": 2, \"mem_size_mib\": 255, \"huge_pages\": \"2M\"}",
	       "Machine config error: The memory size (MiB) is either 0, or not a multiple of "
	       "the configured page size.");
	ACCEPT(config_machine(&C, j, false, err, sizeof(err)),
	       "{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"huge_pages\": \"2M\"}");
	CHECK_EQ(C.vm.pages, GM_PAGES_HUGETLB_2M);
	REFUSE(config_machine(&C, j, true, err, sizeof(err)), "{\"mem_size_mib\": 257}",
	       "not a multiple of the configured page size");
	{
		char *m = config_machine_json(&C);

		CHECK(m && strstr(m, "\"huge_pages\":\"2M\"") != NULL);
		free(m);
	}
	ACCEPT(config_machine(&C, j, true, err, sizeof(err)), "{\"huge_pages\": \"Transparent\"}");
	CHECK_EQ(C.vm.pages, GM_PAGES_THP);
	ACCEPT(config_machine(&C, j, false, err, sizeof(err)),
	       "{\"vcpu_count\": 2, \"mem_size_mib\": 256}");
	CHECK_EQ(C.vm.pages, GM_PAGES_NORMAL);
	REFUSE(config_machine(&C, j, false, err, sizeof(err)),
	       "{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"huge_pages\": \"7M\"}",
	       "unknown variant `7M`");
	REFUSE(config_machine(&C, j, false, err, sizeof(err)),
	       "{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"gdb_socket_path\": \"/x\"}",
	       "unknown field `gdb_socket_path`");
	REFUSE(config_machine(&C, j, true, err, sizeof(err)), "{}", "Empty PATCH request.");
	REFUSE(config_machine(&C, j, true, err, sizeof(err)), "{\"vcpu_count\": null}",
	       "Empty PATCH request.");
	REFUSE(config_machine(&C, j, true, err, sizeof(err)), "{\"vcpu_count\": 40}",
	       "The number of vCPUs");

	ACCEPT(config_machine(&C, j, false, err, sizeof(err)),
	       "{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"smt\": false, \"cpu_template\": "
	       "\"None\", \"track_dirty_pages\": true, \"huge_pages\": \"None\"}");
	CHECK_EQ(C.vm.vcpus, 2);
	CHECK_EQ(C.vm.mem_mib, 256);
	CHECK(C.track_dirty_pages);
	/* PUT resets what it does not give; PATCH keeps it */
	ACCEPT(config_machine(&C, j, false, err, sizeof(err)),
	       "{\"vcpu_count\": 4, \"mem_size_mib\": 512}");
	CHECK(!C.track_dirty_pages);
	ACCEPT(config_machine(&C, j, true, err, sizeof(err)), "{\"track_dirty_pages\": true}");
	ACCEPT(config_machine(&C, j, true, err, sizeof(err)), "{\"vcpu_count\": 32}");
	CHECK_EQ(C.vm.vcpus, 32);
	CHECK_EQ(C.vm.mem_mib, 512);
	CHECK(C.track_dirty_pages);
	ACCEPT(config_machine(&C, j, true, err, sizeof(err)), "{\"mem_size_mib\": 1048576}");
	CHECK_EQ(C.vm.mem_mib, 1048576);
	teardown();
}

#define DRIVE(id, path, extra) \
	fmt("{\"drive_id\": \"%s\", \"path_on_host\": \"%s\", \"is_root_device\": %s}", id, path, extra)

/* Firecracker's order of the drives (BlockBuilder::insert): GET /vm/config
 * and the slots follow it. */
static void test_drive_order(void)
{
	static const char *const ids[] = { "x", "y", "z" };
	char got[4 * 70];

	setup();
	for (int i = 0; i < 3; i++)
		ACCEPT(config_put_drive(&C, j, ids[i], err, sizeof(err)), DRIVE(ids[i], disk, "false"));
	/* a drive updated into the root swaps with the first: z y x, not z x y */
	ACCEPT(config_put_drive(&C, j, "z", err, sizeof(err)), DRIVE("z", disk2, "true"));
	snprintf(got, sizeof(got), "%s %s %s", C.vm.drives[0].id, C.vm.drives[1].id,
		 C.vm.drives[2].id);
	CHECK_STREQ(got, "z y x");
	CHECK_STREQ(C.vm.drives[0].path, disk2);
	CHECK(C.vm.drives[0].root);
	teardown();

	/* a new root drive goes to the front, the others keep their order (the
	 * SDK puts its root drive last) */
	setup();
	for (int i = 0; i < 3; i++)
		ACCEPT(config_put_drive(&C, j, ids[i], err, sizeof(err)), DRIVE(ids[i], disk, "false"));
	ACCEPT(config_put_drive(&C, j, "root_drive", err, sizeof(err)),
	       fmt("{\"drive_id\": \"root_drive\", \"path_on_host\": \"%s\", \"is_root_device\": true, "
		   "\"cache_type\": \"Writeback\", \"rate_limiter\": {\"ops\": {\"size\": 5, "
		   "\"refill_time\": 10}}}", disk2));
	snprintf(got, sizeof(got), "%s %s %s %s", C.vm.drives[0].id, C.vm.drives[1].id,
		 C.vm.drives[2].id, C.vm.drives[3].id);
	CHECK_STREQ(got, "root_drive x y z");
	/* what belongs to a drive moved with it */
	CHECK(C.writeback[0] && !C.writeback[1] && !C.writeback[3]);
	CHECK(C.drive_limiter[0].set && C.drive_limiter[0].ops.size == 5 && !C.drive_limiter[1].set);
	CHECK_STREQ(C.vm.drives[0].path, disk2);
	/* the root updated in place stays first */
	ACCEPT(config_put_drive(&C, j, "root_drive", err, sizeof(err)), DRIVE("root_drive", disk, "true"));
	CHECK_STREQ(C.vm.drives[0].id, "root_drive");
	CHECK_STREQ(C.vm.drives[3].id, "z");
	teardown();
}

static void test_drives(void)
{
	setup();
	REFUSE(config_put_drive(&C, j, "a", err, sizeof(err)),
	       fmt("{\"drive_id\": \"a\", \"path_on_host\": \"%s\"}", disk),
	       "missing field `is_root_device`");
	REFUSE(config_put_drive(&C, j, "a", err, sizeof(err)),
	       fmt("{\"path_on_host\": \"%s\", \"is_root_device\": false}", disk),
	       "missing field `drive_id`");
	REFUSE(config_put_drive(&C, j, "b", err, sizeof(err)), DRIVE("a", disk, "false"),
	       "The id from the path does not match the id from the body!");
	REFUSE(config_put_drive(&C, j, "a-b", err, sizeof(err)), DRIVE("a-b", disk, "false"),
	       "invalid drive_id \"a-b\": 1 to 64 letters, digits and underscores");
	REFUSE(config_put_drive(&C, j, "", err, sizeof(err)), DRIVE("", disk, "false"),
	       "The ID cannot be empty.");
	REFUSE(config_put_drive(&C, j, "a", err, sizeof(err)), DRIVE("a", disk, "\"yes\""),
	       "invalid type: string \"yes\", expected a boolean");
	REFUSE(config_put_drive(&C, j, "a", err, sizeof(err)),
	       "{\"drive_id\": \"a\", \"is_root_device\": false}", "path_on_host is required");
	/* control characters in paths (JSON escapes) never reach a message */
	REFUSE(config_put_drive(&C, j, "a", err, sizeof(err)),
	       "{\"drive_id\": \"a\", \"path_on_host\": \"/tmp/a\\nb\", \"is_root_device\": false}",
	       "`path_on_host` contains a control character");
	REFUSE(config_put_drive(&C, j, "a", err, sizeof(err)),
	       fmt("{\"drive_id\": \"a\", \"path_on_host\": \"%s\", \"is_root_device\": true, "
		   "\"partuuid\": \"\\n\\r\"}", disk), "partuuid \"??\"");
	REFUSE(config_put_drive(&C, j, "a", err, sizeof(err)),
	       fmt("{\"drive_id\": \"a\", \"path_on_host\": \"%s/none\", \"is_root_device\": false}",
		   dir), "Unable to create the virtio block device");
	/* a read-write drive on a read-only file (not as root: root reads anything) */
	if (geteuid() != 0)
		REFUSE(config_put_drive(&C, j, "a", err, sizeof(err)), DRIVE("a", rodisk, "false"),
		       "Unable to create the virtio block device");
	REFUSE(config_put_drive(&C, j, "a", err, sizeof(err)),
	       fmt("{\"drive_id\": \"a\", \"path_on_host\": \"%s\", \"is_root_device\": false, "
		   "\"io_engine\": \"Async\"}", disk), "io_engine \"Async\" is not supported");
	REFUSE(config_put_drive(&C, j, "a", err, sizeof(err)),
	       fmt("{\"drive_id\": \"a\", \"path_on_host\": \"%s\", \"is_root_device\": false, "
		   "\"io_engine\": \"Fast\"}", disk), "unknown variant `Fast`");
	REFUSE(config_put_drive(&C, j, "a", err, sizeof(err)),
	       fmt("{\"drive_id\": \"a\", \"path_on_host\": \"%s\", \"is_root_device\": false, "
		   "\"cache_type\": \"Fast\"}", disk), "unknown variant `Fast`");
	REFUSE(config_put_drive(&C, j, "a", err, sizeof(err)),
	       fmt("{\"drive_id\": \"a\", \"path_on_host\": \"%s\", \"is_root_device\": false, "
		   "\"cache_type\": null}", disk), "invalid type: null");
	REFUSE(config_put_drive(&C, j, "a", err, sizeof(err)),
	       "{\"drive_id\": \"a\", \"socket\": \"/s\", \"is_root_device\": false}",
	       "vhost-user");
	REFUSE(config_put_drive(&C, j, "a", err, sizeof(err)),
	       fmt("{\"drive_id\": \"a\", \"path_on_host\": \"%s\", \"is_root_device\": true, "
		   "\"partuuid\": \"not a uuid!\"}", disk), "partuuid");
	REFUSE(config_put_drive(&C, j, "a", err, sizeof(err)),
	       fmt("{\"drive_id\": \"a\", \"path_on_host\": \"%s\", \"is_root_device\": false, "
		   "\"rate_limiter\": {\"ops\": {\"size\": 10}}}", disk),
	       "missing field `refill_time`");
	REFUSE(config_put_drive(&C, j, "a", err, sizeof(err)),
	       fmt("{\"drive_id\": \"a\", \"path_on_host\": \"%s\", \"is_root_device\": false, "
		   "\"rate_limiter\": {\"iops\": {}}}", disk), "unknown field `iops`");

	/* rate limiters are kept as given (not enforced yet: a warning in the log) */
	ACCEPT(config_put_drive(&C, j, "rootfs", err, sizeof(err)),
	       fmt("{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", \"is_root_device\": true, "
		   "\"is_read_only\": false, \"cache_type\": \"Writeback\", \"io_engine\": \"Sync\", "
		   "\"partuuid\": null, \"socket\": null, \"rate_limiter\": {\"bandwidth\": "
		   "{\"size\": 0, \"refill_time\": 100, \"one_time_burst\": 5}, \"ops\": null}}", disk));
	CHECK_EQ(C.vm.ndrives, 1);
	CHECK(C.vm.drives[0].root);
	CHECK(C.writeback[0]);
	CHECK(C.drive_limiter[0].set && C.drive_limiter[0].bandwidth.set &&
	      C.drive_limiter[0].bandwidth.refill_time == 100 &&
	      C.drive_limiter[0].bandwidth.has_burst &&
	      C.drive_limiter[0].bandwidth.one_time_burst == 5 && !C.drive_limiter[0].ops.set);
	CHECK_STREQ(C.vm.drives[0].id, "rootfs");
	/* a second root drive is refused; the same one again replaces it in place */
	REFUSE(config_put_drive(&C, j, "other", err, sizeof(err)), DRIVE("other", disk2, "true"),
	       "A root block device already exists!");
	ACCEPT(config_put_drive(&C, j, "data", err, sizeof(err)),
	       fmt("{\"drive_id\": \"data\", \"path_on_host\": \"%s\", \"is_root_device\": false, "
		   "\"is_read_only\": true}", rodisk));
	ACCEPT(config_put_drive(&C, j, "rootfs", err, sizeof(err)), DRIVE("rootfs", disk2, "true"));
	CHECK_EQ(C.vm.ndrives, 2);
	CHECK_STREQ(C.vm.drives[0].path, disk2);
	CHECK(!C.writeback[0]);
	CHECK(C.vm.drives[1].read_only);
	/* the root flag can move once the old root is no longer root */
	ACCEPT(config_put_drive(&C, j, "rootfs", err, sizeof(err)), DRIVE("rootfs", disk2, "false"));
	ACCEPT(config_put_drive(&C, j, "data", err, sizeof(err)),
	       fmt("{\"drive_id\": \"data\", \"path_on_host\": \"%s\", \"is_root_device\": true, "
		   "\"is_read_only\": true, \"partuuid\": \"0eaa91a0-01\"}", rodisk));
	{
		static struct vm_config vm;

		/* the drive updated into the root changed places with the first */
		CHECK_STREQ(C.vm.drives[0].id, "data");
		CHECK_STREQ(C.vm.drives[1].id, "rootfs");
		CHECK_OK(config_to_vm(&C, &vm, err, sizeof(err)), err);
		CHECK(!vm.drives[0].root);
		CHECK_STREQ(vm.cmdline, "root=PARTUUID=0eaa91a0-01 ro");
	}
	for (int i = 2; i < MAX_DRIVES; i++) {
		char id[16];

		snprintf(id, sizeof(id), "d%d", i);
		ACCEPT(config_put_drive(&C, j, id, err, sizeof(err)), DRIVE(id, disk, "false"));
	}
	REFUSE(config_put_drive(&C, j, "one_more", err, sizeof(err)),
	       DRIVE("one_more", disk, "false"), "at most 8 drives");

	/* PATCH */
	{
		const char *path = (const char *)1;
		struct config_limiter lim;

		REFUSE(config_patch_drive(&C, j, "nope", &path, &lim, err, sizeof(err)),
		       "{\"drive_id\": \"nope\", \"path_on_host\": \"/x\"}", "no drive with drive_id");
		REFUSE(config_patch_drive(&C, j, "data", &path, &lim, err, sizeof(err)),
		       "{\"drive_id\": \"d2\", \"path_on_host\": \"/x\"}", "does not match");
		REFUSE(config_patch_drive(&C, j, "data", &path, &lim, err, sizeof(err)),
		       "{\"drive_id\": \"data\", \"is_read_only\": false}", "unknown field");
		REFUSE(config_patch_drive(&C, j, "data", &path, &lim, err, sizeof(err)),
		       "{\"drive_id\": \"data\", \"path_on_host\": true}", "invalid type");
		REFUSE(config_patch_drive(&C, j, "data", &path, &lim, err, sizeof(err)),
		       "{\"path_on_host\": \"/x\"}", "missing field `drive_id`");
		ACCEPT(config_patch_drive(&C, j, "data", &path, &lim, err, sizeof(err)),
		       "{\"drive_id\": \"data\"}");
		CHECK(path == NULL && !lim.set);
		ACCEPT(config_patch_drive(&C, j, "data", &path, &lim, err, sizeof(err)),
		       "{\"drive_id\": \"data\", \"rate_limiter\": {\"ops\": {\"size\": 3, "
		       "\"refill_time\": 7}}}");
		CHECK(path == NULL && lim.set && lim.ops.size == 3 && !lim.bandwidth.set);
		{
			cJSON *j = J("{\"drive_id\": \"data\", \"path_on_host\": \"/new\"}");

			CHECK_OK(config_patch_drive(&C, j, "data", &path, &lim, err, sizeof(err)), err);
			CHECK(path && !strcmp(path, "/new"));
			cJSON_Delete(j);
		}
	}
	teardown();
}

static void test_nets(void)
{
	setup();
	REFUSE(config_put_net(&C, j, "eth0", err, sizeof(err)), "{\"iface_id\": \"eth0\"}",
	       "missing field `host_dev_name`");
	REFUSE(config_put_net(&C, j, "eth1", err, sizeof(err)),
	       "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}",
	       "The id from the path [eth1] does not match the id from the body [eth0]!");
	REFUSE(config_put_net(&C, j, "eth0", err, sizeof(err)),
	       "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"guest_mac\": \"06:00:AC\"}",
	       "guest_mac: invalid MAC \"06:00:AC\"");
	REFUSE(config_put_net(&C, j, "eth0", err, sizeof(err)),
	       "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"guest_mac\": "
	       "\"06:00:AC:10:00:0g\"}", "guest_mac: invalid MAC");
	REFUSE(config_put_net(&C, j, "eth0", err, sizeof(err)),
	       "{\"iface_id\": \"eth0\", \"host_dev_name\": \"a/b\"}",
	       "Cannot open/create the tap device: TAP name \"a/b\" has an invalid character");
	REFUSE(config_put_net(&C, j, "eth0", err, sizeof(err)),
	       "{\"iface_id\": \"eth0\", \"host_dev_name\": \"0123456789abcdef\"}",
	       "is longer than 15 characters");
	REFUSE(config_put_net(&C, j, "eth0", err, sizeof(err)),
	       "{\"iface_id\": \"eth0\", \"host_dev_name\": \"\"}",
	       "the TAP name cannot be empty");
	REFUSE(config_put_net(&C, j, "eth0", err, sizeof(err)),
	       "{\"iface_id\": \"eth0\", \"host_dev_name\": \"t\\u0007p\"}",
	       "TAP name \"t?p\" has an invalid character");
	REFUSE(config_put_net(&C, j, "eth0", err, sizeof(err)),
	       "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"mtu\": 9000}",
	       "mtu is not supported");
	REFUSE(config_put_net(&C, j, "eth0", err, sizeof(err)),
	       "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"allow_mmds_requests\": true}",
	       "unknown field `allow_mmds_requests`");

	ACCEPT(config_put_net(&C, j, "eth0", err, sizeof(err)),
	       "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"guest_mac\": "
	       "\"06:00:AC:10:00:02\", \"rx_rate_limiter\": null, \"tx_rate_limiter\": {}}");
	CHECK_EQ(C.vm.nnets, 1);
	CHECK(C.vm.nets[0].has_mac);
	CHECK_EQ(C.vm.nets[0].mac[2], 0xac);
	CHECK_STREQ(C.vm.nets[0].tap, "tap0");
	REFUSE(config_put_net(&C, j, "eth1", err, sizeof(err)),
	       "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap0\"}", "already used by interface");
	REFUSE(config_put_net(&C, j, "eth1", err, sizeof(err)),
	       "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", \"guest_mac\": "
	       "\"06:00:ac:10:00:02\"}", "The MAC address is already in use");
	ACCEPT(config_put_net(&C, j, "eth1", err, sizeof(err)),
	       "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\"}");
	/* replacing eth0 keeps its slot */
	ACCEPT(config_put_net(&C, j, "eth0", err, sizeof(err)),
	       "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap9\"}");
	CHECK_EQ(C.vm.nnets, 2);
	CHECK_STREQ(C.vm.nets[0].tap, "tap9");
	CHECK(!C.vm.nets[0].has_mac);

	REFUSE(config_patch_net(&C, j, "eth7", err, sizeof(err)), "{\"iface_id\": \"eth7\"}",
	       "no network interface");
	REFUSE(config_patch_net(&C, j, "eth0", err, sizeof(err)),
	       "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap3\"}", "unknown field");
	ACCEPT(config_patch_net(&C, j, "eth0", err, sizeof(err)),
	       "{\"iface_id\": \"eth0\", \"rx_rate_limiter\": {\"bandwidth\": {\"size\": 1, "
	       "\"refill_time\": 1}}}");
	CHECK(C.rx_limiter[0].set && C.rx_limiter[0].bandwidth.size == 1);
	CHECK(!C.tx_limiter[0].set);
	/* a PATCH changes only the limiters it names */
	ACCEPT(config_patch_net(&C, j, "eth0", err, sizeof(err)),
	       "{\"iface_id\": \"eth0\", \"tx_rate_limiter\": {\"ops\": {\"size\": 5, "
	       "\"refill_time\": 1000}}}");
	CHECK(C.rx_limiter[0].set && C.tx_limiter[0].ops.refill_time == 1000);
	REFUSE(config_patch_net(&C, j, "eth0", err, sizeof(err)),
	       "{\"iface_id\": \"eth0\", \"tx_rate_limiter\": {\"ops\": {\"size\": -1, "
	       "\"refill_time\": 1}}}", "invalid type");
	{
		char *out = config_vm_json(&C);

		CHECK(out && strstr(out, "\"rx_rate_limiter\":{\"bandwidth\":{\"size\":1,"
				     "\"one_time_burst\":null,\"refill_time\":1},\"ops\":null}"));
		free(out);
	}
	teardown();
}

static void test_misc_bodies(void)
{
	enum config_action a;
	bool pause;

	setup();
	REFUSE(config_put_logger(&C, j, err, sizeof(err)), "{\"level\": \"Loud\"}",
	       "Invalid LevelFilter");
	REFUSE(config_put_logger(&C, j, err, sizeof(err)), "{\"log_path\": 3}", "invalid type");
	REFUSE(config_put_logger(&C, j, err, sizeof(err)), "{\"colour\": true}", "unknown field");
	ACCEPT(config_put_logger(&C, j, err, sizeof(err)),
	       "{\"log_path\": \"/tmp/x\", \"level\": \"wArNiNg\", \"show_level\": true}");
	CHECK_STREQ(C.logger.level, "Warning");
	CHECK(C.logger.show_level && !C.logger.show_origin);
	/* a later PUT changes only what it names */
	ACCEPT(config_put_logger(&C, j, err, sizeof(err)), "{\"show_log_origin\": true}");
	CHECK_STREQ(C.logger.level, "Warning");
	CHECK_STREQ(C.logger.path, "/tmp/x");
	CHECK(C.logger.show_level && C.logger.show_origin);
	ACCEPT(config_put_logger(&C, j, err, sizeof(err)), "{\"level\": \"warn\", \"module\": \"virtio/\"}");
	CHECK_STREQ(C.logger.module, "virtio/");

	REFUSE(config_put_metrics(&C, j, err, sizeof(err)), "{}", "missing field `metrics_path`");
	REFUSE(config_put_metrics(&C, j, err, sizeof(err)), "{\"metrics_path\": \"\"}", "empty");
	REFUSE(config_put_metrics(&C, j, err, sizeof(err)),
	       "{\"metrics_path\": \"/m\", \"properties\": {\"a\": 1}}",
	       "invalid type: integer, expected a string (properties.a)");
	ACCEPT(config_put_metrics(&C, j, err, sizeof(err)),
	       "{\"metrics_path\": \"/m\", \"emit_id\": false}");
	CHECK_STREQ(C.metrics.path, "/m");
	CHECK(!C.metrics.emit_id && !C.metrics.properties[0]);
	/* Firecracker's emit_id and properties (a map of strings, kept with sorted keys) */
	ACCEPT(config_put_metrics(&C, j, err, sizeof(err)),
	       "{\"metrics_path\": \"/m\", \"emit_id\": true, "
	       "\"properties\": {\"z\": \"1\", \"bundle_id\": \"fn-abc\"}}");
	CHECK(C.metrics.emit_id);
	CHECK_STREQ(C.metrics.properties, "{\"bundle_id\":\"fn-abc\",\"z\":\"1\"}");

	REFUSE(config_put_serial(&C, j, err, sizeof(err)), "{\"serial_out_path\": 1}",
	       "invalid type");
	REFUSE(config_put_logger(&C, j, err, sizeof(err)), "{\"log_path\": \"/x\\u001b[2J\"}",
	       "control character");
	ACCEPT(config_put_serial(&C, j, err, sizeof(err)),
	       "{\"rate_limiter\": {\"size\": 10, \"refill_time\": 10}}");
	CHECK(C.serial.limiter.set && C.serial.limiter.size == 10);
	ACCEPT(config_put_serial(&C, j, err, sizeof(err)), "{\"serial_out_path\": \"/s\"}");
	CHECK_STREQ(C.serial.path, "/s");

	{
		cJSON *j = J("{\"action_type\": \"InstanceStart\"}");

		CHECK_OK(config_parse_action(j, &a, err, sizeof(err)), err);
		CHECK_EQ(a, ACTION_INSTANCE_START);
		cJSON_Delete(j);
		j = J("{\"action_type\": \"SendCtrlAltDel\"}");
		CHECK_OK(config_parse_action(j, &a, err, sizeof(err)), err);
		CHECK_EQ(a, ACTION_CTRL_ALT_DEL);
		cJSON_Delete(j);
		j = J("{\"action_type\": \"FlushMetrics\"}");
		CHECK_OK(config_parse_action(j, &a, err, sizeof(err)), err);
		CHECK_EQ(a, ACTION_FLUSH_METRICS);
		cJSON_Delete(j);
		j = J("{\"action_type\": \"instancestart\"}");
		CHECK_FAIL(config_parse_action(j, &a, err, sizeof(err)), err, "unknown variant");
		cJSON_Delete(j);
		j = J("{\"action_type\": \"InstanceStart\", \"payload\": 1}");
		CHECK_FAIL(config_parse_action(j, &a, err, sizeof(err)), err, "unknown field");
		cJSON_Delete(j);
		j = J("\"InstanceStart\"");
		CHECK_FAIL(config_parse_action(j, &a, err, sizeof(err)), err, "expected "
			   "InstanceActionInfo object");
		cJSON_Delete(j);

		j = J("{\"state\": \"Paused\"}");
		CHECK_OK(config_parse_vm_state(j, &pause, err, sizeof(err)), err);
		CHECK(pause);
		cJSON_Delete(j);
		j = J("{\"state\": \"Resumed\"}");
		CHECK_OK(config_parse_vm_state(j, &pause, err, sizeof(err)), err);
		CHECK(!pause);
		cJSON_Delete(j);
		j = J("{\"state\": \"Running\"}");
		CHECK_FAIL(config_parse_vm_state(j, &pause, err, sizeof(err)), err,
			   "unknown variant `Running`");
		cJSON_Delete(j);
	}
	teardown();
}

static int tap_busy(const char *tap, char *e, size_t elen)
{
	snprintf(e, elen, "%s is busy", tap);
	return -1;
}

static int file(const char *text)
{
	err[0] = '\0';
	return config_parse_file(&C, text, strlen(text), err, sizeof(err));
}

static void test_config_file(void)
{
	static struct ember_config again;
	char *out, *out2;

	setup();
	CHECK_FAIL(file("{}"), err, "missing field `boot-source`");
	CHECK_FAIL(file(fmt("{\"boot-source\": {\"kernel_image_path\": \"%s\"}}", kernel)), err,
		   "missing field `drives`");
	CHECK_FAIL(file(fmt("{\"boot-source\": {\"kernel_image_path\": \"%s\"}, \"drives\": [], "
			    "\"frobnicate\": 1}", kernel)), err, "unknown field `frobnicate`");
	CHECK(!strstr(err, "json body of a request"));
	CHECK_FAIL(file(fmt("{\"boot-source\": {\"kernel_image_path\": \"%s\"}, \"drives\": [], "
			    "\"vsock\": {\"guest_cid\": 3, \"uds_path\": \"/v\"}}", kernel)), err,
		   "\"vsock\" is not supported by ember");
	CHECK_FAIL(file(fmt("{\"boot-source\": {\"kernel_image_path\": \"%s\"}, \"drives\": [], "
			    "\"pmem\": [{}]}", kernel)), err, "\"pmem\" is not supported");
	CHECK_FAIL(file(fmt("{\"boot-source\": {\"kernel_image_path\": \"%s\"}, \"drives\": "
			    "[%s, %s]}", kernel, "{\"drive_id\":\"a\",\"path_on_host\":\"/nonexistent\","
			    "\"is_root_device\":false}", "{}")), err, "Unable to create");
	CHECK_FAIL(file(fmt("{\"boot-source\": {\"kernel_image_path\": \"%s\"}, \"drives\": "
			    "[{\"drive_id\":\"a\",\"path_on_host\":\"%s\",\"is_root_device\":false},"
			    "{\"drive_id\":\"a\",\"path_on_host\":\"%s\",\"is_root_device\":false}]}",
			    kernel, disk, disk)), err, "appears twice");
	CHECK_FAIL(file(fmt("{\"boot-source\": {\"kernel_image_path\": \"%s\"}, \"drives\": [], "
			    "\"machine-config\": {\"vcpu_count\": 1.0, \"mem_size_mib\": 128}}",
			    kernel)), err, "floating point");
	CHECK_FAIL(file("[1, 2]"), err, "expected VmmConfig object");
	CHECK_FAIL(file("{\"boot-source\": "), err, "EOF while parsing");
	/* the untouched config stays the default after failures */
	CHECK_EQ(C.vm.vcpus, 1);
	CHECK_STREQ(C.vm.kernel, "");

	/*
	 * A snapshot's configuration: its kernel may be gone and its TAP busy
	 * (another clone's): neither is checked, a config file gets both.
	 */
	{
		const char *snap = "{\"boot-source\": {\"kernel_image_path\": \"/nonexistent/vmlinux\"}, "
				   "\"drives\": [], \"network-interfaces\": [{\"iface_id\": \"eth0\", "
				   "\"host_dev_name\": \"tap0\"}]}";

		config_tap_check = tap_busy;
		CHECK_FAIL(file(snap), err, "The kernel file cannot be opened");
		CHECK_FAIL(file(fmt("{\"boot-source\": {\"kernel_image_path\": \"%s\"}, \"drives\": [], "
				    "\"network-interfaces\": [{\"iface_id\": \"eth0\", "
				    "\"host_dev_name\": \"tap0\"}]}", kernel)), err, "busy");
		CHECK_OK(config_parse_snapshot_config(&C, snap, strlen(snap), err, sizeof(err)), err);
		CHECK_STREQ(C.vm.kernel, "/nonexistent/vmlinux");
		CHECK_STREQ(C.vm.nets[0].tap, "tap0");
		config_tap_check = NULL;
		CHECK_FAIL(file(snap), err, "The kernel file cannot be opened");
		ember_config_init(&C);
	}

	/* Firecracker's getting-started example, with ember's files */
	CHECK_OK(file(fmt(
		"{\n"
		"  \"boot-source\": {\n"
		"    \"kernel_image_path\": \"%s\",\n"
		"    \"boot_args\": \"console=ttyS0 reboot=k panic=1 pci=off\",\n"
		"    \"initrd_path\": null\n"
		"  },\n"
		"  \"drives\": [\n"
		"    {\n"
		"      \"drive_id\": \"rootfs\",\n"
		"      \"partuuid\": null,\n"
		"      \"is_root_device\": true,\n"
		"      \"cache_type\": \"Unsafe\",\n"
		"      \"is_read_only\": false,\n"
		"      \"path_on_host\": \"%s\",\n"
		"      \"io_engine\": \"Sync\",\n"
		"      \"rate_limiter\": null,\n"
		"      \"socket\": null\n"
		"    }\n"
		"  ],\n"
		"  \"machine-config\": {\n"
		"    \"vcpu_count\": 2,\n"
		"    \"mem_size_mib\": 1024,\n"
		"    \"smt\": false,\n"
		"    \"track_dirty_pages\": false,\n"
		"    \"huge_pages\": \"None\"\n"
		"  },\n"
		"  \"cpu-config\": null,\n"
		"  \"balloon\": null,\n"
		"  \"network-interfaces\": [\n"
		"    {\"iface_id\": \"net1\", \"guest_mac\": \"06:00:AC:10:00:02\", "
		"\"host_dev_name\": \"tap0\"}\n"
		"  ],\n"
		"  \"vsock\": null,\n"
		"  \"logger\": {\"log_path\": \"/tmp/fc.log\", \"level\": \"Debug\", "
		"\"show_level\": true, \"show_log_origin\": false},\n"
		"  \"metrics\": {\"metrics_path\": \"/tmp/fc.metrics\"},\n"
		"  \"mmds-config\": null,\n"
		"  \"entropy\": null,\n"
		"  \"pmem\": [],\n"
		"  \"memory-hotplug\": null\n"
		"}\n", kernel, disk)), err);
	CHECK_EQ(C.vm.vcpus, 2);
	CHECK_EQ(C.vm.mem_mib, 1024);
	CHECK_EQ(C.vm.ndrives, 1);
	CHECK_EQ(C.vm.nnets, 1);
	CHECK_STREQ(C.iface_id[0], "net1");
	CHECK(C.vm.cmdline_replaces);
	CHECK(C.logger.set && C.metrics.set);
	CHECK_STREQ(C.logger.level, "Debug");

	/* GET /vm/config reads back as a config file and gives the same document */
	out = config_vm_json(&C);
	CHECK(out != NULL);
	if (out) {
		CHECK(strstr(out, "\"machine-config\":{\"vcpu_count\":2,\"mem_size_mib\":1024,"
			      "\"smt\":false,\"track_dirty_pages\":false,\"huge_pages\":\"None\"}"));
		CHECK(strstr(out, "\"guest_mac\":\"06:00:ac:10:00:02\""));
		ember_config_init(&again);
		CHECK_OK(config_parse_file(&again, out, strlen(out), err, sizeof(err)), err);
		out2 = config_vm_json(&again);
		CHECK(out2 && !strcmp(out, out2));
		free(out2);
	}
	free(out);
	out = config_machine_json(&C);
	CHECK_STREQ(out, "{\"vcpu_count\":2,\"mem_size_mib\":1024,\"smt\":false,"
		    "\"track_dirty_pages\":false,\"huge_pages\":\"None\"}");
	free(out);

	/* the defaults, with a kernel that is not there yet: GET works */
	ember_config_init(&C);
	out = config_vm_json(&C);
	CHECK(out && strstr(out, "\"boot-source\":{\"kernel_image_path\":\"\",\"initrd_path\":null,"
			    "\"boot_args\":null}"));
	CHECK(out && strstr(out, "\"drives\":[]"));
	free(out);
	teardown();
}

static void test_ids(void)
{
	static char id65[66];

	CHECK(config_valid_id("a"));
	CHECK(config_valid_id("Root_FS_1"));
	CHECK(!config_valid_id(""));
	CHECK(!config_valid_id("a-b"));
	CHECK(!config_valid_id("a b"));
	CHECK(!config_valid_id("\xc3\xa9"));
	memset(id65, 'a', 65);
	CHECK(!config_valid_id(id65));
	id65[64] = '\0';
	CHECK(config_valid_id(id65));
}

/* serde_json's positions ("at line L column C") for the top-level object's errors. */
static void test_positions(void)
{
	setup();
	REFUSE(config_machine(&C, j, false, err, sizeof(err)), "{\"mem_size_mib\": 128}",
	       "missing field `vcpu_count` at line 1 column 21.");
	REFUSE(config_machine(&C, j, false, err, sizeof(err)), "{\"foo\": 1}",
	       "unknown field `foo`, expected one of `vcpu_count`");
	REFUSE(config_machine(&C, j, false, err, sizeof(err)), "{\"foo\": 1}", "at line 1 column 6.");
	REFUSE(config_machine(&C, j, false, err, sizeof(err)),
	       "{\n  \"vcpu_count\": \"x\",\n  \"mem_size_mib\": 128\n}",
	       "for `vcpu_count` at line 2 column 19.");
	REFUSE(config_machine(&C, j, false, err, sizeof(err)),
	       "{\"vcpu_count\": 1,\n \"mem_size_mib\": 128, \"huge_pages\": \"4K\"}",
	       "unknown variant `4K`, expected one of `None`, `Transparent`, `2M` for `huge_pages` "
	       "at line 2 column 40.");
	/* nested objects: no position (serde's would be there; ember's is the member's name) */
	REFUSE(config_put_serial(&C, j, err, sizeof(err)),
	       "{\"rate_limiter\": {\"size\": 1}}", "missing field `refill_time`.");
	teardown();
}

UNIT_MAIN(TEST(test_reader), TEST(test_positions), TEST(test_boot_source), TEST(test_machine), TEST(test_drive_order), TEST(test_drives),
	  TEST(test_nets), TEST(test_misc_bodies), TEST(test_config_file), TEST(test_ids))
