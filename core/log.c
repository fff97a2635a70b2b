// SPDX-License-Identifier: GPL-2.0-or-later
#include <aurora/log.h>

#include <pthread.h>
#include <stdio.h>
#include <time.h>

static int log_level = LOG_INFO;
static int log_syslog;
static aur_log_sink log_sink;
static void *log_sink_ctx;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void aur_log_set_level(int max_level)
{
	log_level = max_level;
}

int aur_log_get_level(void)
{
	return log_level;
}

void aur_log_use_syslog(int on)
{
	log_syslog = on;
	if (on)
		openlog("aurorafs", LOG_PID, LOG_DAEMON);
}

void aur_log_set_sink(aur_log_sink sink, void *ctx)
{
	pthread_mutex_lock(&log_lock);
	log_sink = sink;
	log_sink_ctx = ctx;
	pthread_mutex_unlock(&log_lock);
}

static const char *level_name(int level)
{
	switch (level) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

void aur_vlog(int level, const char *fmt, va_list ap)
{
	char msg[1024];

	if (level > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);

	pthread_mutex_lock(&log_lock);
	if (log_sink) {
		log_sink(log_sink_ctx, level, msg);
	} else if (log_syslog) {
		syslog(level, "%s", msg);
	} else {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		fprintf(stderr, "aurorafs %02d:%02d:%02d.%03ld %s: %s\n",
			tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
			level_name(level), msg);
	}
	pthread_mutex_unlock(&log_lock);
}

void aur_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	aur_vlog(level, fmt, ap);
	va_end(ap);
}
