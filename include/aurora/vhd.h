/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vhd.h - the disk geometry of a fixed VHD. The VHD specification derives
 * cylinders, heads and sectors per track from the disk's size; readers
 * like Virtual PC and QEMU take the disk's size from that geometry, which
 * is smaller than the real size unless the size is a whole number of
 * cylinders. aurorafs sizes the disks it makes VHDs of so that both
 * readings agree.
 */
#ifndef AURORA_VHD_H
#define AURORA_VHD_H

#include <stdint.h>

/* cylinders << 16 | heads << 8 | sectors per track, for @bytes. */
uint32_t aur_vhd_geometry(uint64_t bytes);

/* The bytes that geometry @g addresses. */
uint64_t aur_vhd_geometry_bytes(uint32_t g);

/* The smallest whole number of MiB, at least @mib, whose geometry
 * addresses exactly that many bytes (or @mib itself for a disk beyond the
 * largest geometry, which every reader takes at its stated size). */
uint64_t aur_vhd_exact_mib(uint64_t mib);

#endif
