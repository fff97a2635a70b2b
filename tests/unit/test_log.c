// SPDX-License-Identifier: GPL-2.0-or-later
#include "test_helpers.h"

#include <aurora/log.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* What the sink was given; the sink runs under the log's lock. */
static char lines[64][256];
static size_t nlines, total;

static void sink(void *ctx, int level, const char *msg)
{
	if (nlines < 64)
		snprintf(lines[nlines++], sizeof(lines[0]), "%d %s", level,
			 msg);
	total++;
}

static int setup(void **state)
{
	nlines = total = 0;
	aur_log_set_level(LOG_DEBUG);
	aur_log_set_sink(sink, NULL);
	return 0;
}

static int teardown(void **state)
{
	aur_log_set_repeat_window(AUR_LOG_REPEAT_WINDOW_MS);
	aur_log_set_sink(NULL, NULL);
	aur_log_set_level(LOG_INFO);
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

static void a_repeated_error_is_logged_once(void **state)
{
	for (int i = 0; i < 5; i++) {
		aur_err("fetch '%s': Could not resolve host", "http://x/a.iso");
		aur_warn("state_dir is almost full");
	}
	aur_err("fetch '%s': Could not resolve host", "http://x/b.iso");
	assert_int_equal(nlines, 3);
	assert_string_equal(lines[0], "3 fetch 'http://x/a.iso': Could not "
				      "resolve host");
	assert_string_equal(lines[1], "4 state_dir is almost full");
	assert_string_equal(lines[2], "3 fetch 'http://x/b.iso': Could not "
				      "resolve host");
}

static void after_the_window_it_says_how_often_it_repeated(void **state)
{
	aur_log_set_repeat_window(50);
	aur_err("disk full");
	aur_err("disk full");
	aur_err("disk full");
	sleep_ms(80);
	aur_err("disk full");
	aur_err("disk full");
	sleep_ms(80);
	aur_err("disk full");
	assert_int_equal(nlines, 3);
	assert_string_equal(lines[0], "3 disk full");
	assert_string_equal(lines[1], "3 disk full (repeated 2 times)");
	assert_string_equal(lines[2], "3 disk full (repeated 1 time)");
}

static void info_and_debug_are_not_deduplicated(void **state)
{
	for (int i = 0; i < 3; i++) {
		aur_info("mounted");
		aur_debug("read 4096 bytes");
	}
	assert_int_equal(nlines, 6);
}

static void the_level_is_part_of_the_message(void **state)
{
	aur_err("same text");
	aur_warn("same text");
	assert_int_equal(nlines, 2);
}

static void memory_is_bounded_and_old_messages_come_back(void **state)
{
	for (int i = 0; i < 1000; i++)
		aur_err("error %d", i);
	assert_int_equal(total, 1000);
	/* forgotten long ago: logged again, without a count */
	aur_err("error 0");
	assert_int_equal(total, 1001);
	/* still remembered */
	aur_err("error 999");
	assert_int_equal(total, 1001);
}

static void a_new_sink_forgets(void **state)
{
	aur_err("once");
	aur_log_set_sink(sink, NULL);
	aur_err("once");
	assert_int_equal(nlines, 2);
}

/* The daemon forks to detach and logs to a new place: what the parent
 * said is not held back in the child. A new destination starts afresh. */
static void a_child_process_and_a_new_destination_start_afresh(void **state)
{
	int status;
	pid_t pid;

	aur_err("cannot open 'http://x/a.iso'");
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		aur_err("cannot open 'http://x/a.iso'");
		aur_err("cannot open 'http://x/a.iso'");
		_exit(total == 2 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	aur_log_use_syslog(0);
	aur_err("cannot open 'http://x/a.iso'");
	assert_int_equal(total, 2);
}

static void *log_a_lot(void *arg)
{
	for (int i = 0; i < 2000; i++) {
		aur_err("the same error from every thread");
		aur_err("thread %d", (int)(long)arg);
	}
	return NULL;
}

static void threads_see_one_line_per_message(void **state)
{
	pthread_t t[8];

	for (long i = 0; i < 8; i++)
		assert_int_equal(
			pthread_create(&t[i], NULL, log_a_lot, (void *)i), 0);
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(total, 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(a_repeated_error_is_logged_once,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			after_the_window_it_says_how_often_it_repeated, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			info_and_debug_are_not_deduplicated, setup, teardown),
		cmocka_unit_test_setup_teardown(
			the_level_is_part_of_the_message, setup, teardown),
		cmocka_unit_test_setup_teardown(
			memory_is_bounded_and_old_messages_come_back, setup,
			teardown),
		cmocka_unit_test_setup_teardown(a_new_sink_forgets, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			a_child_process_and_a_new_destination_start_afresh,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			threads_see_one_line_per_message, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
