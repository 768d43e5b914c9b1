/* SPDX-License-Identifier: Apache-2.0 */
/* The console terminal: raw mode while the guest owns it, restored on every exit path. */
#ifndef EMBER_TERM_H
#define EMBER_TERM_H

/* Put fd in raw mode if it is a terminal; the old mode returns at exit. */
void term_raw(int fd);
/* Restore the saved mode (idempotent, async-signal-safe). */
void term_restore(void);

#endif
