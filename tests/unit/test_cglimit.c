/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cgroup memory limit's parsing (core/cglimit.h): mountinfo lines (v1
 * hierarchies by controller, co-mounted ones, cgroup2, escapes, optional
 * fields), /proc/self/cgroup lines, paths relative to a mount's root, and
 * limit files. Reading the real /proc and cgroup files is tests/jailer's.
 * The code under test is compiled in here (it is no part of the unit
 * library of tests/unit/unit.mk).
 */
#include "tests/unit/unit.h"
#include "core/cglimit.c"

static char mnt[256], root[256], path[256];

/* cg_mountinfo_match on a copy of LINE (it changes its argument). */
static int mi(const char *line, const char *controller)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "%s", line);
	mnt[0] = root[0] = 0;
	return cg_mountinfo_match(buf, controller, mnt, sizeof(mnt), root, sizeof(root));
}

static void test_mountinfo(void)
{
	static const char *const v1mem =
		"35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n";
	static const char *const v1cpu =
		"32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:9 - cgroup cgroup "
		"rw,cpu,cpuacct\n";
	static const char *const v2 =
		"41 31 0:38 /docker/abc /sys/fs/cgroup/uni\\040fied rw shared:5 master:1 - "
		"cgroup2 cgroup2 rw,nsdelegate\n";

	CHECK_EQ(mi(v1mem, "memory"), 0);
	CHECK_STREQ(mnt, "/sys/fs/cgroup/memory");
	CHECK_STREQ(root, "/");
	CHECK_EQ(mi(v1mem, "mem"), -1);
	CHECK_EQ(mi(v1mem, NULL), -1);

	/* co-mounted controllers: either one finds the mount */
	CHECK_EQ(mi(v1cpu, "cpu"), 0);
	CHECK_STREQ(mnt, "/sys/fs/cgroup/cpu,cpuacct");
	CHECK_EQ(mi(v1cpu, "cpuacct"), 0);
	CHECK_EQ(mi(v1cpu, "cpuset"), -1);
	CHECK_EQ(mi("34 31 0:31 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset\n", "cpu"),
		 -1);
	CHECK_EQ(mi("40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n",
		    "memory"), -1);

	/* cgroup2: optional fields, an escaped space, a root below the hierarchy's */
	CHECK_EQ(mi(v2, NULL), 0);
	CHECK_STREQ(mnt, "/sys/fs/cgroup/uni fied");
	CHECK_STREQ(root, "/docker/abc");
	CHECK_EQ(mi(v2, "memory"), -1);

	/* not cgroups, or not mountinfo */
	CHECK_EQ(mi("31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n", NULL),
		 -1);
	CHECK_EQ(mi("31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs cgroup rw,memory\n",
		    "memory"), -1);
	CHECK_EQ(mi("garbage\n", NULL), -1);
	CHECK_EQ(mi("1 2 - cgroup2 cgroup2 rw\n", NULL), -1);
	CHECK_EQ(mi("35 31 0:32 / /m rw - cgroup\n", "memory"), -1);
	CHECK_EQ(mi("", "memory"), -1);
}

static void test_mountinfo_too_long(void)
{
	char line[1024];

	snprintf(line, sizeof(line), "35 31 0:32 / /%0300d rw - cgroup cgroup rw,memory\n", 0);
	CHECK_EQ(cg_mountinfo_match(line, "memory", mnt, sizeof(mnt), root, sizeof(root)), -1);
}

static int pc(const char *line, const char *controller)
{
	path[0] = 0;
	return cg_proc_match(line, controller, path, sizeof(path));
}

static void test_proc_cgroup(void)
{
	CHECK_EQ(pc("0::/user.slice/a b\n", NULL), 0);
	CHECK_STREQ(path, "/user.slice/a b");
	CHECK_EQ(pc("0::/\n", "memory"), -1);
	CHECK_EQ(pc("4:memory:/process_api/7931\n", "memory"), 0);
	CHECK_STREQ(path, "/process_api/7931");
	CHECK_EQ(pc("4:memory:/x\n", NULL), -1);
	CHECK_EQ(pc("2:cpu,cpuacct:/y", "cpuacct"), 0);
	CHECK_STREQ(path, "/y");
	CHECK_EQ(pc("2:cpu,cpuacct:/y", "cpu"), 0);
	CHECK_EQ(pc("3:cpuset:/z\n", "cpu"), -1);
	CHECK_EQ(pc("3:cpu:/z\n", "cpuset"), -1);
	CHECK_EQ(pc("9:name=systemd:/\n", "memory"), -1);
	/* a path holding ':' stays whole */
	CHECK_EQ(pc("0::/a:b\n", NULL), 0);
	CHECK_STREQ(path, "/a:b");
	CHECK_EQ(pc("garbage\n", NULL), -1);
	CHECK_EQ(pc("4:memory\n", "memory"), -1);
	CHECK_EQ(pc("", NULL), -1);
}

static void test_proc_cgroup_too_long(void)
{
	char line[600], small[8];

	snprintf(line, sizeof(line), "0::/%0500d\n", 0);
	CHECK_EQ(cg_proc_match(line, NULL, path, sizeof(path)), -1);
	CHECK_EQ(cg_proc_match("0::/1234567\n", NULL, small, sizeof(small)), -1);
	CHECK_EQ(cg_proc_match("0::/123456\n", NULL, small, sizeof(small)), 0);
	CHECK_STREQ(small, "/123456");
}

static void test_rel_path(void)
{
	CHECK_STREQ(cg_rel_path("/a/b", "/"), "a/b");
	CHECK_STREQ(cg_rel_path("/", "/"), "");
	CHECK_STREQ(cg_rel_path("/a/b", "/a"), "b");
	CHECK_STREQ(cg_rel_path("/a/b", "/a/"), "b");
	CHECK_STREQ(cg_rel_path("/a", "/a"), "");
	CHECK(cg_rel_path("/ab", "/a") == NULL);
	CHECK(cg_rel_path("/b/a", "/a") == NULL);
	CHECK(cg_rel_path("/", "/a") == NULL);
}

static void test_parse_limit(void)
{
	uint64_t v = 7;

	CHECK_EQ(cg_parse_limit("max\n", &v), 0);
	CHECK_EQ(v, CG_NO_LIMIT);
	CHECK_EQ(cg_parse_limit("max", &v), 0);
	CHECK_EQ(v, CG_NO_LIMIT);
	CHECK_EQ(cg_parse_limit("67108864\n", &v), 0);
	CHECK_EQ(v, 67108864);
	CHECK_EQ(cg_parse_limit("0\n", &v), 0);
	CHECK_EQ(v, 0);
	/* v1's "unlimited" */
	CHECK_EQ(cg_parse_limit("9223372036854771712\n", &v), 0);
	CHECK_EQ(v, CG_NO_LIMIT);
	CHECK_EQ(cg_parse_limit("4611686018427387903\n", &v), 0);
	CHECK_EQ(v, 4611686018427387903ULL);
	CHECK_EQ(cg_parse_limit("18446744073709551615\n", &v), 0);
	CHECK_EQ(v, CG_NO_LIMIT);

	v = 7;
	CHECK_EQ(cg_parse_limit("", &v), -1);
	CHECK_EQ(cg_parse_limit("\n", &v), -1);
	CHECK_EQ(cg_parse_limit("-1\n", &v), -1);
	CHECK_EQ(cg_parse_limit("64M\n", &v), -1);
	CHECK_EQ(cg_parse_limit("12 \n", &v), -1);
	CHECK_EQ(cg_parse_limit("1\n\n", &v), -1);
	CHECK_EQ(cg_parse_limit("maximum\n", &v), -1);
	CHECK_EQ(cg_parse_limit("184467440737095516160\n", &v), -1);
	CHECK_EQ(v, 7);
}

UNIT_MAIN(TEST(test_mountinfo), TEST(test_mountinfo_too_long), TEST(test_proc_cgroup),
	  TEST(test_proc_cgroup_too_long), TEST(test_rel_path), TEST(test_parse_limit))
