/* SPDX-License-Identifier: Apache-2.0 */
#include "vmm/term.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static struct termios saved;
static int saved_fd = -1;

void term_restore(void)
{
	if (saved_fd >= 0)
		tcsetattr(saved_fd, TCSANOW, &saved);
}

/* A crash still gives the user a working terminal, then dies as it would have. */
static void on_fatal(int sig)
{
	term_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

void term_raw(int fd)
{
	struct termios t;

	if (!isatty(fd) || tcgetattr(fd, &saved) < 0)
		return;
	t = saved;
	/* Every key, Ctrl-C included, goes to the guest. */
	t.c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	t.c_oflag &= ~OPOST;
	t.c_lflag &= ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	t.c_cflag &= ~(CSIZE | PARENB);
	t.c_cflag |= CS8;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	saved_fd = fd;
	atexit(term_restore);
	for (const int *s = (const int[]){ SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, 0 }; *s; s++)
		signal(*s, on_fatal);
	tcsetattr(fd, TCSANOW, &t);
}
