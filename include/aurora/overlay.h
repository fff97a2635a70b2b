/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * overlay.h - iso.overlay_iso: the entries of a local directory as
 * additions to an ISO (isoedit.h), for the custom ISO and the live ISO.
 * Files are snapshotted privately into the state_dir when loaded; links
 * are recorded as links, never followed; sockets, devices and FIFOs are
 * skipped.
 */
#ifndef AURORA_OVERLAY_H
#define AURORA_OVERLAY_H

#include <stddef.h>
#include <time.h>

struct aur_iso_addition;
struct aur_overlay;

/* Load @dir. Logs what is wrong; 0 or -errno. */
int aur_overlay_load(const char *state_dir, const char *dir,
		     struct aur_overlay **out);

/* Entries in @o (0 for NULL). */
size_t aur_overlay_count(const struct aur_overlay *o);

/* Fill @adds[0 .. count) with @o's entries, in name order (they borrow
 * from @o); returns the newest entry's time. */
time_t aur_overlay_additions(const struct aur_overlay *o,
			     struct aur_iso_addition *adds);

/* NULL-safe. */
void aur_overlay_free(struct aur_overlay *o);

#endif
