// SPDX-License-Identifier: GPL-2.0-or-later
#include <aurora/job.h>
#include <aurora/log.h>
#include <aurora/util.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define LOG_EVERY_SECONDS 5
#define KEEP_ENDED 32

enum job_state { JOB_RUNNING, JOB_DONE, JOB_FAILED };

struct aur_job {
	char *what;
	enum job_state state;
	int result;
	char unit[16];
	uint64_t done, total;
	time_t started, ended, logged;
	struct aur_job *next;
};

static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct aur_job *jobs, *jobs_tail;

static time_t now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* under jobs_lock: drop the oldest ended jobs beyond KEEP_ENDED */
static void trim(void)
{
	size_t ended = 0;
	struct aur_job **pp;

	for (struct aur_job *j = jobs; j; j = j->next)
		ended += j->state != JOB_RUNNING;
	for (pp = &jobs; *pp && ended > KEEP_ENDED;) {
		struct aur_job *j = *pp;

		if (j->state == JOB_RUNNING) {
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		free(j->what);
		free(j);
		ended--;
	}
	jobs_tail = NULL;
	for (struct aur_job *j = jobs; j; j = j->next)
		jobs_tail = j;
}

struct aur_job *aur_job_start(const char *what)
{
	struct aur_job *j = calloc(1, sizeof(*j));

	if (!j || !(j->what = strdup(what))) {
		free(j);
		return NULL;
	}
	j->started = j->logged = now();
	pthread_mutex_lock(&jobs_lock);
	if (jobs_tail)
		jobs_tail->next = j;
	else
		jobs = j;
	jobs_tail = j;
	trim();
	aur_info("%s: started", what);
	pthread_mutex_unlock(&jobs_lock);
	return j;
}

/* "12% of 300 MiB" or "12 MiB" (bytes), "120 of 7000 files" (others) */
static void describe(const struct aur_job *j, char *buf, size_t n)
{
	bool bytes = strcmp(j->unit, "bytes") == 0;

	if (!j->unit[0]) {
		snprintf(buf, n, "no progress reported yet");
	} else if (bytes && j->total) {
		snprintf(buf, n, "%" PRIu64 "%% of %" PRIu64 " MiB",
			 j->done * 100 / j->total, j->total >> 20);
	} else if (bytes) {
		snprintf(buf, n, "%" PRIu64 " MiB", j->done >> 20);
	} else if (j->total) {
		snprintf(buf, n,
			 "%" PRIu64 " of %" PRIu64 " %s (%" PRIu64 "%%)",
			 j->done, j->total, j->unit, j->done * 100 / j->total);
	} else {
		snprintf(buf, n, "%" PRIu64 " %s", j->done, j->unit);
	}
}

void aur_job_progress(struct aur_job *j, const char *unit, uint64_t done,
		      uint64_t total)
{
	char text[96];
	bool say;

	if (!j)
		return;
	pthread_mutex_lock(&jobs_lock);
	snprintf(j->unit, sizeof(j->unit), "%s", unit);
	j->done = done;
	j->total = total;
	say = now() - j->logged >= LOG_EVERY_SECONDS;
	if (say) {
		j->logged = now();
		describe(j, text, sizeof(text));
	}
	pthread_mutex_unlock(&jobs_lock);
	if (say)
		aur_info("%s: %s", j->what, text);
}

void aur_job_end(struct aur_job *j, int result)
{
	long long took;

	if (!j)
		return;
	pthread_mutex_lock(&jobs_lock);
	j->state = result < 0 ? JOB_FAILED : JOB_DONE;
	j->result = result;
	j->ended = now();
	took = (long long)(j->ended - j->started);
	/* said before trim() may free it */
	if (result < 0)
		aur_err("%s: failed after %lld s: %s", j->what, took,
			strerror(-result));
	else
		aur_info("%s: done in %lld s", j->what, took);
	trim();
	pthread_mutex_unlock(&jobs_lock);
}

char *aur_job_report(size_t *len)
{
	char *out = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&out, &size);

	if (!f)
		return NULL;
	pthread_mutex_lock(&jobs_lock);
	for (struct aur_job *j = jobs; j; j = j->next) {
		char text[96];

		describe(j, text, sizeof(text));
		if (j->state == JOB_RUNNING)
			fprintf(f, "%s: running for %lld s, %s\n", j->what,
				(long long)(now() - j->started), text);
		else if (j->state == JOB_DONE)
			fprintf(f, "%s: done in %lld s, %s\n", j->what,
				(long long)(j->ended - j->started), text);
		else
			fprintf(f, "%s: failed after %lld s: %s\n", j->what,
				(long long)(j->ended - j->started),
				strerror(-j->result));
	}
	pthread_mutex_unlock(&jobs_lock);
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	*len = size;
	return out;
}

void aur_job_reset(void)
{
	pthread_mutex_lock(&jobs_lock);
	while (jobs) {
		struct aur_job *j = jobs;

		jobs = j->next;
		free(j->what);
		free(j);
	}
	jobs_tail = NULL;
	pthread_mutex_unlock(&jobs_lock);
}
