/* SPDX-License-Identifier: MIT */
/*
 * Parsing of numbers and names given on the command line, in the platform
 * file and in HTTP requests. Not part of the trusted core (scripts/loc.sh):
 * the supervisor's code (src/supervisor) never calls these; the CLI, the
 * platform file's loader and the API front-end do.
 */
#ifndef LVMM_SHARED_PARSE_H
#define LVMM_SHARED_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

/*
 * Parse a size such as "64M", "1G", "4096", "512K" (suffix K/M/G/T, optional
 * "iB"/"B"); a bare number is taken in units of default_unit. Returns 0 or -EINVAL / -ERANGE.
 */
int parse_size(const char *s, uint64_t default_unit, uint64_t *out) MUST_CHECK;

/*
 * Parse an unsigned integer that must fit in max: decimal (leading zeros do
 * not mean octal: "010" is 10) or hexadecimal with a 0x prefix; no sign,
 * space or suffix. 0 or -EINVAL / -ERANGE.
 */
int parse_u64(const char *s, uint64_t max, uint64_t *out) MUST_CHECK;

/*
 * The control socket for name: a name with a '/' is a path as it is; a bare
 * NAME is LVMM_RUN_DIR/NAME.sock, or $XDG_RUNTIME_DIR/lvmm/NAME.sock when
 * not root and that is set. 0 or -ENAMETOOLONG.
 */
int ctl_socket_path(const char *name, char *out, size_t n) MUST_CHECK;

/*
 * Tuning knobs in lvmm's environment (LVMM_BLK_*, LVMM_IO_*, ...: for
 * benchmarks, docs/testing.md). Unset or empty, a knob says nothing; a value
 * it does not take is named in a warning and ignored, so that a misspelt
 * knob does not silently measure the default.
 *   knob_choice: the index of var's value in names[0..n), or -1.
 *   knob_u64:    true with *out set when var is a number up to max (parse_u64).
 */
int knob_choice(const char *var, const char *const *names, unsigned n);
bool knob_u64(const char *var, uint64_t max, uint64_t *out);

#endif
