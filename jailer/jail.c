// SPDX-License-Identifier: Apache-2.0
/*
 * The jail's file system: <base>/<exec-name>/<id>/root holding a copy of the
 * exec file and dev/{kvm,net/tun,urandom} (dev/userfaultfd too where the host
 * has it), then a private mount namespace whose root is <id> (a bind mount of
 * it, pivot_root, the host's root detached), and a chroot into <id>/root.
 * Being chrooted below the mount namespace's root is what makes the kernel
 * refuse the jailed process a new user namespace (create_user_ns: EPERM when
 * current_chrooted()), so it cannot get capabilities back in one.
 *
 * Creation is idempotent, so a retry with the same id works whatever an
 * earlier failed run left: existing directories are reused, the exec file is
 * replaced atomically (rename), device nodes are made anew. A failed start
 * removes <id>/ if it made it. Paths below <base> are walked with *at() and
 * O_NOFOLLOW, never through a symlink.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "jailer/jailer.h"

#define STEP_DIR	"jail directory"
#define STEP_COPY	"copy exec file"
#define STEP_DEV	"device nodes"

/* mkdir NAME under DIRFD (an existing directory is fine), open it. */
static int mkdir_open(int dirfd, const char *name, mode_t mode, int oflags, bool *created,
		      const char *where)
{
	int fd;

	if (mkdirat(dirfd, name, mode) == 0) {
		if (created)
			*created = true;
	} else if (errno != EEXIST) {
		jail_die_errno(JX_JAIL_DIR, STEP_DIR, "mkdir %s/%s", where, name);
	}
	fd = openat(dirfd, name, oflags | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		jail_die_errno(JX_JAIL_DIR, STEP_DIR, "%s/%s (not a directory?)", where, name);
	return fd;
}

void jail_make_dirs(const struct jail_cfg *cfg, struct jail_fs *fs)
{
	char where[8192];
	int base_fd;

	base_fd = open(cfg->base_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (base_fd < 0)
		jail_die_errno(JX_JAIL_DIR, STEP_DIR, "%s", cfg->base_dir);
	fs->exec_dir_fd = mkdir_open(base_fd, cfg->exec_name, 0755, O_PATH, NULL, cfg->base_dir);
	close(base_fd);

	snprintf(where, sizeof(where), "%s/%s", cfg->base_dir, cfg->exec_name);
	fs->id_fd = mkdir_open(fs->exec_dir_fd, cfg->id, 0755, O_PATH, &fs->created_id_dir, where);

	snprintf(fs->id_path, sizeof(fs->id_path), "%s/%s/%s", cfg->base_dir, cfg->exec_name,
		 cfg->id);
	fs->root_fd = mkdir_open(fs->id_fd, "root", 0700, O_RDONLY, NULL, fs->id_path);
	if (snprintf(fs->root_path, sizeof(fs->root_path), "%s/root", fs->id_path) >=
	    (int)sizeof(fs->root_path))
		jail_die(JX_JAIL_DIR, STEP_DIR, "%s: path too long", fs->id_path);

	/* The jailed process owns its root (as Firecracker's does). */
	if (fchown(fs->root_fd, cfg->uid, cfg->gid) < 0 || fchmod(fs->root_fd, 0700) < 0)
		jail_die_errno(JX_JAIL_DIR, STEP_DIR, "chown/chmod %s", fs->root_path);
}

void jail_copy_exec(const struct jail_cfg *cfg, struct jail_fs *fs)
{
	char tmp[300];
	struct stat st;
	int in, out;

	snprintf(tmp, sizeof(tmp), ".%s.ember-jailer-tmp", cfg->exec_name);
	in = open(cfg->exec_path, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) < 0)
		jail_die_errno(JX_COPY, STEP_COPY, "%s", cfg->exec_path);
	if (!S_ISREG(st.st_mode))
		jail_die(JX_COPY, STEP_COPY, "%s is no longer a regular file", cfg->exec_path);
	if (unlinkat(fs->root_fd, tmp, 0) < 0 && errno != ENOENT)
		jail_die_errno(JX_COPY, STEP_COPY, "removing a stale %s/%s", fs->root_path, tmp);
	out = openat(fs->root_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0700);
	if (out < 0)
		jail_die_errno(JX_COPY, STEP_COPY, "creating %s/%s", fs->root_path, tmp);
	for (off_t done = 0; done < st.st_size;) {
		ssize_t n = sendfile(out, in, NULL, (size_t)(st.st_size - done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n < 0 ? errno : EIO;

			unlinkat(fs->root_fd, tmp, 0);
			errno = err;
			jail_die_errno(JX_COPY, STEP_COPY, "copying %s to %s", cfg->exec_path,
				       fs->root_path);
		}
		done += n;
	}
	close(in);
	if (fchmod(out, 0755) < 0 || close(out) < 0 ||
	    renameat(fs->root_fd, tmp, fs->root_fd, cfg->exec_name) < 0) {
		int err = errno;

		unlinkat(fs->root_fd, tmp, 0);
		errno = err;
		jail_die_errno(JX_COPY, STEP_COPY, "installing %s/%s", fs->root_path, cfg->exec_name);
	}
}

/*
 * A character device NAME under DIRFD with fixed numbers, as Firecracker's
 * jailer makes them: the host need not have the node (a host without
 * /dev/kvm still gets a jail, and ember in it says that KVM is missing).
 */
static void make_node(const struct jail_cfg *cfg, int dirfd, const char *name,
		      unsigned int maj, unsigned int min, const char *jail_path)
{
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		jail_die_errno(JX_DEVICES, STEP_DEV, "removing a stale %s", jail_path);
	if (mknodat(dirfd, name, S_IFCHR | 0600, makedev(maj, min)) < 0)
		jail_die_errno(JX_DEVICES, STEP_DEV, "mknod %s (%u:%u)", jail_path, maj, min);
	if (fchownat(dirfd, name, cfg->uid, cfg->gid, AT_SYMLINK_NOFOLLOW) < 0)
		jail_die_errno(JX_DEVICES, STEP_DEV, "chown %s", jail_path);
}

static int dev_dir(const struct jail_cfg *cfg, int dirfd, const char *name, const char *path)
{
	int fd;

	if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
		jail_die_errno(JX_DEVICES, STEP_DEV, "mkdir %s", path);
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		jail_die_errno(JX_DEVICES, STEP_DEV, "%s (not a directory?)", path);
	if (fchown(fd, cfg->uid, cfg->gid) < 0 || fchmod(fd, 0700) < 0)
		jail_die_errno(JX_DEVICES, STEP_DEV, "chown/chmod %s", path);
	return fd;
}

void jail_make_devices(const struct jail_cfg *cfg, struct jail_fs *fs)
{
	char p[8300];
	struct stat st;
	int dev, net, run;

	/* run/: for the default API socket, /run/firecracker.socket (as
	 * Firecracker's jailer makes it). */
	snprintf(p, sizeof(p), "%s/run", fs->root_path);
	run = dev_dir(cfg, fs->root_fd, "run", p);
	close(run);
	snprintf(p, sizeof(p), "%s/dev", fs->root_path);
	dev = dev_dir(cfg, fs->root_fd, "dev", p);
	snprintf(p, sizeof(p), "%s/dev/net", fs->root_path);
	net = dev_dir(cfg, dev, "net", p);
	snprintf(p, sizeof(p), "%s/dev/kvm", fs->root_path);
	make_node(cfg, dev, "kvm", 10, 232, p);
	snprintf(p, sizeof(p), "%s/dev/net/tun", fs->root_path);
	make_node(cfg, net, "tun", 10, 200, p);
	snprintf(p, sizeof(p), "%s/dev/urandom", fs->root_path);
	make_node(cfg, dev, "urandom", 1, 9, p);
	/*
	 * dev/userfaultfd (Linux 6.1+), for the Uffd snapshot backend, where the
	 * host has one: as Firecracker's jailer, with the host's numbers (its
	 * minor is dynamic).
	 */
	if (stat("/dev/userfaultfd", &st) == 0 && S_ISCHR(st.st_mode)) {
		snprintf(p, sizeof(p), "%s/dev/userfaultfd", fs->root_path);
		make_node(cfg, dev, "userfaultfd", major(st.st_rdev), minor(st.st_rdev), p);
	}
	close(net);
	close(dev);
}

static bool same_file(int fd, const char *path)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

void jail_pivot(const struct jail_cfg *cfg, struct jail_fs *fs)
{
	(void)cfg;
	/* Kept (close-on-exec, closed before exec) to clean up from outside. */
	fs->host_mnt_ns_fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (fs->host_mnt_ns_fd < 0)
		jail_die_errno(JX_MOUNT_NS, "mount namespace", "/proc/self/ns/mnt");
	if (unshare(CLONE_NEWNS) < 0)
		jail_die_errno(JX_MOUNT_NS, "mount namespace", "unshare(CLONE_NEWNS)");
	/* Nothing done below may propagate back to the host's mounts. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		jail_die_errno(JX_MOUNT_NS, "mount namespace", "making / private");

	/* pivot_root wants the new root to be a mount point. */
	if (mount(fs->id_path, fs->id_path, NULL, MS_BIND, NULL) < 0)
		jail_die_errno(JX_PIVOT, "pivot_root", "bind-mounting %s onto itself", fs->id_path);
	if (chdir(fs->id_path) < 0)
		jail_die_errno(JX_PIVOT, "pivot_root", "chdir %s", fs->id_path);
	/* The path must still name the directory we made and filled. */
	if (!same_file(fs->id_fd, "."))
		jail_die(JX_PIVOT, "pivot_root", "%s changed while the jail was being built",
			 fs->id_path);
	/* Old root stacked on the new one, then detached: nothing of it stays. */
	if (syscall(SYS_pivot_root, ".", ".") < 0) {
		/* The kernel's own rootfs (an initramfs never switched from) cannot move. */
		if (errno == EINVAL)
			jail_die(JX_PIVOT, "pivot_root", "pivot_root(%s): %s (is / the initramfs? run "
				 "from a real root file system, or chroot into a bind mount of /)",
				 fs->id_path, strerror(EINVAL));
		jail_die_errno(JX_PIVOT, "pivot_root", "pivot_root(%s)", fs->id_path);
	}
	if (umount2(".", MNT_DETACH) < 0)
		jail_die_errno(JX_PIVOT, "pivot_root", "detaching the old root");
	if (chroot("/root") < 0 || chdir("/") < 0)
		jail_die_errno(JX_PIVOT, "pivot_root", "chroot into %s", fs->root_path);
	if (!same_file(fs->root_fd, "/"))
		jail_die(JX_PIVOT, "pivot_root", "/ is not %s after chroot", fs->root_path);
	close(fs->root_fd);
	fs->root_fd = -1;
}

static int rm_tree(int dirfd, const char *name, int depth)
{
	struct stat st;
	struct dirent *de;
	DIR *d;
	int fd;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, name, 0);
	if (depth > 8)
		return -1;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rm_tree(fd, de->d_name, depth + 1);
	closedir(d);
	return unlinkat(dirfd, name, AT_REMOVEDIR);
}

int jail_rm_tree_at(int dirfd, const char *name)
{
	return rm_tree(dirfd, name, 0);
}

/*
 * Best effort: remove <id>/ if this run made it (else it is reused next
 * time). After pivot_root, <id> is our mount namespace's root, which cannot
 * be removed from inside it: go back to the host's namespace first.
 */
void jail_fs_cleanup(const struct jail_cfg *cfg, struct jail_fs *fs)
{
	if (fs->root_fd >= 0) {
		close(fs->root_fd);
		fs->root_fd = -1;
	}
	if (fs->id_fd >= 0) {
		close(fs->id_fd);
		fs->id_fd = -1;
	}
	if (fs->host_mnt_ns_fd >= 0) {
		if (setns(fs->host_mnt_ns_fd, CLONE_NEWNS) < 0)
			return;
		close(fs->host_mnt_ns_fd);
		fs->host_mnt_ns_fd = -1;
	}
	if (fs->created_id_dir && fs->exec_dir_fd >= 0 &&
	    jail_rm_tree_at(fs->exec_dir_fd, cfg->id) == 0)
		fs->created_id_dir = false;
}
