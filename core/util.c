// SPDX-License-Identifier: GPL-2.0-or-later
#include <aurora/util.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

void aur_freep(void *pp)
{
	free(*(void **)pp);
}

int aur_read_fd(int fd, size_t max, char **buf, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *p = malloc(cap + 1);

	if (!p)
		return -ENOMEM;
	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *q;

			if (cap >= max) {
				free(p);
				return -EFBIG;
			}
			cap = AUR_MIN(cap * 2, max);
			q = realloc(p, cap + 1);
			if (!q) {
				free(p);
				return -ENOMEM;
			}
			p = q;
		}
		r = read(fd, p + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = -errno;

			free(p);
			return e;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	p[n] = '\0';
	*buf = p;
	*len = n;
	return 0;
}

int aur_read_file(const char *path, size_t max, char **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	r = aur_read_fd(fd, max, buf, len);
	close(fd);
	return r;
}

static int fsync_parent(const char *path)
{
	char *copy = strdup(path);
	int fd, r = 0;

	if (!copy)
		return -ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		r = -errno;
	else if (fsync(fd) < 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	free(copy);
	return r;
}

int aur_write_file_atomic(const char *path, const void *buf, size_t len,
			  mode_t mode)
{
	char *tmp = aur_printf("%s.tmp.%ld", path, (long)getpid());
	int fd = -1, r;

	if (!tmp)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = aur_pwrite_full(fd, buf, len, 0);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	fd = -1;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r == 0)
		r = fsync_parent(path);
out:
	if (r < 0)
		unlink(tmp);
	free(tmp);
	return r;
}

int aur_mkdir_p(const char *path, mode_t mode)
{
	char *p = strdup(path);
	int r = 0;

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1;; s++) {
		char c = *s;

		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST) {
			r = -errno;
			break;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	if (r == 0) {
		struct stat st;

		if (stat(path, &st) < 0)
			r = -errno;
		else if (!S_ISDIR(st.st_mode))
			r = -ENOTDIR;
	}
	return r;
}

char *aur_absolute_path(const char *path)
{
	char *cwd, *abs;

	if (path[0] == '/')
		return strdup(path);
	cwd = getcwd(NULL, 0);
	if (!cwd)
		return NULL;
	abs = aur_printf("%s/%s", cwd, path);
	free(cwd);
	return abs;
}

ssize_t aur_pread_full(int fd, void *buf, size_t n, uint64_t off)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = pread(fd, (char *)buf + done, n - done,
				  (off_t)(off + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

int aur_pwrite_full(int fd, const void *buf, size_t n, uint64_t off)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = pwrite(fd, (const char *)buf + done, n - done,
				   (off_t)(off + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		done += (size_t)r;
	}
	return 0;
}

void aur_sha256_hex(const unsigned char digest[32], char out[65])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < 32; i++) {
		out[2 * i] = hex[digest[i] >> 4];
		out[2 * i + 1] = hex[digest[i] & 15];
	}
	out[64] = '\0';
}

int aur_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int aur_sha256_parse(const char *s, unsigned char digest[32])
{
	for (int i = 0; i < 32; i++) {
		int hi = aur_hex_digit(s[2 * i]), lo;

		if (hi < 0)
			return -EINVAL;
		lo = aur_hex_digit(s[2 * i + 1]);
		if (lo < 0)
			return -EINVAL;
		digest[i] = (unsigned char)(hi << 4 | lo);
	}
	/* a longer run of hex digits is not a SHA-256 */
	if (aur_hex_digit(s[64]) >= 0)
		return -EINVAL;
	return 0;
}

void aur_sha256(const void *buf, size_t len, unsigned char digest[32])
{
	EVP_Digest(buf, len, digest, NULL, EVP_sha256(), NULL);
}

int aur_sha256_read(aur_read_fn read, void *ctx, uint64_t size,
		    unsigned char digest[32])
{
	const size_t step = 4u << 20;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t *buf = malloc(step);
	int r = 0;

	if (!md || !buf || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		r = -ENOMEM;
		goto out;
	}
	for (uint64_t off = 0; off < size;) {
		ssize_t n =
			read(ctx, buf, (size_t)AUR_MIN(step, size - off), off);

		if (n <= 0) {
			r = n < 0 ? (int)n : -EIO;
			goto out;
		}
		EVP_DigestUpdate(md, buf, (size_t)n);
		off += (uint64_t)n;
	}
	EVP_DigestFinal_ex(md, digest, NULL);
out:
	EVP_MD_CTX_free(md);
	free(buf);
	return r;
}

char *aur_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0) {
		errno = ENOMEM;
		return NULL;
	}
	return s;
}

bool aur_startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int aur_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

int aur_mac_parse(const char *s, uint8_t mac[6])
{
	char sep = s[0] && s[1] ? s[2] : '\0';

	if ((sep != ':' && sep != '-') || strlen(s) != AUR_MAC_STRLEN - 1)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		const char *g = s + 3 * i;
		int hi = aur_hex_digit(g[0]), lo = aur_hex_digit(g[1]);

		if (hi < 0 || lo < 0 || (i < 5 && g[2] != sep))
			return -EINVAL;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void aur_mac_format(const uint8_t mac[6], char out[AUR_MAC_STRLEN])
{
	snprintf(out, AUR_MAC_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0],
		 mac[1], mac[2], mac[3], mac[4], mac[5]);
}
