/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * eltorito.h - the El Torito boot catalog: where it is, and moving the
 * boot images it points to when blocks are inserted into the image (the
 * EFI image of an AuroraBoot ISO is an appended partition that moves).
 */
#ifndef AURORA_ELTORITO_H
#define AURORA_ELTORITO_H

#include <stdint.h>

struct aur_shift;

/* The catalog block named by a boot record volume descriptor @vd, or 0
 * if @vd is not an El Torito boot record. */
uint32_t aur_eltorito_catalog(const uint8_t *vd);

/* Shift the load block (RBA) of every boot entry of the 2048-byte catalog
 * block @cat. Returns the number of entries changed, or -EINVAL if @cat is
 * not a valid catalog. */
int aur_eltorito_shift(uint8_t *cat, const struct aur_shift *shift);

#endif
