/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * log.h - the single logging entry point of aurorafs.
 *
 * Levels are syslog's (LOG_ERR .. LOG_DEBUG). Messages follow git's style:
 * lowercase, no full stop, the subject first and quoted
 * ("fetch 'http://x/y.iso': HTTP 404"). By default messages go to stderr;
 * the daemon switches to syslog once it detaches, and tests install a sink
 * to capture what was said.
 *
 * Errors and warnings are said once: the same message at the same level
 * within the repeat window of its last appearance in the log is counted
 * instead of logged, so that a dead server does not log one line per stat
 * and read. When it comes again after the window it is logged with
 * " (repeated N times)" if it was held back meanwhile. The last 64 distinct
 * messages are remembered (as hashes); an older one is logged afresh and
 * its count is lost. A new destination (aur_log_set_sink(),
 * aur_log_use_syslog()) and a forked child (the daemon once it detaches
 * and logs to its log file) start afresh. Info and debug messages are
 * always logged. All of this is thread-safe.
 */
#ifndef AURORA_LOG_H
#define AURORA_LOG_H

#include <stdarg.h>
#include <syslog.h>

typedef void (*aur_log_sink)(void *ctx, int level, const char *msg);

/* Messages above @max_level (e.g. LOG_DEBUG) are dropped before formatting. */
void aur_log_set_level(int max_level);
int aur_log_get_level(void);

/* Send messages to syslog (true) or stderr (false); forgets the remembered
 * messages. */
void aur_log_use_syslog(int on);

/* Send messages to @sink instead (NULL restores the default). Either way
 * the remembered messages are forgotten. */
void aur_log_set_sink(aur_log_sink sink, void *ctx);

/* The repeat window of errors and warnings, in milliseconds (the default is
 * AUR_LOG_REPEAT_WINDOW_MS; 0 logs every message). Forgets the remembered
 * messages. */
#define AUR_LOG_REPEAT_WINDOW_MS 60000
void aur_log_set_repeat_window(unsigned int ms);

void aur_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void aur_vlog(int level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

#define aur_err(...) aur_log(LOG_ERR, __VA_ARGS__)
#define aur_warn(...) aur_log(LOG_WARNING, __VA_ARGS__)
#define aur_info(...) aur_log(LOG_INFO, __VA_ARGS__)
#define aur_debug(...)                                   \
	do {                                             \
		if (aur_log_get_level() >= LOG_DEBUG)    \
			aur_log(LOG_DEBUG, __VA_ARGS__); \
	} while (0)

#endif
