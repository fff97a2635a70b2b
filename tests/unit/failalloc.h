/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * failalloc.h - allocation failures on demand, for the unit tests that are
 * linked with -Wl,--wrap for malloc, calloc, realloc, strdup, strndup and
 * vasprintf (see meson.build). Only calls made from the objects of the test
 * executable are wrapped (the core library, the test itself), not those
 * made inside shared libraries such as libyaml or libcurl.
 */
#ifndef AURORAFS_FAILALLOC_H
#define AURORAFS_FAILALLOC_H

#include <stdbool.h>

/* Make the @n-th wrapped allocation from now on fail (1-based). */
void failalloc_arm(unsigned long n);

/* Let every allocation succeed again (failalloc_fired() still answers). */
void failalloc_disarm(void);

/* true if the failure armed last has happened */
bool failalloc_fired(void);

#endif
