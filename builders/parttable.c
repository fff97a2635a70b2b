// SPDX-License-Identifier: GPL-2.0-or-later
#include <aurora/iso9660.h>
#include <aurora/parttable.h>
#include <aurora/util.h>

#include <errno.h>
#include <string.h>

#define SECTOR 512u
#define MBR_TABLE 446
#define GPT_HEADER SECTOR
#define MBR_HEADS 64
#define MBR_SECTORS 32

uint64_t aur_shift_pos(const struct aur_shift *s, uint64_t x, unsigned unit)
{
	return x * unit < s->at ? x : x + s->by / unit;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)iso_le32(p) | (uint64_t)iso_le32(p + 4) << 32;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	iso_put_le32(p, (uint32_t)v);
	iso_put_le32(p + 4, (uint32_t)(v >> 32));
}

uint32_t aur_crc32(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

/* ---- finding the tables ---- */

static bool gpt_header_ok(const uint8_t *h)
{
	uint8_t copy[SECTOR];
	uint32_t size = iso_le32(h + 12);

	if (memcmp(h, "EFI PART", 8) != 0 || size < 92 || size > SECTOR)
		return false;
	memcpy(copy, h, size);
	memset(copy + 16, 0, 4);
	return aur_crc32(copy, size) == iso_le32(h + 16);
}

void aur_parts_find(const uint8_t *sys, struct aur_parts *p)
{
	memset(p, 0, sizeof(*p));
	p->mbr = sys[510] == 0x55 && sys[511] == 0xaa;
	if (gpt_header_ok(sys + GPT_HEADER)) {
		const uint8_t *h = sys + GPT_HEADER;
		uint64_t entries = le64(h + 72) * SECTOR;
		uint32_t bytes = iso_le32(h + 80) * iso_le32(h + 84);

		/* only tables inside the system area can be rewritten */
		if (entries >= 2 * SECTOR && bytes <= 64 * 1024 &&
		    entries + bytes <= AUR_SYSTEM_AREA) {
			p->gpt = true;
			p->gpt_entries_bytes = bytes;
			p->gpt_backup_header = le64(h + 32) * SECTOR;
		}
	}
	/* APM: driver descriptor "ER" with a block size, then "PM" entries */
	if (sys[0] == 'E' && sys[1] == 'R') {
		unsigned bs = (unsigned)sys[2] << 8 | sys[3];

		p->apm = (bs == 512 || bs == 2048) && sys[bs] == 'P' &&
			 sys[bs + 1] == 'M';
	}
}

/* ---- walking partitions ---- */

struct region {
	uint8_t *start_field, *len_field; /* where the numbers live */
	unsigned unit;
	enum { MBR_ENTRY, GPT_ENTRY, APM_ENTRY } kind;
};

typedef void (*region_fn)(const struct region *r, uint64_t start, uint64_t end,
			  void *ctx);

static unsigned apm_block_size(const uint8_t *sys)
{
	return (unsigned)sys[2] << 8 | sys[3];
}

static void each_region(uint8_t *sys, const struct aur_parts *p, region_fn fn,
			void *ctx)
{
	if (p->mbr) {
		for (int i = 0; i < 4; i++) {
			uint8_t *e = sys + MBR_TABLE + 16 * i;
			struct region r = {e + 8, e + 12, SECTOR, MBR_ENTRY};
			uint64_t s = iso_le32(e + 8), n = iso_le32(e + 12);

			if (n)
				fn(&r, s, s + n, ctx);
		}
	}
	if (p->gpt) {
		const uint8_t *h = sys + GPT_HEADER;
		uint8_t *entries = sys + le64(h + 72) * SECTOR;
		uint32_t n = iso_le32(h + 80), size = iso_le32(h + 84);

		for (uint32_t i = 0; i < n; i++) {
			uint8_t *e = entries + (size_t)i * size;
			struct region r = {e + 32, e + 40, SECTOR, GPT_ENTRY};
			uint64_t first = le64(e + 32), last = le64(e + 40);
			static const uint8_t zero[16];

			if (memcmp(e, zero, 16) != 0 && last >= first)
				fn(&r, first, last + 1, ctx);
		}
	}
	if (p->apm) {
		unsigned bs = apm_block_size(sys);
		uint32_t count = iso_be32(sys + bs + 4);

		for (uint32_t i = 1;
		     i <= count && (i + 1) * bs <= AUR_SYSTEM_AREA; i++) {
			uint8_t *e = sys + (size_t)i * bs;
			struct region r = {e + 8, e + 12, bs, APM_ENTRY};
			uint64_t s = iso_be32(e + 8), n = iso_be32(e + 12);

			if (e[0] == 'P' && e[1] == 'M' && n)
				fn(&r, s, s + n, ctx);
		}
	}
}

struct boundary_ctx {
	void (*fn)(uint64_t byte, void *ctx);
	void *ctx;
};

static void report_boundary(const struct region *r, uint64_t start,
			    uint64_t end, void *ctx)
{
	struct boundary_ctx *b = ctx;

	b->fn(start * r->unit, b->ctx);
	b->fn(end * r->unit, b->ctx);
}

void aur_parts_each_boundary(const uint8_t *sys, const struct aur_parts *p,
			     void (*fn)(uint64_t byte, void *ctx), void *ctx)
{
	struct boundary_ctx b = {fn, ctx};

	/* each_region does not write when given this callback */
	each_region((uint8_t *)sys, p, report_boundary, &b);
}

/* ---- shifting ---- */

static void put_chs(uint8_t *p, uint64_t lba)
{
	uint64_t c = lba / (MBR_HEADS * MBR_SECTORS);
	unsigned h = (unsigned)(lba / MBR_SECTORS % MBR_HEADS);
	unsigned s = (unsigned)(lba % MBR_SECTORS) + 1;

	if (c > 1023) {
		c = 1023;
		h = MBR_HEADS - 1;
		s = MBR_SECTORS;
	}
	p[0] = (uint8_t)h;
	p[1] = (uint8_t)(s | ((c >> 2) & 0xc0));
	p[2] = (uint8_t)c;
}

static void shift_region(const struct region *r, uint64_t start, uint64_t end,
			 void *ctx)
{
	const struct aur_shift *s = ctx;
	uint64_t ns = aur_shift_pos(s, start, r->unit);
	uint64_t ne = aur_shift_pos(s, end, r->unit);

	if (ns == start && ne == end)
		return;
	switch (r->kind) {
	case MBR_ENTRY:
		iso_put_le32(r->start_field, (uint32_t)AUR_MIN(ns, UINT32_MAX));
		iso_put_le32(r->len_field,
			     (uint32_t)AUR_MIN(ne - ns, UINT32_MAX - ns));
		put_chs(r->start_field - 7, ns);
		put_chs(r->start_field - 3, ne - 1);
		break;
	case GPT_ENTRY:
		put_le64(r->start_field, ns);
		put_le64(r->len_field, ne - 1);
		break;
	case APM_ENTRY:
		iso_put_be32(r->start_field, (uint32_t)ns);
		iso_put_be32(r->len_field, (uint32_t)(ne - ns));
		break;
	}
}

static void gpt_seal(uint8_t *h, const uint8_t *entries, uint32_t bytes)
{
	uint32_t size = iso_le32(h + 12);

	iso_put_le32(h + 88, aur_crc32(entries, bytes));
	memset(h + 16, 0, 4);
	iso_put_le32(h + 16, aur_crc32(h, size));
}

int aur_parts_shift(uint8_t *sys, const struct aur_parts *p,
		    const struct aur_shift *shift, uint8_t **backup,
		    size_t *backup_len, uint64_t *backup_off)
{
	*backup = NULL;
	*backup_len = 0;
	each_region(sys, p, shift_region, (void *)shift);
	if (p->gpt) {
		uint8_t *h = sys + GPT_HEADER;
		uint8_t *entries = sys + le64(h + 72) * SECTOR;
		uint64_t alt = aur_shift_pos(shift, le64(h + 32), SECTOR);
		uint64_t last = aur_shift_pos(shift, le64(h + 48) + 1, SECTOR);
		uint32_t esec = (uint32_t)AUR_DIV_ROUND_UP(p->gpt_entries_bytes,
							   SECTOR);
		uint8_t *b;

		if (alt < esec + 1)
			return -EINVAL;
		put_le64(h + 32, alt);
		put_le64(h + 48, last - 1);
		gpt_seal(h, entries, p->gpt_entries_bytes);

		/* the backup: entries, then the header in the last sector */
		*backup_len = (size_t)(esec + 1) * SECTOR;
		b = calloc(1, *backup_len);
		if (!b)
			return -ENOMEM;
		memcpy(b, entries, p->gpt_entries_bytes);
		memcpy(b + (size_t)esec * SECTOR, h, SECTOR);
		h = b + (size_t)esec * SECTOR;
		put_le64(h + 24, alt); /* this header */
		put_le64(h + 32, 1); /* the other one */
		put_le64(h + 72, alt - esec); /* its entries */
		gpt_seal(h, b, p->gpt_entries_bytes);
		*backup = b;
		*backup_off = (alt - esec) * SECTOR;
	}
	return 0;
}
