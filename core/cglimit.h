/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The memory limit of this process's cgroup: ember refuses to boot a guest
 * that does not fit it (else the kernel's OOM killer ends ember, without a
 * word, once the guest has touched enough of its memory), and ember-jailer
 * passes it to the jailed ember, which has no /proc or /sys to read it.
 * cgroup v1 (memory.limit_in_bytes of the memory hierarchy) when the memory
 * controller is mounted there, else v2 (memory.max); the limit in force is
 * the smallest of the cgroup's and its ancestors' (those the mount shows).
 * Plain libc: ember and ember-jailer both link it.
 */
#ifndef EMBER_CGLIMIT_H
#define EMBER_CGLIMIT_H

#include <stddef.h>
#include <stdint.h>

#define CG_NO_LIMIT UINT64_MAX

/*
 * One line of /proc/self/mountinfo (changed in place). If it is a cgroup
 * mount, a cgroup2 one when controller is NULL, else a v1 one whose super
 * options name controller, copies its mount point and its root within the
 * hierarchy (both unescaped) and returns 0; else -1.
 */
int cg_mountinfo_match(char *line, const char *controller, char *mnt, size_t mnt_len,
		       char *root, size_t root_len);

/* The first such mount in /proc/self/mountinfo: 0, or -1 (none, unreadable). */
int cg_find_mount(const char *controller, char *mnt, size_t mnt_len, char *root,
		  size_t root_len);

/*
 * One line of /proc/PID/cgroup: "0::PATH" when controller is NULL, else
 * "N:LIST:PATH" with controller in the comma-separated LIST. Copies PATH
 * (without the newline) and returns 0; else -1.
 */
int cg_proc_match(const char *line, const char *controller, char *path, size_t len);

/*
 * PATH (from /proc/PID/cgroup) relative to ROOT, the mount's root in the
 * hierarchy: "" for the mount's root itself, NULL when outside the mount.
 */
const char *cg_rel_path(const char *path, const char *root);

/*
 * A limit file's content: "max" or v1's "unlimited" (2^62 and more) give
 * CG_NO_LIMIT, a number of bytes itself; 0, or -1 if it is neither.
 */
int cg_parse_limit(const char *text, uint64_t *bytes);

/*
 * This process's memory limit in bytes, or CG_NO_LIMIT when there is none or
 * /proc or the cgroup file system cannot be read; *file gets the name of
 * the limit file (memory.max or memory.limit_in_bytes).
 */
uint64_t cg_memory_limit(const char **file);

#endif
