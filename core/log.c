// SPDX-License-Identifier: GPL-2.0-or-later
#include <aurora/log.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RECENT_MAX 64

/* An error or warning logged lately. */
struct recent {
	uint64_t hash; /* of the level and the text; 0 for a free slot */
	uint64_t logged_ms; /* when it was last written to the log */
	uint64_t seen; /* when it last came, as a count of messages */
	unsigned long held; /* times held back since it was logged */
};

static int log_level = LOG_INFO;
static int log_syslog;
static aur_log_sink log_sink;
static void *log_sink_ctx;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
/* under log_lock */
static struct recent recent[RECENT_MAX];
static uint64_t recent_seq; /* errors and warnings so far */
static pid_t recent_pid; /* the process that logged them */
static unsigned int repeat_window_ms = AUR_LOG_REPEAT_WINDOW_MS;

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
	pthread_mutex_lock(&log_lock);
	log_syslog = on;
	memset(recent, 0, sizeof(recent));
	pthread_mutex_unlock(&log_lock);
	if (on)
		openlog("aurorafs", LOG_PID, LOG_DAEMON);
}

void aur_log_set_sink(aur_log_sink sink, void *ctx)
{
	pthread_mutex_lock(&log_lock);
	log_sink = sink;
	log_sink_ctx = ctx;
	memset(recent, 0, sizeof(recent));
	pthread_mutex_unlock(&log_lock);
}

void aur_log_set_repeat_window(unsigned int ms)
{
	pthread_mutex_lock(&log_lock);
	repeat_window_ms = ms;
	memset(recent, 0, sizeof(recent));
	pthread_mutex_unlock(&log_lock);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* FNV-1a of the level and the text, never 0 */
static uint64_t message_hash(int level, const char *msg)
{
	uint64_t h = 14695981039346656037ULL ^ (unsigned int)level;

	h *= 1099511628211ULL;
	for (const char *p = msg; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return h ? h : 1;
}

/*
 * Whether the error or warning @msg is to be logged now (under log_lock).
 * If it is and earlier ones were held back, *@held says how many.
 */
static bool repeat_admit(int level, const char *msg, unsigned long *held)
{
	uint64_t hash = message_hash(level, msg), now = now_ms();
	uint64_t seq = ++recent_seq;
	struct recent *r, *oldest = &recent[0];

	/* a forked child (the daemon once detached) logs somewhere new */
	if (recent_pid != getpid()) {
		memset(recent, 0, sizeof(recent));
		recent_pid = getpid();
	}
	*held = 0;
	for (r = recent; r < recent + RECENT_MAX; r++) {
		if (r->hash == hash)
			break;
		if (r->seen < oldest->seen)
			oldest = r;
	}
	if (r == recent + RECENT_MAX) {
		*oldest = (struct recent){hash, now, seq, 0};
		return true;
	}
	r->seen = seq;
	if (now - r->logged_ms < repeat_window_ms) {
		r->held++;
		return false;
	}
	*held = r->held;
	r->held = 0;
	r->logged_ms = now;
	return true;
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

/* Write @msg (under log_lock). */
static void log_write(int level, const char *msg)
{
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
}

void aur_vlog(int level, const char *fmt, va_list ap)
{
	char msg[1024], counted[1100];
	unsigned long held = 0;

	if (level > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);

	pthread_mutex_lock(&log_lock);
	if (level <= LOG_WARNING && repeat_window_ms &&
	    !repeat_admit(level, msg, &held)) {
		pthread_mutex_unlock(&log_lock);
		return;
	}
	if (held) {
		snprintf(counted, sizeof(counted), "%s (repeated %lu time%s)",
			 msg, held, held == 1 ? "" : "s");
		log_write(level, counted);
	} else {
		log_write(level, msg);
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
