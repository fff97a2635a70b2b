// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * http_load - a small HTTP load generator for bench/http.sh: CONNS
 * threads, each with one kept-alive connection on which it GETs PATH
 * REQS times in a row, reading every body to its end (and dropping it).
 * All threads start together; prints the bytes of body received, the wall
 * time and the throughput:
 *
 *   http_load HOST PORT PATH CONNS REQS
 *   -> "bytes 268435456 seconds 0.123 MB/s 2182.4"
 *
 * Exits 1 if any answer is not a 200 with a Content-Length, or ends early.
 */
#include <aurora/util.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX 16384
#define BUF_SIZE (1u << 20)

struct load {
	struct sockaddr_in addr;
	const char *path;
	unsigned reqs;
	pthread_barrier_t start;
};

struct worker {
	pthread_t thread;
	struct load *load;
	uint64_t bytes;
	int err; /* 0, or what went wrong */
};

/* Read until the end of the head; the body bytes read past it are left in
 * @buf and their count in *@extra. The head's Content-Length, or -1. */
static long long read_head(int fd, char *buf, size_t *extra)
{
	size_t have = 0;
	char *end = NULL, *cl;
	long long len;

	while (!end) {
		ssize_t n;

		if (have == HEAD_MAX - 1)
			return -1;
		n = recv(fd, buf + have, HEAD_MAX - 1 - have, 0);
		if (n <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	if (strncmp(buf, "HTTP/1.1 200 ", 13))
		return -1;
	cl = strcasestr(buf, "\r\nContent-Length:");
	if (!cl || cl > end)
		return -1;
	len = strtoll(cl + 17, NULL, 10);
	*extra = have - (size_t)(end + 4 - buf);
	return len;
}

/* One GET on @fd: the body's bytes, or -1. */
static long long get(int fd, const char *path, char *buf)
{
	char req[1024];
	int n = snprintf(req, sizeof(req),
			 "GET %s HTTP/1.1\r\nHost: bench\r\n\r\n", path);
	size_t extra = 0;
	long long len, left;

	if (n < 0 || (size_t)n >= sizeof(req) ||
	    send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
		return -1;
	len = read_head(fd, buf, &extra);
	if (len < 0 || (long long)extra > len)
		return -1;
	for (left = len - (long long)extra; left > 0;) {
		ssize_t got = recv(fd, buf, (size_t)AUR_MIN(left, BUF_SIZE), 0);

		if (got <= 0)
			return -1;
		left -= got;
	}
	return len;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	char *buf = malloc(AUR_MAX(BUF_SIZE, HEAD_MAX));
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (!buf || fd < 0 ||
	    connect(fd, (struct sockaddr *)&w->load->addr,
		    sizeof(w->load->addr)) < 0)
		w->err = errno ? errno : ENOMEM;
	pthread_barrier_wait(&w->load->start);
	for (unsigned i = 0; i < w->load->reqs && !w->err; i++) {
		long long n = get(fd, w->load->path, buf);

		if (n < 0)
			w->err = EPROTO;
		else
			w->bytes += (uint64_t)n;
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

int main(int argc, char **argv)
{
	struct load load = {.addr.sin_family = AF_INET};
	uint64_t port, conns, reqs, bytes = 0;
	struct timespec t0, t1;
	struct worker *w;
	double secs;
	int err = 0;

	if (argc != 6 ||
	    inet_pton(AF_INET, argv[1], &load.addr.sin_addr) != 1 ||
	    aur_parse_u64(argv[2], &port) < 0 || port > 65535 ||
	    aur_parse_u64(argv[4], &conns) < 0 || conns == 0 || conns > 1000 ||
	    aur_parse_u64(argv[5], &reqs) < 0 || reqs == 0 || reqs > 1000000) {
		fprintf(stderr, "usage: http_load HOST PORT PATH CONNS REQS\n");
		return 2;
	}
	load.addr.sin_port = htons((uint16_t)port);
	load.path = argv[3];
	load.reqs = (unsigned)reqs;
	w = calloc(conns, sizeof(*w));
	if (!w ||
	    pthread_barrier_init(&load.start, NULL, (unsigned)conns + 1) != 0)
		return 1;
	for (uint64_t i = 0; i < conns; i++) {
		w[i].load = &load;
		if (pthread_create(&w[i].thread, NULL, run, &w[i]) != 0)
			return 1;
	}
	pthread_barrier_wait(&load.start);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint64_t i = 0; i < conns; i++) {
		pthread_join(w[i].thread, NULL);
		bytes += w[i].bytes;
		if (w[i].err && !err)
			err = w[i].err;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	free(w);
	if (err) {
		fprintf(stderr, "http_load: %s\n", strerror(err));
		return 1;
	}
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("bytes %llu seconds %.3f MB/s %.1f\n", (unsigned long long)bytes,
	       secs, (double)bytes / secs / 1e6);
	return 0;
}
