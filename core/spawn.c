// SPDX-License-Identifier: GPL-2.0-or-later
#include <aurora/log.h>
#include <aurora/spawn.h>
#include <aurora/util.h>

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define ERR_KEEP 4096
#define MAX_ENV 256

extern char **environ;

/* environ plus @extra (entries of @extra replace same-named ones) */
static char **merged_env(const char *const extra[], char **buf, size_t cap)
{
	size_t n = 0;

	for (const char *const *e = extra; e && *e && n < cap - 1; e++)
		buf[n++] = (char *)*e;
	for (char **e = environ; *e && n < cap - 1; e++) {
		size_t name = strcspn(*e, "=");
		bool replaced = false;

		for (const char *const *x = extra; x && *x; x++)
			if (strncmp(*x, *e, name) == 0 && (*x)[name] == '=')
				replaced = true;
		if (!replaced)
			buf[n++] = *e;
	}
	buf[n] = NULL;
	return buf;
}

/* The last line of @text that says something. */
static const char *last_line(char *text, size_t len)
{
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
		text[--len] = '\0';
	for (size_t i = len; i > 0; i--)
		if (text[i - 1] == '\n')
			return text + i;
	return text;
}

int aur_run(const char *const argv[], const char *const env[], const char *what)
{
	char *envbuf[MAX_ENV];
	char err[ERR_KEEP + 1];
	size_t errlen = 0;
	posix_spawn_file_actions_t fa;
	int pipefd[2], status = 0, r;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null",
					 O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
	r = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv,
			 merged_env(env, envbuf, MAX_ENV));
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (r != 0) {
		close(pipefd[0]);
		aur_err("%s: cannot run %s: %s", what, argv[0], strerror(r));
		return r == ENOENT ? -ENOENT : -EIO;
	}
	for (;;) {
		char buf[1024];
		ssize_t n = read(pipefd[0], buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		/* keep the tail (buf is smaller than err): the last lines
		 * say what went wrong */
		if (errlen + (size_t)n > ERR_KEEP) {
			size_t drop = errlen + (size_t)n - ERR_KEEP;

			memmove(err, err + drop, errlen - drop);
			errlen -= drop;
		}
		memcpy(err + errlen, buf, (size_t)n);
		errlen += (size_t)n;
	}
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	err[errlen] = '\0';
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		aur_err("%s: %s exited with status %d: %s", what, argv[0],
			WEXITSTATUS(status), last_line(err, errlen));
	else
		aur_err("%s: %s was killed by signal %d", what, argv[0],
			WTERMSIG(status));
	return -EIO;
}
