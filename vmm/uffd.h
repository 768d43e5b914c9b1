/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Uffd memory backend of a snapshot load, in Firecracker's protocol:
 * guest RAM is anonymous memory registered with a userfaultfd (missing
 * pages); the uffd and the region table, a JSON array of
 *   {"base_host_virt_addr", "size", "offset", "page_size", "page_size_kib"}
 * (offset: into the snapshot's memory file; page_size in bytes, and in KiB
 * for handlers written for Firecracker before 1.10), go to a page-fault
 * handler over its Unix socket in one message (SCM_RIGHTS). The handler
 * fills each page on its first touch (UFFDIO_COPY). tests/api/uffd-handler.c
 * is ours.
 *
 * ember keeps its own copy of the uffd: should the handler end, a page it
 * never served is waited for, never read as zeroes. The handler's end is its
 * socket closing: ember then exits at once with a one-line error (status 1),
 * so a handler must keep its connection open while it serves.
 */
#ifndef EMBER_UFFD_H
#define EMBER_UFFD_H

#include <stddef.h>
#include <stdint.h>

#include "core/guest_mem.h"

/*
 * Register gm's mapping (pages of page_size bytes: 4 KiB, or 2 MiB on
 * hugetlbfs) with a new userfaultfd, send it and the region table to the
 * handler listening on sock_path, and watch the connection (SIGIO to the
 * calling thread, the VMM's). 0, or -1 with a one-line reason in err
 * (nothing left open).
 */
int uffd_backend_start(const struct guest_mem *gm, uint64_t page_size, const char *sock_path,
		       char *err, size_t errlen);

#endif
