/* SPDX-License-Identifier: MIT */
/* Logging: levels checked before formatting, rate limiting for anything a guest can trigger. */
#ifndef LVMM_LOG_H
#define LVMM_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_ERR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

extern int log_level;

/* Set the prefix printed before every message (e.g. "lvmm[user]"); the string is copied. */
void log_set_prefix(const char *prefix);

/* Print one message to stderr if level <= log_level. */
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_err(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define pr_warn(...)  do { if (log_level >= LOG_WARN) log_msg(LOG_WARN, __VA_ARGS__); } while (0)
#define pr_info(...)  do { if (log_level >= LOG_INFO) log_msg(LOG_INFO, __VA_ARGS__); } while (0)
#define pr_debug(...) do { if (log_level >= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

/* Monotonic clock in nanoseconds. */
uint64_t now_ns(void);

#endif
