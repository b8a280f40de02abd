#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Access-control decisions (no peer VMM has a MAC policy: the goal is absolute,
# a cached decision in <= 100 ns).
. "$(dirname "$0")/lib.sh"
L=()
for ((r = 0; r < RUNS; r++)); do L+=("$("$T/acmbench" | grep '^acm: ste_cached')"); done
col() { local k=$1; shift; local x; for x in "$@"; do kv "$k" "$x"; done; }
header
record acm "cached STE decision (ns)" "$(col ste_cached_ns "${L[@]}")" "" "lvmm<=100"
record acm "uncached STE decision (ns)" "$(col ste_uncached_ns "${L[@]}")" "" none
record acm "Chinese Wall start+stop (ns)" "$(col cw_cycle_ns "${L[@]}")" "" none
