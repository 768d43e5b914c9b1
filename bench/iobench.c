/* SPDX-License-Identifier: Apache-2.0 */
/*
 * iobench: the I/O side of bench/run.sh, built static (musl) so that it runs
 * in the guest (busybox has no fio and no sub-second clock) and in the
 * nested test host. Every result is one line starting with "IOBENCH":
 *
 *   iobench seqwrite DEV MIB   O_DIRECT 1 MiB writes from offset 0, then
 *                              fdatasync:   IOBENCH seqwrite BYTES US
 *   iobench seqread DEV MIB    O_DIRECT 1 MiB reads: IOBENCH seqread BYTES US
 *   iobench randread DEV SECS  O_DIRECT 4 KiB reads at random 4 KiB-aligned
 *                              offsets, one at a time, for SECS seconds:
 *                              IOBENCH randread OPS US
 *   iobench tcpsend IP PORT MIB   connects (retrying for up to 30 s), sends
 *                              MIB MiB, shuts down its side and waits for
 *                              the peer to close: IOBENCH tcpsend BYTES US
 *   iobench tcprecv PORT SECS  accepts one connection (waiting at most SECS
 *                              seconds in all), reads to EOF, closes:
 *                              IOBENCH tcprecv BYTES US (accept to EOF)
 *
 * Exits 0, or 1 with "iobench: ..." on stderr.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TOOL_NAME "iobench"
#include "tool.h"

/* <linux/fs.h> is not on musl-gcc's include path. */
#ifndef BLKGETSIZE64
#define BLKGETSIZE64 _IOR(0x12, 114, size_t)
#endif

#define MIB (1024 * 1024)

static void die(const char *what)
{
	fprintf(stderr, "iobench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void fail(const char *msg)
{
	fprintf(stderr, "iobench: %s\n", msg);
	exit(1);
}

/* An aligned buffer (O_DIRECT), filled with a pattern. */
static uint8_t *buffer(size_t len)
{
	uint8_t *b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (b == MAP_FAILED)
		die("mmap");
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(i * 131 + 7);
	return b;
}

static void report(const char *what, long long count, int64_t us)
{
	printf("IOBENCH %s %lld %lld\n", what, count, (long long)us);
	fflush(stdout);
}

static int seq(const char *dev, long mib, int write_)
{
	int fd = open(dev, (write_ ? O_WRONLY : O_RDONLY) | O_DIRECT | O_CLOEXEC);
	uint8_t *b = buffer(MIB);
	int64_t t0;

	if (fd < 0)
		die(dev);
	t0 = now_us();
	for (long i = 0; i < mib; i++) {
		ssize_t n = write_ ? pwrite(fd, b, MIB, (off_t)i * MIB) : pread(fd, b, MIB, (off_t)i * MIB);

		if (n != MIB) {
			if (n < 0)
				die(write_ ? "pwrite" : "pread");
			fail("short transfer (is the device smaller than MIB MiB?)");
		}
	}
	if (write_ && fdatasync(fd) < 0)
		die("fdatasync");
	report(write_ ? "seqwrite" : "seqread", (long long)mib * MIB, now_us() - t0);
	close(fd);
	return 0;
}

static int randread(const char *dev, long secs)
{
	int fd = open(dev, O_RDONLY | O_DIRECT | O_CLOEXEC);
	uint8_t *b = buffer(4096);
	uint64_t size = 0, blocks, x = 0x9e3779b97f4a7c15ULL;
	long long ops = 0;
	int64_t t0, end, t;

	if (fd < 0)
		die(dev);
	if (ioctl(fd, BLKGETSIZE64, &size) < 0) {
		struct stat st;

		if (fstat(fd, &st) < 0)
			die("fstat");
		size = (uint64_t)st.st_size;
	}
	blocks = size / 4096;
	if (blocks == 0)
		fail("the device is smaller than 4 KiB");
	t0 = now_us();
	end = t0 + (int64_t)secs * 1000000;
	do {
		/* xorshift64: a fixed, repeatable sequence */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (pread(fd, b, 4096, (off_t)((x % blocks) * 4096)) != 4096)
			die("pread");
		ops++;
		t = (ops & 15) ? 0 : now_us();
	} while (!t || t < end);
	report("randread", ops, t - t0);
	close(fd);
	return 0;
}

static int tcpsend(const char *ip, long port, long mib)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	size_t chunk = 64 * 1024;
	uint8_t *b = buffer(chunk);
	long long left = (long long)mib * MIB;
	int64_t t0, deadline = now_us() + 30 * 1000000LL;
	int fd;
	char c;

	if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
		fail("bad IPv4 address");
	for (;;) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			die("socket");
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		if (now_us() > deadline)
			die("connect");
		close(fd);
		usleep(50 * 1000);
	}
	t0 = now_us();
	while (left > 0) {
		ssize_t n = write(fd, b, left < (long long)chunk ? (size_t)left : chunk);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			die("write");
		}
		left -= n;
	}
	if (shutdown(fd, SHUT_WR) < 0)
		die("shutdown");
	while (read(fd, &c, 1) > 0)
		;
	report("tcpsend", (long long)mib * MIB, now_us() - t0);
	close(fd);
	return 0;
}

static int tcprecv(long port, long secs)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_ANY) };
	size_t chunk = 256 * 1024;
	uint8_t *b = buffer(chunk);
	long long total = 0;
	int one = 1, lfd, fd;
	int64_t t0;

	alarm((unsigned)secs); /* the whole receive is bounded: SIGALRM ends it */
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind");
	if (listen(lfd, 1) < 0)
		die("listen");
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		die("accept");
	t0 = now_us();
	for (;;) {
		ssize_t n = read(fd, b, chunk);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read");
		if (n == 0)
			break;
		total += n;
	}
	report("tcprecv", total, now_us() - t0);
	close(fd);
	close(lfd);
	return 0;
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";

	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(m, "seqwrite") && argc == 4)
		return seq(argv[2], num(argv[3], 1, 1 << 20, "MIB"), 1);
	if (!strcmp(m, "seqread") && argc == 4)
		return seq(argv[2], num(argv[3], 1, 1 << 20, "MIB"), 0);
	if (!strcmp(m, "randread") && argc == 4)
		return randread(argv[2], num(argv[3], 1, 3600, "SECS"));
	if (!strcmp(m, "tcpsend") && argc == 5)
		return tcpsend(argv[2], num(argv[3], 1, 65535, "PORT"), num(argv[4], 1, 1 << 20, "MIB"));
	if (!strcmp(m, "tcprecv") && argc == 4)
		return tcprecv(num(argv[2], 1, 65535, "PORT"), num(argv[3], 1, 3600, "SECS"));
	fail("usage: iobench seqwrite|seqread DEV MIB | randread DEV SECS | "
	     "tcpsend IP PORT MIB | tcprecv PORT SECS");
	return 1;
}
