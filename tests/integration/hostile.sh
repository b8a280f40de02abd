#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The hostile-guest suite: a guest that breaks the virtio rules on purpose
# (tests/guests/hostile.c). Each case must be refused (REJECT) or handled
# harmlessly (PASS); WEDGED or FAIL is a lvmm bug. On the host side: the
# supervisor keeps answering, the partition's own memory does not grow, and
# DMA faults are logged and reported with rate limiting.
. "$(dirname "$0")/../lib.sh"
CASES="loop oversize-chain next-out-of-range outside-ram mmio-hole wrap huge-len zero-len
       readonly-write bad-indirect avail-jump bad-queue-notify queue-regs-after-ready flood
       features-after-ok dma-fault-count"
HOST="hostile-supervisor-responsive hostile-memory-bounded hostile-faults-rate-limited hostile-guest-completes"
names=""; for c in $CASES; do names="$names hostile-$c"; done
skip_all_without_kvm $names $HOST

sock=$TMP/ctl.sock
img=$TMP/h.img
truncate -s 1M "$img"
out=$TMP/out
"$LVMM" run --no-stdin --kernel "$GUESTS/hostile.elf" --disk "$img" --cmdline case=all \
	--control "$sock" --events "$TMP/ev.jsonl" </dev/null >"$out" 2>&1 &
sup=$!
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
# Private memory (not guest RAM: that is shmem) of the partition process, in KiB.
priv() { awk '/^VmRSS/{r=$2} /^RssShmem/{s=$2} END{print r-s}' /proc/$1/status 2>/dev/null; }
pid=$("$LVMM" ctl --json "$sock" list 2>/dev/null | grep -o '"pid":[0-9]*' | head -1 | cut -d: -f2)
rss0=$(priv "$pid"); rss_max=${rss0:-0}; answered=0; asked=0
while kill -0 $sup 2>/dev/null; do
	asked=$((asked + 1))
	timeout 5 "$LVMM" ctl --json "$sock" list >/dev/null 2>&1 && answered=$((answered + 1))
	r=$(priv "$pid"); [ -n "$r" ] && [ "$r" -gt "$rss_max" ] && rss_max=$r
	sleep 0.2
done
wait $sup; rc=$?

for c in $CASES; do
	line=$(grep -E "^hostile: $c: " "$out")
	case "$line" in
	*": REJECT"*|*": PASS"*) pass "hostile-$c" ;;
	"") fail "hostile-$c" "no verdict line" ;;
	*) fail "hostile-$c" "${line#hostile: }" ;;
	esac
done
if [ $rc -eq 0 ] && contains "$out" "hostile: done"; then pass hostile-guest-completes
else show "$out"; fail hostile-guest-completes "rc=$rc: the partition did not survive its own guest"; fi
# All but the last poll (which may race the exit) must have been answered.
if [ "$asked" -ge 2 ] && [ "$answered" -ge $((asked - 1)) ]; then pass hostile-supervisor-responsive
else fail hostile-supervisor-responsive "answered $answered of $asked control requests"; fi
if [ -n "$rss0" ] && [ $((rss_max - rss0)) -lt 2048 ]; then pass hostile-memory-bounded
else fail hostile-memory-bounded "private RSS grew from ${rss0:-?} to $rss_max KiB"; fi
faults=$(grep -c "DMA fault" "$out")
events=$(grep -c '"event":"dma_fault"' "$TMP/ev.jsonl")
if [ "$faults" -ge 1 ] && [ "$faults" -le 12 ] && [ "$events" -ge 1 ] && [ "$events" -le 12 ]; then
	pass hostile-faults-rate-limited
else fail hostile-faults-rate-limited "$faults DMA-fault log lines and $events events for ~40 refused accesses"; fi
