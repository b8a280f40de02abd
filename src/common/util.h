/* SPDX-License-Identifier: MIT */
/* Small helpers shared by every lvmm process. */
#ifndef LVMM_UTIL_H
#define LVMM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define MUST_CHECK __attribute__((warn_unused_result))

#define LVMM_VERSION "0.1.0"

#define KiB ((uint64_t)1024)
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)
#define MS 1000000ULL /* nanoseconds (now_ns()) in a millisecond */

/* write() the whole buffer, retrying on EINTR and short transfers. 0 or -errno. */
int write_full(int fd, const void *buf, size_t len) MUST_CHECK;

/* Close *fd unless it is already closed (< 0), and mark it closed (-1). */
void close_fd(int *fd);

/*
 * mkdir path (mode 0700) unless it exists; then it must be a real directory
 * of ours with none of the mode bits in closed (022: no one else may write
 * in it; 077: no one else may even look). 0, -EPERM or -errno.
 */
int own_dir(const char *path, unsigned closed) MUST_CHECK;

/*
 * Remove the socket file at path only if it is still the one we bound
 * (dev, ino; ino 0: none): another run may have replaced it since.
 */
void unlink_ours(const char *path, dev_t dev, ino_t ino);

/* Where control sockets given by name live (docs/api.md): root's runs. */
#define LVMM_RUN_DIR "/run/lvmm"

/*
 * Where a platform's console sockets live (docs/cli.md, "lvmm console"):
 * next to its control socket CTL, in the directory CTL without a trailing
 * ".sock", plus ".console" (run/lvmm.sock -> run/lvmm.console/); the
 * socket of partition PART is that directory's entry PART. part NULL: the
 * directory. 0, or -ENAMETOOLONG when it does not fit n bytes or a
 * socket address (107 bytes).
 */
int console_path(const char *ctl, const char *part, char *out, size_t n) MUST_CHECK;

#endif
