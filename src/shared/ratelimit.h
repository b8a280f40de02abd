/* SPDX-License-Identifier: MIT */
/*
 * Rate-limited logging of what a guest can trigger, in the partition
 * process and the API front-end. Not part of the trusted core
 * (scripts/loc.sh): the supervisor logs nothing a guest can repeat at will.
 */
#ifndef LVMM_SHARED_RATELIMIT_H
#define LVMM_SHARED_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/log.h"

/*
 * A token bucket for log lines: at most RL_BURST lines, refilled at one
 * line per RL_INTERVAL_MS. Suppressed lines are counted and reported with
 * the next line that passes. Not thread-safe: give each thread/device its own.
 */
struct ratelimit {
	uint64_t last_ns;
	uint32_t tokens;
	uint32_t suppressed;
	bool init;
};
#define RL_BURST       5
#define RL_INTERVAL_MS 1000

/* Return true if a line may be printed now; counts suppressed lines otherwise. */
bool ratelimit_allow(struct ratelimit *rl);

#define pr_warn_rl(rl, fmt, ...)                                                   \
	do {                                                                       \
		if (log_level >= LOG_WARN && ratelimit_allow(rl)) {                \
			if ((rl)->suppressed)                                      \
				log_msg(LOG_WARN, fmt " (%u similar suppressed)",  \
					##__VA_ARGS__, (rl)->suppressed);          \
			else                                                       \
				log_msg(LOG_WARN, fmt, ##__VA_ARGS__);             \
			(rl)->suppressed = 0;                                      \
		}                                                                  \
	} while (0)

#endif
