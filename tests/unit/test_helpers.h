/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_helpers.h - shared fixtures of the unit tests: log capture and
 * temporary directories. */
#ifndef AURORAFS_TEST_HELPERS_H
#define AURORAFS_TEST_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* Start capturing log messages (all levels) into a buffer. */
void capture_logs(void);
/* The messages captured so far, one per line. */
const char *captured_logs(void);
/* Stop capturing and forget. */
void release_logs(void);

/* mkdtemp under $TMPDIR; caller frees. */
char *make_temp_dir(void);
/* rm -rf @path */
void remove_tree(const char *path);
/* Write @len bytes to @path; asserts on failure. */
void write_file(const char *path, const void *buf, size_t len);

#endif
