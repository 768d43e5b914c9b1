// SPDX-License-Identifier: Apache-2.0
/*
 * Giving everything up: resource limits, the capability bounding and ambient
 * sets, securebits, supplementary groups, gid, uid, then every remaining
 * capability set, and no_new_privs. The bounding set is dropped first since
 * that needs CAP_SETPCAP, which changing to a non-zero uid takes away.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>
#include <grp.h>
#include <linux/securebits.h>

#include "jailer/jailer.h"

void jail_set_rlimits(const struct jail_cfg *cfg)
{
	struct rlimit rl;

	rl.rlim_cur = rl.rlim_max = (rlim_t)cfg->nofile;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		jail_die_errno(JX_RLIMIT, "resource limits", "no-file=%llu%s",
			       (unsigned long long)cfg->nofile,
			       errno == EPERM ? " (above /proc/sys/fs/nr_open?)" : "");
	if (cfg->have_fsize) {
		rl.rlim_cur = rl.rlim_max = (rlim_t)cfg->fsize;
		if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
			jail_die_errno(JX_RLIMIT, "resource limits", "fsize=%llu",
				       (unsigned long long)cfg->fsize);
	}
}

void jail_drop_bounding(void)
{
	cap_value_t max = cap_max_bits();

	for (cap_value_t c = 0; c < max; c++) {
		int r = cap_get_bound(c);

		if (r < 0)
			jail_die_errno(JX_CAPS, "capabilities", "reading bounding capability %d", c);
		if (r > 0 && cap_drop_bound(c) < 0)
			jail_die_errno(JX_CAPS, "capabilities", "dropping %s from the bounding set",
				       cap_to_name(c));
	}
	if (cap_reset_ambient() < 0)
		jail_die_errno(JX_CAPS, "capabilities", "clearing the ambient set");
	/* No way back to privileges through uid 0 (if --uid 0) or ambient caps. */
	if (cap_set_secbits(SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
			    SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED) < 0)
		jail_die_errno(JX_CAPS, "capabilities", "setting securebits");
}

void jail_drop_ids(const struct jail_cfg *cfg)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;

	if (setgroups(0, NULL) < 0)
		jail_die_errno(JX_DROP_IDS, "drop privileges", "setgroups(0)");
	if (setresgid(cfg->gid, cfg->gid, cfg->gid) < 0)
		jail_die_errno(JX_DROP_IDS, "drop privileges", "setresgid(%u)", cfg->gid);
	if (setresuid(cfg->uid, cfg->uid, cfg->uid) < 0)
		jail_die_errno(JX_DROP_IDS, "drop privileges", "setresuid(%u)", cfg->uid);
	if (getresuid(&r, &e, &s) < 0 || getresgid(&rg, &eg, &sg) < 0 ||
	    r != cfg->uid || e != cfg->uid || s != cfg->uid ||
	    rg != cfg->gid || eg != cfg->gid || sg != cfg->gid || getgroups(0, NULL) != 0)
		jail_die(JX_DROP_IDS, "drop privileges", "uid/gid/groups did not change as asked");
}

void jail_clear_caps(void)
{
	cap_t empty = cap_init(), now;
	int differ;

	if (!empty)
		jail_die_errno(JX_CAPS, "capabilities", "cap_init");
	if (cap_set_proc(empty) < 0)
		jail_die_errno(JX_CAPS, "capabilities", "clearing the permitted/effective/inheritable sets");
	now = cap_get_proc();
	if (!now)
		jail_die_errno(JX_CAPS, "capabilities", "cap_get_proc");
	differ = cap_compare(now, empty);
	cap_free(now);
	cap_free(empty);
	if (differ)
		jail_die(JX_CAPS, "capabilities", "capability sets are not empty after clearing");
	for (cap_value_t c = 0; c < cap_max_bits(); c++)
		if (cap_get_bound(c) != 0)
			jail_die(JX_CAPS, "capabilities", "%s is still in the bounding set",
				 cap_to_name(c));
}

void jail_no_new_privs(void)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		jail_die_errno(JX_NNP, "no_new_privs", "prctl(PR_SET_NO_NEW_PRIVS)");
}

/* Default dispositions, nothing blocked: an ignored SIGPIPE would survive exec. */
void jail_reset_signals(void)
{
	sigset_t none;

	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}
