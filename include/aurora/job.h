/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * job.h - long builds that users can watch: pulling an image, making a
 * squashfs. A job has a name, a state and counters (bytes pulled, files
 * compressed, ...); builders update them as they go. Progress is logged
 * (at most one line per job every few seconds, and when it ends) and the
 * list of jobs is a text report that the filesystem shows as a file.
 *
 * Jobs live in one process-wide list; every function is thread-safe.
 */
#ifndef AURORA_JOB_H
#define AURORA_JOB_H

#include <stddef.h>
#include <stdint.h>

struct aur_job;

/* Register a running job called @what (copied). NULL on ENOMEM: callers
 * go on without progress reports (every function accepts NULL). */
struct aur_job *aur_job_start(const char *what);

/* Report @done of @total (0: unknown) in @unit ("bytes", "files"). */
void aur_job_progress(struct aur_job *j, const char *unit, uint64_t done,
		      uint64_t total);

/* The job ended with @result (0 or -errno). It stays in the report as
 * done or failed; the caller must not use @j afterwards. */
void aur_job_end(struct aur_job *j, int result);

/* The report: one line per job, newest last ("<what>: building, 41% of
 * 300 MiB of bytes" ...). Caller frees; NULL on ENOMEM. */
char *aur_job_report(size_t *len);

/* Forget every job (tests, and the end of the process). */
void aur_job_reset(void);

#endif
