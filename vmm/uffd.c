/* SPDX-License-Identifier: Apache-2.0 */
#include "vmm/uffd.h"
#include "core/ember.h"
#include "vmm/term.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

/* The one backend of this process (a VM is loaded once). */
static struct {
	int uffd;
	int sock;
	char gone_msg[400];
	size_t gone_len;
} be = { .uffd = -1, .sock = -1 };

/* A new userfaultfd: /dev/userfaultfd (Linux 6.1+, the jail's), else the system call. */
static int uffd_new(char *err, size_t errlen)
{
	int dev = open("/dev/userfaultfd", O_RDWR | O_NONBLOCK | O_CLOEXEC), fd, e1, e2;

	if (dev >= 0) {
		fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
		e1 = errno;
		close(dev);
		if (fd >= 0)
			return fd;
	} else {
		e1 = errno;
	}
	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0)
		return fd;
	e2 = errno;
	return errorf(err, errlen, "cannot create a userfaultfd: /dev/userfaultfd: %s; "
		      "userfaultfd(): %s", strerror(e1), strerror(e2));
}

/*
 * SIGIO on the handler's socket: if it closed, the handler is gone and a
 * page it has not served yet would be waited for forever. Async-signal-safe.
 */
static void on_sigio(int sig)
{
	struct pollfd p = { .fd = be.sock, .events = POLLRDHUP };
	int e = errno;

	(void)sig;
	if (poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
		term_restore();
		if (write(STDERR_FILENO, be.gone_msg, be.gone_len) < 0) {
			/* nothing more to tell */
		}
		_exit(EMBER_EXIT_HOST_ERROR);
	}
	errno = e;
}

static int connect_handler(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s;

	if (strlen(path) >= sizeof(a.sun_path))
		return errorf(err, errlen, "backend_path %.100s...: longer than a Unix socket "
			      "path can be (%zu bytes)", path, sizeof(a.sun_path) - 1);
	memcpy(a.sun_path, path, strlen(path) + 1);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return errorf(err, errlen, "socket: %s", strerror(errno));
	/* Non-blocking: a handler whose backlog is full does not stall the VMM. */
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;

		close(s);
		return errorf(err, errlen, "cannot connect to the page fault handler at %.200s: "
			      "%s", path, e == EAGAIN ? "it accepts no connection" : strerror(e));
	}
	return s;
}

/* The region table, as Firecracker sends it. Its length, or -1 if it does not fit. */
static int region_table(const struct guest_mem *gm, uint64_t page_size, char *buf, size_t len)
{
	size_t n = 0;

	n += (size_t)snprintf(buf, len, "[");
	for (int i = 0; i < gm->nregions && n < len; i++) {
		const struct guest_region *r = &gm->region[i];

		n += (size_t)snprintf(buf + n, len - n,
				      "%s{\"base_host_virt_addr\":%llu,\"size\":%llu,"
				      "\"offset\":%llu,\"page_size\":%llu,\"page_size_kib\":%llu}",
				      i ? "," : "", (unsigned long long)(uintptr_t)r->host,
				      (unsigned long long)r->size,
				      (unsigned long long)(r->host - gm->host),
				      (unsigned long long)page_size,
				      (unsigned long long)(page_size >> 10));
	}
	if (n < len)
		n += (size_t)snprintf(buf + n, len - n, "]");
	return n < len ? (int)n : -1;
}

static int send_fd(int s, const char *msg, size_t len, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} c;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
			    .msg_controllen = sizeof(c.buf) };
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	ssize_t n;

	memset(&c, 0, sizeof(c));
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(h), &fd, sizeof(int));
	n = sendmsg(s, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0)
		return -1;
	if ((size_t)n != len) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

int uffd_backend_start(const struct guest_mem *gm, uint64_t page_size, const char *sock_path,
		       char *err, size_t errlen)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)gm->host, .len = gm->size },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	struct f_owner_ex owner = { .type = F_OWNER_TID, .pid = (pid_t)syscall(SYS_gettid) };
	struct sigaction sa = { .sa_handler = on_sigio };
	struct pollfd p;
	char table[1024];
	int uffd, s, len;

	if (be.uffd >= 0)
		return errorf(err, errlen, "a Uffd backend is already in use");
	uffd = uffd_new(err, errlen);
	if (uffd < 0)
		return -1;
	if (ioctl(uffd, UFFDIO_API, &api) < 0) {
		errorf(err, errlen, "userfaultfd: UFFDIO_API: %s", strerror(errno));
		goto fail_uffd;
	}
	if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) {
		errorf(err, errlen, "userfaultfd: registering guest memory: %s", strerror(errno));
		goto fail_uffd;
	}
	if (!(reg.ioctls & (1ULL << _UFFDIO_COPY))) {
		errorf(err, errlen, "userfaultfd: this kernel cannot fill guest memory's pages "
		       "(no UFFDIO_COPY)");
		goto fail_uffd;
	}
	len = region_table(gm, page_size, table, sizeof(table));
	s = connect_handler(sock_path, err, errlen);
	if (s < 0)
		goto fail_uffd;
	if (len < 0 || send_fd(s, table, (size_t)len, uffd) < 0) {
		errorf(err, errlen, "cannot send the userfaultfd to the page fault handler at "
		       "%.200s: %s", sock_path, strerror(len < 0 ? EMSGSIZE : errno));
		goto fail_sock;
	}
	be.uffd = uffd;
	be.sock = s;
	be.gone_len = (size_t)snprintf(be.gone_msg, sizeof(be.gone_msg),
				       "ember: the page fault handler at %.200s closed its "
				       "connection: guest memory cannot be served any more\n",
				       sock_path);
	if (be.gone_len >= sizeof(be.gone_msg))
		be.gone_len = sizeof(be.gone_msg) - 1;
	/* Its close raises SIGIO on this (the VMM) thread, also while a fault waits. */
	if (sigaction(SIGIO, &sa, NULL) < 0 || fcntl(s, F_SETOWN_EX, &owner) < 0 ||
	    fcntl(s, F_SETFL, O_NONBLOCK | O_ASYNC) < 0) {
		errorf(err, errlen, "cannot watch the page fault handler's socket: %s",
		       strerror(errno));
		goto fail_watch;
	}
	/* Gone already (before O_ASYNC): no signal would say so. */
	p = (struct pollfd){ .fd = s, .events = POLLRDHUP };
	if (poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
		errorf(err, errlen, "the page fault handler at %.200s closed its connection",
		       sock_path);
		goto fail_watch;
	}
	return 0;

fail_watch:
	fcntl(s, F_SETFL, O_NONBLOCK);
	be.uffd = be.sock = -1;
fail_sock:
	close(s);
fail_uffd:
	close(uffd);
	return -1;
}
