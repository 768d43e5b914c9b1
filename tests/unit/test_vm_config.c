/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One check per configuration field (api-socket/vm_config.h): ids, TAP names,
 * MACs, and the command line's --drive and --net specs built from them.
 * tests/unit/test_config.c feeds the same bad values through the API and
 * config-file path and expects the same reasons.
 */
#include "tests/unit/unit.h"
#include "api-socket/vm_config.h"

#include <stdio.h>
#include <string.h>

static char err[512];

static int id(const char *s)
{
	return field_id(s, strlen(s), "id", err, sizeof(err));
}

static int tap(const char *s)
{
	return field_tap_name(s, strlen(s), err, sizeof(err));
}

static int mac(const char *s, uint8_t m[6])
{
	return field_mac(s, strlen(s), m, err, sizeof(err));
}

static void test_field_id(void)
{
	char id65[66];

	CHECK_OK(id("a"), err);
	CHECK_OK(id("Root_FS_1"), err);
	CHECK_FAIL(id(""), err, "the id cannot be empty");
	CHECK_FAIL(id("a-b"), err, "invalid id \"a-b\": 1 to 64 letters, digits and underscores");
	CHECK_FAIL(id("a b"), err, "invalid id");
	CHECK_FAIL(id("\xc3\xa9"), err, "invalid id");
	memset(id65, 'a', 65);
	id65[65] = '\0';
	CHECK_FAIL(id(id65), err, "longer than 64 characters");
	id65[64] = '\0';
	CHECK_OK(id(id65), err);
	/* only len bytes count */
	CHECK_OK(field_id("ab-", 2, "id", err, sizeof(err)), err);
}

static void test_field_tap_name(void)
{
	CHECK_OK(tap("tap0"), err);
	CHECK_OK(tap("fc-tap_0.1"), err);
	CHECK_OK(tap("0123456789abcde"), err);
	CHECK_FAIL(tap("0123456789abcdef"), err, "longer than 15 characters");
	CHECK_FAIL(tap(""), err, "the TAP name cannot be empty");
	CHECK_FAIL(tap("."), err, "\".\" is not a TAP name");
	CHECK_FAIL(tap(".."), err, "\"..\" is not a TAP name");
	/* a template: the kernel would make tap0, tap1... instead of opening ours */
	CHECK_FAIL(tap("tap%d"), err, "has an invalid character");
	CHECK_FAIL(tap("a/b"), err, "has an invalid character");
	CHECK_FAIL(tap("a:b"), err, "has an invalid character");
	CHECK_FAIL(tap("a,b"), err, "has an invalid character");
	CHECK_FAIL(tap("a=b"), err, "has an invalid character");
	CHECK_FAIL(tap("a b"), err, "has an invalid character");
	CHECK_FAIL(tap("a\tb"), err, "has an invalid character");
	CHECK(!strchr(err, '\t'));
}

static void test_field_mac(void)
{
	uint8_t m[6];

	CHECK_OK(mac("06:00:AC:10:00:02", m), err);
	CHECK(m[0] == 6 && m[2] == 0xac && m[5] == 2);
	CHECK_OK(mac("02:ff:ff:ff:ff:fe", m), err);
	CHECK_FAIL(mac("01:00:5e:00:00:01", m), err, "MAC 01:00:5e:00:00:01 is a multicast address");
	CHECK_FAIL(mac("ff:ff:ff:ff:ff:ff", m), err, "is a multicast address");
	CHECK_FAIL(mac("00:00:00:00:00:00", m), err, "is all zeroes");
	CHECK_FAIL(mac("06:00:AC", m), err, "invalid MAC \"06:00:AC\": expected XX:XX:XX:XX:XX:XX");
	CHECK_FAIL(mac("06:00:AC:10:00:0g", m), err, "invalid MAC");
	CHECK_FAIL(mac("06-00-AC-10-00-02", m), err, "invalid MAC");
	CHECK_FAIL(mac("06:00:AC:10:00:02:", m), err, "invalid MAC");
	CHECK_FAIL(mac("", m), err, "invalid MAC");
}

static void test_field_net_spec(void)
{
	struct net_spec n;

	CHECK_OK(field_net_spec("tap=tap0", &n, err, sizeof(err)), err);
	CHECK_STREQ(n.tap, "tap0");
	CHECK(!n.has_mac);
	CHECK_OK(field_net_spec("mac=06:00:ac:10:00:02,tap=t1", &n, err, sizeof(err)), err);
	CHECK_STREQ(n.tap, "t1");
	CHECK(n.has_mac && n.mac[2] == 0xac);
	CHECK_FAIL(field_net_spec("", &n, err, sizeof(err)), err, "is not KEY=VALUE");
	CHECK_FAIL(field_net_spec("mac=06:00:ac:10:00:02", &n, err, sizeof(err)), err,
		   "no tap=NAME");
	CHECK_FAIL(field_net_spec("tap=a,tap=b", &n, err, sizeof(err)), err, "tap= given twice");
	CHECK_FAIL(field_net_spec("tap=a,mac=06:00:ac:10:00:02,mac=06:00:ac:10:00:03", &n, err,
				  sizeof(err)), err, "mac= given twice");
	CHECK_FAIL(field_net_spec("tap=a,mtu=9000", &n, err, sizeof(err)), err,
		   "unknown key 'mtu'");
	CHECK_FAIL(field_net_spec("tap=tap%d", &n, err, sizeof(err)), err,
		   "has an invalid character");
	CHECK_FAIL(field_net_spec("tap=a,mac=01:00:5e:00:00:01", &n, err, sizeof(err)), err,
		   "is a multicast address");
	CHECK_FAIL(field_net_spec("tap=,mac=06:00:ac:10:00:02", &n, err, sizeof(err)), err,
		   "the TAP name cannot be empty");
}

/* ---- --drive ---- */

static void test_field_drive_spec(void)
{
	struct drive_spec s;
	char longarg[5000], id65[80];

	CHECK_OK(field_drive_spec("path=/x/y.img", 0, &s, err, sizeof(err)), err);
	CHECK_STREQ(s.path, "/x/y.img");
	CHECK_STREQ(s.id, "drive0");
	CHECK(!s.read_only && !s.root);
	CHECK_OK(field_drive_spec("path=/a,id=root_fs_1,ro,root", 3, &s, err, sizeof(err)), err);
	CHECK_STREQ(s.path, "/a");
	CHECK_STREQ(s.id, "root_fs_1");
	CHECK(s.read_only && s.root);
	CHECK_OK(field_drive_spec("root,ro,path=rel/img", 12, &s, err, sizeof(err)), err);
	CHECK_STREQ(s.path, "rel/img");
	CHECK_STREQ(s.id, "drive12");
	CHECK(s.read_only && s.root);
	CHECK_OK(field_drive_spec("path=a=b", 1, &s, err, sizeof(err)), err);
	CHECK_STREQ(s.path, "a=b");
	CHECK_OK(field_drive_spec(",path=/a,,ro,", 1, &s, err, sizeof(err)), err);
	CHECK_STREQ(s.path, "/a");
	CHECK(s.read_only);
	memset(id65, 'Z', 65);
	memcpy(id65, "id=", 3);
	memset(id65 + 3, 'Z', 64);
	id65[67] = '\0';
	snprintf(longarg, sizeof(longarg), "path=/p,%s", id65);
	CHECK_OK(field_drive_spec(longarg, 1, &s, err, sizeof(err)), err);
	CHECK_EQ(strlen(s.id), 64);
	/* the longest path */
	memcpy(longarg, "path=", 5);
	memset(longarg + 5, 'p', 4095);
	longarg[5 + 4095] = '\0';
	CHECK_OK(field_drive_spec(longarg, 1, &s, err, sizeof(err)), err);
	CHECK_EQ(strlen(s.path), 4095);

	/* bad ones; s must not matter afterwards but err must say why */
	CHECK_FAIL(field_drive_spec("", 0, &s, err, sizeof(err)), err, "path=FILE is required");
	CHECK_FAIL(field_drive_spec(",,,", 0, &s, err, sizeof(err)), err, "path=FILE is required");
	CHECK_FAIL(field_drive_spec("ro", 0, &s, err, sizeof(err)), err, "path=FILE is required");
	CHECK_FAIL(field_drive_spec("id=abc,root", 0, &s, err, sizeof(err)), err,
		   "path=FILE is required");
	CHECK_FAIL(field_drive_spec("path=", 0, &s, err, sizeof(err)), err, "bad item 'path='");
	CHECK_FAIL(field_drive_spec("path=/a,id=a-b", 0, &s, err, sizeof(err)), err,
		   "invalid drive id \"a-b\": 1 to 64 letters, digits and underscores");
	CHECK_FAIL(field_drive_spec("path", 0, &s, err, sizeof(err)), err, "bad item 'path'");
	CHECK_FAIL(field_drive_spec("/disk.img", 0, &s, err, sizeof(err)), err, "bad item '/disk.img'");
	CHECK_FAIL(field_drive_spec("path=/a,foo=1", 0, &s, err, sizeof(err)), err, "bad item 'foo=1'");
	CHECK_FAIL(field_drive_spec("path=/a,size", 0, &s, err, sizeof(err)), err, "bad item 'size'");
	CHECK_FAIL(field_drive_spec("path=/a,ro=1", 0, &s, err, sizeof(err)), err, "bad item 'ro=1'");
	CHECK_FAIL(field_drive_spec("path=/a,ro=", 0, &s, err, sizeof(err)), err, "bad item 'ro='");
	CHECK_FAIL(field_drive_spec("path=/a,root=yes", 0, &s, err, sizeof(err)), err, "'root=yes'");
	CHECK_FAIL(field_drive_spec("path=/a,RO", 0, &s, err, sizeof(err)), err, "bad item 'RO'");
	CHECK_FAIL(field_drive_spec("PATH=/a", 0, &s, err, sizeof(err)), err, "bad item");
	CHECK_FAIL(field_drive_spec("path=/a,id", 0, &s, err, sizeof(err)), err, "bad item 'id'");
	CHECK_FAIL(field_drive_spec("path=/a,id=", 0, &s, err, sizeof(err)), err, "the drive id cannot be empty");
	CHECK_FAIL(field_drive_spec("path=/a,id=a b", 0, &s, err, sizeof(err)), err, "invalid drive id");
	CHECK_FAIL(field_drive_spec("path=/a,id=a.b", 0, &s, err, sizeof(err)), err, "invalid drive id");
	CHECK_FAIL(field_drive_spec("path=/a,id=a/b", 0, &s, err, sizeof(err)), err, "invalid drive id");
	CHECK_FAIL(field_drive_spec("path=/a,id=a=b", 0, &s, err, sizeof(err)), err, "invalid drive id");
	CHECK_FAIL(field_drive_spec("path=/a,id=\xc3\xa9t\xc3\xa9", 0, &s, err, sizeof(err)), err,
		   "invalid drive id");
	CHECK_FAIL(field_drive_spec("path=/a,id=x\ty", 0, &s, err, sizeof(err)), err,
		   "control character");
	CHECK_FAIL(field_drive_spec("path=/a\n,ro", 0, &s, err, sizeof(err)), err, "control character");
	snprintf(longarg, sizeof(longarg), "path=/p,%sZ", id65);  /* 65 characters */
	CHECK_FAIL(field_drive_spec(longarg, 0, &s, err, sizeof(err)), err, "longer than 64 characters");
	/* a path of 4096 characters does not fit */
	memcpy(longarg, "path=", 5);
	memset(longarg + 5, 'p', 4096);
	longarg[5 + 4096] = '\0';
	CHECK_FAIL(field_drive_spec(longarg, 0, &s, err, sizeof(err)), err,
		   "path= is longer than 4095 bytes");
	/* far too long */
	memset(longarg, 'q', sizeof(longarg) - 1);
	memcpy(longarg, "path=", 5);
	longarg[sizeof(longarg) - 1] = '\0';
	CHECK_FAIL(field_drive_spec(longarg, 0, &s, err, sizeof(err)), err, "path= is longer than 4095 bytes");
	/* a small err buffer: truncated, still terminated */
	{
		char small[8];

		CHECK_EQ(field_drive_spec("path=/a,bogus", 0, &s, small, sizeof(small)), -1);
		CHECK_EQ(strlen(small), sizeof(small) - 1);
	}
}

UNIT_MAIN(TEST(test_field_id), TEST(test_field_tap_name), TEST(test_field_mac),
	  TEST(test_field_net_spec), TEST(test_field_drive_spec))
