// SPDX-License-Identifier: Apache-2.0
/*
 * Command-line parsing and validation. Everything here only reads: a bad
 * argument is refused before any directory, cgroup or namespace is made.
 */
#include <ctype.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cglimit.h"
#include "jailer/jailer.h"

void jail_usage(FILE *f);
void jail_version(void);

static void usage_die(const char *fmt, const char *arg)
{
	fprintf(stderr, JAILER_NAME ": arguments: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see --help)\n");
	exit(JX_USAGE);
}

/* A decimal number with no sign, no spaces, no suffix; false on overflow. */
static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

static void check_id(const char *id)
{
	size_t n = strlen(id);

	if (n == 0)
		jail_die(JX_ID, "--id", "empty id");
	if (n > JAIL_ID_MAX)
		jail_die(JX_ID, "--id", "id is %zu characters long, at most %d allowed",
			 n, JAIL_ID_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)id[i];

		if (!(isascii(c) && isalnum(c)) && c != '-')
			jail_die(JX_ID, "--id",
				 "invalid character 0x%02x at offset %zu: only letters, digits and '-'",
				 c, i);
	}
}

/* Refuses what cannot run in an empty jail: non-ELF files, dynamic ELFs. */
static void check_static_elf(const char *path)
{
	Elf64_Ehdr eh;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		jail_die_errno(JX_EXEC_FILE, "--exec-file", "cannot open %s", path);
	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr))
		jail_die(JX_EXEC_FILE, "--exec-file",
			 "%s is not a 64-bit ELF executable (the jail has no interpreter)", path);
	if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
		jail_die(JX_EXEC_FILE, "--exec-file", "%s is not an executable ELF", path);
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		off_t off = (off_t)eh.e_phoff + (off_t)i * (off_t)sizeof(ph);

		if (pread(fd, &ph, sizeof(ph), off) != (ssize_t)sizeof(ph))
			jail_die(JX_EXEC_FILE, "--exec-file", "%s: truncated program headers", path);
		if (ph.p_type == PT_INTERP)
			jail_die(JX_EXEC_FILE, "--exec-file",
				 "%s is dynamically linked; the jail has no libraries (link it statically)",
				 path);
	}
	close(fd);
}

static void check_exec_file(struct jail_cfg *cfg, const char *arg)
{
	struct stat st;
	char *slash;

	if (!realpath(arg, cfg->exec_path))
		jail_die_errno(JX_EXEC_FILE, "--exec-file", "%s", arg);
	if (stat(cfg->exec_path, &st) < 0)
		jail_die_errno(JX_EXEC_FILE, "--exec-file", "%s", cfg->exec_path);
	if (!S_ISREG(st.st_mode))
		jail_die(JX_EXEC_FILE, "--exec-file", "%s is not a regular file", cfg->exec_path);
	slash = strrchr(cfg->exec_path, '/');
	cfg->exec_name = slash + 1;
	if (!strcmp(cfg->exec_name, "dev"))
		jail_die(JX_EXEC_FILE, "--exec-file",
			 "the exec file may not be named \"dev\" (the jail's dev/ directory)");
	check_static_elf(cfg->exec_path);
}

static void check_base_dir(struct jail_cfg *cfg, const char *arg)
{
	struct stat st;

	if (!realpath(arg, cfg->base_dir))
		jail_die_errno(JX_BASE_DIR, "--chroot-base-dir", "%s", arg);
	if (stat(cfg->base_dir, &st) < 0)
		jail_die_errno(JX_BASE_DIR, "--chroot-base-dir", "%s", cfg->base_dir);
	if (!S_ISDIR(st.st_mode))
		jail_die(JX_BASE_DIR, "--chroot-base-dir", "%s is not a directory", cfg->base_dir);
	if (strlen(cfg->base_dir) + 1 + strlen(cfg->exec_name) + 1 + JAIL_ID_MAX + 6 >=
	    sizeof(((struct jail_fs *)0)->root_path))
		jail_die(JX_BASE_DIR, "--chroot-base-dir", "%s: path too long", cfg->base_dir);
}

static uint32_t parse_id_arg(const char *flag, const char *s)
{
	uint64_t v;

	/* (uid_t)-1 means "unchanged" to setresuid: never a valid target. */
	if (!parse_u64(s, UINT32_MAX - 1, &v))
		jail_die(JX_IDS, flag, "'%s' is not a number from 0 to %u", s, UINT32_MAX - 1);
	return (uint32_t)v;
}

/* A relative path of plain names: no "", ".", ".." component, no leading '/'. */
static void check_parent_cgroup(const char *p)
{
	const char *c = p;

	if (!*p || *p == '/')
		jail_die(JX_CGROUP_ARG, "--parent-cgroup",
			 "'%s' must be a non-empty relative path", p);
	if (strlen(p) > 1024)
		jail_die(JX_CGROUP_ARG, "--parent-cgroup", "path too long");
	while (*c) {
		size_t n = strcspn(c, "/");

		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			jail_die(JX_CGROUP_ARG, "--parent-cgroup",
				 "'%s' has an empty, '.' or '..' component", p);
		for (size_t i = 0; i < n; i++)
			if (!isascii((unsigned char)c[i]) || !isgraph((unsigned char)c[i]))
				jail_die(JX_CGROUP_ARG, "--parent-cgroup",
					 "'%s': a space or control character in a name", p);
		c += n;
		if (*c == '/')
			c++;
	}
}

/* Whether CONTROLLER is listed in the cgroup2 root's cgroup.controllers. */
static bool controller_available(const char *mnt, const char *controller, char *avail,
				 size_t avail_len)
{
	char path[4200], buf[1024];
	FILE *f;
	bool found = false;

	snprintf(path, sizeof(path), "%s/cgroup.controllers", mnt);
	f = fopen(path, "re");
	avail[0] = 0;
	if (!f)
		return false;
	if (fgets(buf, sizeof(buf), f)) {
		char *save = NULL;

		buf[strcspn(buf, "\n")] = 0;
		snprintf(avail, avail_len, "%s", buf[0] ? buf : "none");
		for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
			if (!strcmp(t, controller))
				found = true;
	}
	fclose(f);
	return found;
}

/* v1: the hierarchy of KV's controller, added to cfg->cg_hier if new. */
static void find_v1_hierarchy(struct jail_cfg *cfg, struct jail_cgroup_kv *kv)
{
	struct jail_cg_hier *h = &cfg->cg_hier[cfg->n_cg_hier];

	if (cfg->n_cg_hier == JAIL_MAX_HIER)
		jail_die(JX_CGROUP_ARG, "--cgroup", "keys of more than %d hierarchies", JAIL_MAX_HIER);
	if (cg_find_mount(kv->controller, h->mount, sizeof(h->mount), h->root,
			  sizeof(h->root)) < 0)
		jail_die(JX_CGROUP_ARG, "--cgroup",
			 "%s: controller '%s' has no cgroup v1 hierarchy mounted here (see "
			 "/proc/self/mountinfo)", kv->key, kv->controller);
	/* Co-mounted controllers (e.g. cpu,cpuacct) share one. */
	for (kv->hier = 0; kv->hier < cfg->n_cg_hier; kv->hier++)
		if (!strcmp(cfg->cg_hier[kv->hier].mount, h->mount))
			return;
	snprintf(h->controller, sizeof(h->controller), "%s", kv->controller);
	cfg->n_cg_hier++;
}

static void check_cgroups(struct jail_cfg *cfg)
{
	struct jail_cg_hier *h = &cfg->cg_hier[0];
	char avail[1024], v1mnt[4096], v1root[4096];
	const char *why;

	if (cfg->cgroup_version != 1 && cfg->cgroup_version != 2)
		jail_die(JX_CGROUP_ARG, "--cgroup-version", "%d is not 1 or 2",
			 cfg->cgroup_version);
	for (int i = 0; i < cfg->n_cgroups; i++) {
		struct jail_cgroup_kv *kv = &cfg->cgroups[i];

		if (jail_cgroup_key_check(kv->key, cfg->cgroup_version, kv->controller,
					  sizeof(kv->controller), &why) < 0)
			jail_die(JX_CGROUP_ARG, "--cgroup", "%s: %s", kv->key, why);
	}
	if (cfg->n_cgroups == 0)
		return;
	if (cfg->cgroup_version == 1) {
		for (int i = 0; i < cfg->n_cgroups; i++)
			find_v1_hierarchy(cfg, &cfg->cgroups[i]);
		return;
	}
	if (cg_find_mount(NULL, h->mount, sizeof(h->mount), h->root, sizeof(h->root)) < 0)
		jail_die(JX_CGROUP_ARG, "--cgroup",
			 "no cgroup2 hierarchy is mounted (see /proc/self/mountinfo)");
	cfg->n_cg_hier = 1;
	for (int i = 0; i < cfg->n_cgroups; i++) {
		struct jail_cgroup_kv *kv = &cfg->cgroups[i];
		bool v1;

		if (!strcmp(kv->controller, "cgroup") ||
		    controller_available(h->mount, kv->controller, avail, sizeof(avail)))
			continue;
		v1 = cg_find_mount(kv->controller, v1mnt, sizeof(v1mnt), v1root,
				   sizeof(v1root)) == 0;
		jail_die(JX_CGROUP_ARG, "--cgroup",
			 "%s: controller '%s' is not available in the cgroup v2 hierarchy at %s "
			 "(its cgroup.controllers: %s)%s", kv->key, kv->controller, h->mount,
			 avail[0] ? avail : "unreadable",
			 v1 ? "; it is cgroup v1's here (--cgroup-version 1)" : "");
	}
}

static void add_cgroup(struct jail_cfg *cfg, char *arg)
{
	struct jail_cgroup_kv *kv;
	char *eq = strchr(arg, '=');

	if (cfg->n_cgroups == JAIL_MAX_CGROUPS)
		jail_die(JX_CGROUP_ARG, "--cgroup", "at most %d --cgroup options", JAIL_MAX_CGROUPS);
	if (!eq || eq == arg || !eq[1])
		jail_die(JX_CGROUP_ARG, "--cgroup", "'%s' is not FILE=VALUE (e.g. memory.max=256M)",
			 arg);
	*eq = 0;
	kv = &cfg->cgroups[cfg->n_cgroups];
	kv->key = arg;
	kv->value = eq + 1;
	if (strlen(kv->value) > 256)
		jail_die(JX_CGROUP_ARG, "--cgroup", "%s: value longer than 256 bytes", arg);
	for (const char *v = kv->value; *v; v++)
		if (!isprint((unsigned char)*v))
			jail_die(JX_CGROUP_ARG, "--cgroup", "%s: value has a control character", arg);
	for (int i = 0; i < cfg->n_cgroups; i++)
		if (!strcmp(cfg->cgroups[i].key, arg))
			jail_die(JX_CGROUP_ARG, "--cgroup", "%s given twice", arg);
	cfg->n_cgroups++;
}

static void add_rlimit(struct jail_cfg *cfg, char *arg)
{
	char *eq = strchr(arg, '=');
	uint64_t v;

	if (!eq)
		jail_die(JX_RLIMIT_ARG, "--resource-limit", "'%s' is not RESOURCE=VALUE", arg);
	*eq = 0;
	if (!parse_u64(eq + 1, UINT64_MAX - 1, &v))
		jail_die(JX_RLIMIT_ARG, "--resource-limit", "%s: '%s' is not a number", arg, eq + 1);
	if (!strcmp(arg, "fsize")) {
		cfg->have_fsize = true;
		cfg->fsize = v;
	} else if (!strcmp(arg, "no-file")) {
		if (v == 0)
			jail_die(JX_RLIMIT_ARG, "--resource-limit",
				 "no-file=0 leaves the exec file no descriptor at all");
		cfg->have_nofile = true;
		cfg->nofile = v;
	} else {
		jail_die(JX_RLIMIT_ARG, "--resource-limit",
			 "unknown resource '%s' (known: fsize, no-file)", arg);
	}
}

static void check_netns(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		jail_die_errno(JX_NETNS_ARG, "--netns", "%s", path);
	if (S_ISDIR(st.st_mode))
		jail_die(JX_NETNS_ARG, "--netns", "%s is a directory, not a namespace file", path);
}

/* "--name value" or "--name=value": the value, advancing *i; NULL if not NAME. */
static char *opt_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);
	char *a = argv[*i];

	if (strncmp(a, name, n) != 0)
		return NULL;
	if (a[n] == '=')
		return a + n + 1;
	if (a[n] != 0)
		return NULL;
	if (*i + 1 >= argc)
		usage_die("%s needs a value", name);
	return argv[++*i];
}

static void once(const char **slot, const char *name, const char *v)
{
	if (*slot)
		usage_die("%s given twice", name);
	*slot = v;
}

void jail_parse_args(struct jail_cfg *cfg, int argc, char **argv)
{
	const char *exec_file = NULL, *base = NULL, *uid = NULL, *gid = NULL;
	const char *cgver = NULL;
	char *v;
	int i;

	memset(cfg, 0, sizeof(*cfg));
	cfg->cgroup_version = 2;
	for (i = 1; i < argc; i++) {
		char *a = argv[i];

		if (!strcmp(a, "--")) {
			i++;
			break;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			jail_usage(stdout);
			exit(0);
		} else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			jail_version();
			exit(0);
		} else if (!strcmp(a, "--daemonize")) {
			cfg->daemonize = true;
		} else if (!strcmp(a, "--new-pid-ns")) {
			cfg->new_pid_ns = true;
		} else if ((v = opt_value(argc, argv, &i, "--id"))) {
			once(&cfg->id, "--id", v);
		} else if ((v = opt_value(argc, argv, &i, "--exec-file"))) {
			once(&exec_file, "--exec-file", v);
		} else if ((v = opt_value(argc, argv, &i, "--uid"))) {
			once(&uid, "--uid", v);
		} else if ((v = opt_value(argc, argv, &i, "--gid"))) {
			once(&gid, "--gid", v);
		} else if ((v = opt_value(argc, argv, &i, "--chroot-base-dir"))) {
			once(&base, "--chroot-base-dir", v);
		} else if ((v = opt_value(argc, argv, &i, "--netns"))) {
			once(&cfg->netns, "--netns", v);
		} else if ((v = opt_value(argc, argv, &i, "--cgroup-version"))) {
			once(&cgver, "--cgroup-version", v);
		} else if ((v = opt_value(argc, argv, &i, "--parent-cgroup"))) {
			once(&cfg->parent_cgroup, "--parent-cgroup", v);
		} else if ((v = opt_value(argc, argv, &i, "--cgroup"))) {
			add_cgroup(cfg, v);
		} else if ((v = opt_value(argc, argv, &i, "--resource-limit"))) {
			add_rlimit(cfg, v);
		} else {
			usage_die("unknown option '%s'", a);
		}
	}
	cfg->exec_argv = argv + i;
	cfg->exec_argc = argc - i;

	if (!cfg->id)
		usage_die("%s is required", "--id");
	if (!exec_file)
		usage_die("%s is required", "--exec-file");
	if (!uid)
		usage_die("%s is required", "--uid");
	if (!gid)
		usage_die("%s is required", "--gid");

	check_id(cfg->id);
	check_exec_file(cfg, exec_file);
	check_base_dir(cfg, base ? base : JAIL_DEFAULT_BASE);
	cfg->uid = parse_id_arg("--uid", uid);
	cfg->gid = parse_id_arg("--gid", gid);
	/* Allowed (Firecracker's jailer allows it), but rarely what anyone wants. */
	if (cfg->uid == 0 || cfg->gid == 0)
		fprintf(stderr, "ember-jailer: warning: --uid %s --gid %s: the jailed process runs "
			"as root%s (without capabilities, in the jail)\n", uid, gid,
			cfg->uid == 0 ? "" : "'s group");
	if (cgver) {
		uint64_t ver;

		if (!parse_u64(cgver, 9, &ver))
			jail_die(JX_CGROUP_ARG, "--cgroup-version", "'%s' is not 1 or 2", cgver);
		cfg->cgroup_version = (int)ver;
	}
	if (!cfg->parent_cgroup)
		cfg->parent_cgroup = cfg->exec_name;
	check_parent_cgroup(cfg->parent_cgroup);
	check_cgroups(cfg);
	if (cfg->netns)
		check_netns(cfg->netns);
	if (!cfg->have_nofile)
		cfg->nofile = JAIL_DEFAULT_NOFILE;
}
