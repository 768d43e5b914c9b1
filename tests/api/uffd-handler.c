/* SPDX-License-Identifier: Apache-2.0 */
/*
 * uffd-handler: an example page fault handler for the Uffd memory backend
 * of PUT /snapshot/load (and ember --restore-uffd), in Firecracker's
 * protocol, used by the tests and the benchmarks.
 *
 *   uffd-handler SOCKET MEMFILE [--die-after N]
 *
 * Listens on SOCKET (a Unix socket path; a stale socket there is replaced)
 * for one VMM, within 60 s. The VMM sends one message: the region table, a
 * JSON array of {base_host_virt_addr, size, offset, page_size} (or
 * page_size_kib), with its userfaultfd (SCM_RIGHTS). From then on every
 * fault on a missing page is served with that page of MEMFILE (a snapshot's
 * memory file, mapped read-only), one page a fault: the guest gets the pages
 * it touches, no more. When the VMM closes the connection (it exited), the
 * handler prints "uffd-handler: served N pages of M" and exits 0.
 * --die-after N: exit with status 3 right after serving N pages (a handler
 * that dies, for the tests).
 *
 * Every value from the VMM is checked: regions inside MEMFILE, aligned to
 * their page size, faults inside a region. Errors: one line, exit 2.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_REGIONS 8

struct region {
	uint64_t base, size, offset;
};

static struct region reg[MAX_REGIONS];
static int nreg;
static uint64_t page_size;

static void __attribute__((noreturn, format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "uffd-handler: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(2);
}

static int listen_on(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct pollfd p;
	int s, c;

	if (strlen(path) >= sizeof(a.sun_path))
		fail("%s: socket path too long", path);
	strcpy(a.sun_path, path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		fail("socket: %s", strerror(errno));
	unlink(path);
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 1) < 0)
		fail("%s: %s", path, strerror(errno));
	p = (struct pollfd){ .fd = s, .events = POLLIN };
	if (poll(&p, 1, 60000) != 1)
		fail("%s: no VMM connected within 60 s", path);
	c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		fail("accept: %s", strerror(errno));
	close(s);
	unlink(path);
	return c;
}

/* The VMM's one message: the region table and the uffd. */
static int receive(int c, char *buf, size_t len)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = len - 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
			    .msg_controllen = sizeof(ctl.b) };
	struct cmsghdr *h;
	struct pollfd p = { .fd = c, .events = POLLIN };
	ssize_t n;
	int fd;

	if (poll(&p, 1, 60000) != 1)
		fail("the VMM sent nothing within 60 s");
	n = recvmsg(c, &m, MSG_CMSG_CLOEXEC);
	if (n <= 0)
		fail("no region table from the VMM: %s", n ? strerror(errno) : "connection closed");
	buf[n] = 0;
	h = CMSG_FIRSTHDR(&m);
	if (!h || h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS ||
	    h->cmsg_len != CMSG_LEN(sizeof(int)) || (m.msg_flags & (MSG_CTRUNC | MSG_TRUNC)))
		fail("the VMM's message carries no userfaultfd");
	memcpy(&fd, CMSG_DATA(h), sizeof(int));
	return fd;
}

static uint64_t num(const cJSON *o, const char *name, bool *have)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	*have = v != NULL;
	if (!v)
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 18446744073709549568.0 ||
	    v->valuedouble != (double)(uint64_t)v->valuedouble)
		fail("region table: %s is not a whole number", name);
	return (uint64_t)v->valuedouble;
}

/* The table, checked against the file (user-space addresses fit a double exactly). */
static void parse_table(const char *text, uint64_t file_size)
{
	cJSON *j = cJSON_Parse(text), *o;
	uint64_t total = 0;

	if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) < 1 || cJSON_GetArraySize(j) > MAX_REGIONS)
		fail("the region table is not an array of 1 to %d regions: %.200s", MAX_REGIONS,
		     text);
	cJSON_ArrayForEach(o, j) {
		struct region *r = &reg[nreg++];
		uint64_t ps, kib;
		bool have_ps, have_kib, have;

		r->base = num(o, "base_host_virt_addr", &have);
		if (!have)
			fail("region table: no base_host_virt_addr");
		r->size = num(o, "size", &have);
		if (!have)
			fail("region table: no size");
		r->offset = num(o, "offset", &have);
		if (!have)
			fail("region table: no offset");
		ps = num(o, "page_size", &have_ps);
		kib = num(o, "page_size_kib", &have_kib);
		if (!have_ps)
			ps = kib << 10;
		if (ps != 4096 && ps != 2u << 20)
			fail("region table: page size %" PRIu64 " (4096 or 2 MiB)", ps);
		if (page_size && ps != page_size)
			fail("region table: regions of different page sizes");
		page_size = ps;
		if (!r->size || r->base % ps || r->size % ps || r->offset % ps ||
		    r->base + r->size < r->base || r->offset > file_size ||
		    r->size > file_size - r->offset)
			fail("region table: a region not aligned or not inside the memory file");
		total += r->size;
	}
	if (total != file_size)
		fail("the regions hold %" PRIu64 " bytes, the memory file %" PRIu64, total, file_size);
	cJSON_Delete(j);
}

static const struct region *find(uint64_t addr)
{
	for (int i = 0; i < nreg; i++)
		if (addr >= reg[i].base && addr - reg[i].base < reg[i].size)
			return &reg[i];
	return NULL;
}

int main(int argc, char **argv)
{
	uint64_t served = 0, die_after = 0, total_pages;
	const uint8_t *file;
	struct stat st;
	char table[4096];
	int c, uffd, mfd;

	if (argc == 5 && !strcmp(argv[3], "--die-after"))
		die_after = strtoull(argv[4], NULL, 10);
	else if (argc != 3)
		fail("usage: uffd-handler SOCKET MEMFILE [--die-after N]");
	mfd = open(argv[2], O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (mfd < 0 || fstat(mfd, &st) < 0 || !S_ISREG(st.st_mode) || !st.st_size)
		fail("%s: %s", argv[2], mfd < 0 ? strerror(errno) : "not a memory file");
	file = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, mfd, 0);
	if (file == MAP_FAILED)
		fail("mmap %s: %s", argv[2], strerror(errno));
	c = listen_on(argv[1]);
	uffd = receive(c, table, sizeof(table));
	parse_table(table, (uint64_t)st.st_size);
	total_pages = (uint64_t)st.st_size / page_size;
	fcntl(uffd, F_SETFL, O_NONBLOCK);

	for (;;) {
		struct pollfd p[2] = { { .fd = uffd, .events = POLLIN },
				       { .fd = c, .events = POLLIN | POLLRDHUP } };
		struct uffd_msg msg;
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			fail("poll: %s", strerror(errno));
		}
		if (p[1].revents & (POLLRDHUP | POLLHUP | POLLERR))
			break; /* the VMM is gone */
		if (!(p[0].revents & POLLIN))
			continue;
		while ((n = read(uffd, &msg, sizeof(msg))) == (ssize_t)sizeof(msg)) {
			uint64_t addr;
			const struct region *r;
			struct uffdio_copy cp;

			if (msg.event != UFFD_EVENT_PAGEFAULT)
				continue; /* no balloon: no REMOVE to zero */
			addr = msg.arg.pagefault.address & ~(page_size - 1);
			r = find(addr);
			if (!r)
				fail("a fault at 0x%" PRIx64 ", outside guest memory", addr);
			cp = (struct uffdio_copy){
				.dst = addr,
				.src = (uintptr_t)(file + r->offset + (addr - r->base)),
				.len = page_size,
			};
			while (ioctl(uffd, UFFDIO_COPY, &cp) < 0) {
				if (errno == EEXIST)
					break; /* filled meanwhile (two faults on one page) */
				if (errno != EAGAIN)
					fail("UFFDIO_COPY at 0x%" PRIx64 ": %s", addr, strerror(errno));
				cp.copy = 0;
			}
			if (cp.copy == (int64_t)page_size && ++served == die_after) {
				fprintf(stderr, "uffd-handler: dying after %" PRIu64 " pages, as told\n",
					served);
				_exit(3);
			}
		}
		if (n < 0 && errno != EAGAIN)
			fail("reading the userfaultfd: %s", strerror(errno));
	}
	printf("uffd-handler: served %" PRIu64 " pages of %" PRIu64 "\n", served, total_pages);
	return 0;
}
