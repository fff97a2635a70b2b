// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: the whole HTTP server, end to end. The input is sent as it
 * is on a fresh loopback connection to a running server (libmicrohttpd's
 * parser, then the handler: targets, conditions, ranges, listings, the
 * sendfile and callback paths, failed builds), and the answer is read to
 * the end. The files: a plain file, a file of memory, zeros and a file
 * range, one whose build fails, names that need escaping, directories.
 * Whatever was sent, the server must not crash, must close the connection
 * once the client has nothing more to say (its timeout bounds the rest),
 * and whatever it answers must be HTTP.
 */
#include <aurora/http.h>
#include <aurora/log.h>
#include <aurora/source.h>
#include <aurora/tree.h>
#include <aurora/util.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FILE_SIZE (64u * 1024)
/* the server's timeout is 1 s: an answer takes no longer than this */
#define READ_TIMEOUT_MS 10000

/* live as long as the process */
static struct aur_tree *tree;
static struct aur_http_server *server;
static struct aur_file_source file;
static uint8_t mem[4096];

static void quiet(void *ctx, int level, const char *msg)
{
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int build_plain(void *ctx, struct aur_image *img)
{
	img->mtime = 1700000000;
	return aur_extmap_add_source(&img->map, "plain", &file.src, 0,
				     FILE_SIZE);
}

static int build_mixed(void *ctx, struct aur_image *img)
{
	int r;

	img->mtime = 1700000000;
	r = aur_extmap_add_mem(&img->map, "mem", mem, 1000);
	if (r == 0)
		r = aur_extmap_add_zero(&img->map, "zero", 70000);
	if (r == 0)
		r = aur_extmap_add_source(&img->map, "file", &file.src, 5,
					  60000);
	if (r == 0)
		r = aur_extmap_add_mem(&img->map, "mem", mem + 7, 3);
	return r;
}

static int build_small(void *ctx, struct aur_image *img)
{
	return aur_extmap_add_mem(&img->map, "small", mem, 29);
}

static int build_broken(void *ctx, struct aur_image *img)
{
	return -EIO;
}

static const struct aur_file_ops plain_ops = {.build = build_plain};
static const struct aur_file_ops mixed_ops = {.build = build_mixed};
static const struct aur_file_ops small_ops = {.build = build_small};
static const struct aur_file_ops broken_ops = {.build = build_broken};

/* A temporary file of FILE_SIZE bytes, already unlinked. */
static int temp_file(void)
{
	const char *tmp = getenv("TMPDIR");
	char *path = aur_printf("%s/fuzz_http.XXXXXX", tmp ? tmp : "/tmp");
	uint8_t *buf = malloc(FILE_SIZE);
	int fd = path && buf ? mkstemp(path) : -1;

	if (fd >= 0) {
		unlink(path);
		for (size_t i = 0; i < FILE_SIZE; i++)
			buf[i] = (uint8_t)(i * 7 + i / 251);
		if (aur_pwrite_full(fd, buf, FILE_SIZE, 0) < 0) {
			close(fd);
			fd = -1;
		}
	}
	free(buf);
	free(path);
	return fd;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct aur_http_opts o = {.listen = "127.0.0.1:0",
				  .max_connections = 1000,
				  .max_per_ip = 1000,
				  .timeout_s = 1};
	struct aur_tree *t = aur_tree_new(1700000000);
	int fd = temp_file();

	aur_log_set_sink(quiet, NULL);
	for (size_t i = 0; i < sizeof(mem); i++)
		mem[i] = (uint8_t)(i ^ 0x5a);
	o.tree = tree = t;
	if (!t || fd < 0 || aur_file_source_from_fd(&file, fd) < 0 ||
	    aur_tree_add_file(t, "/netboot/kernel", &plain_ops, NULL, NULL) ||
	    aur_tree_add_file(t, "/netboot/mixed.bin", &mixed_ops, NULL,
			      NULL) ||
	    aur_tree_add_file(t, "/iso/a b&<c>.iso", &plain_ops, NULL, NULL) ||
	    aur_tree_add_file(t, "/config.yaml", &small_ops, NULL, NULL) ||
	    aur_tree_add_file(t, "/broken", &broken_ops, NULL, NULL) ||
	    aur_http_open(&o, &server) < 0 || aur_http_start(server) < 0)
		abort();
	return 0;
}

static int connect_server(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(aur_http_port(server)),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		abort();
	return fd;
}

/* Send what the server takes of @data: it may close early (a refused
 * request), which is no failure. */
static void send_all(int fd, const uint8_t *data, size_t size)
{
	while (size > 0) {
		ssize_t n = send(fd, data, size, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		data += n;
		size -= (size_t)n;
	}
}

/* Read the answer to the end; its first bytes go to @head. */
static size_t read_answer(int fd, char *head, size_t cap)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	size_t total = 0;
	char buf[65536];

	for (;;) {
		ssize_t n;

		if (poll(&p, 1, READ_TIMEOUT_MS) == 0)
			abort(); /* the server kept a finished client */
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return total;
		if (total < cap)
			memcpy(head + total, buf,
			       AUR_MIN((size_t)n, cap - total));
		total += (size_t)n;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct linger reset = {1, 0}; /* no TIME_WAIT */
	char head[8];
	int fd = connect_server();
	size_t got;

	send_all(fd, data, size);
	shutdown(fd, SHUT_WR);
	got = read_answer(fd, head, sizeof(head));
	if (got > 0 && (got < sizeof(head) || memcmp(head, "HTTP/1.", 7)))
		abort(); /* not an HTTP answer */
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
	close(fd);
	return 0;
}
