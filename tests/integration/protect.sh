#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Protected guest memory, the actions on a violation, and the heartbeat
# watchdog (docs/protect.md), with the protect guest (tests/guests/protect.c).
. "$(dirname "$0")/../lib.sh"

CASES="cpl3-write-to-protected-page-blocked cpl0-write-to-protected-page-blocked protected-neighbour-in-same-2mib-writable
       kernel-text-region-write-blocked kernel-rodata-region-write-blocked
       region-without-segment-fails-start dma-into-protected-page-refused
       runtime-lock-then-write-blocked runtime-lock-65th-range-refused
       runtime-lock-while-other-vcpus-run locks-overlapping-adjacent-and-above-4g
       check-refuses-65-ranges check-refuses-region-on-bzimage check-refuses-unaligned-range
       check-refuses-range-outside-ram violation-reports-rate-limited
       on-violation-log-performs-write on-violation-stop on-violation-restart
       on-violation-pause-and-status-counts on-violation-isolate
       watchdog-missed-heartbeat-stops watchdog-event-only-keeps-running
       watchdog-catches-cli-spin-at-cpl0 watchdog-ignores-time-paused"
skip_all_without_kvm $CASES
L=$LVMM
G=$PWD/$GUESTS/protect.elf
sock=$TMP/ctl.sock
BG=""

cleanup() {
	local p
	for p in $BG; do sigpid KILL "$p" 2>/dev/null; done
	cleanup_tmp
}
trap cleanup EXIT

# plat NAME CMDLINE EXTRA-YAML: write $TMP/NAME.yaml, one partition "g" running the guest.
plat() {
	cat >"$TMP/$1.yaml" <<EOF
events: $1.jsonl
partitions:
  - name: g
    memory: 64M
    kernel: $G
    cmdline: "$2"
$3
EOF
}
# ev NAME: the run's event log.
ev() { cat "$TMP/$1.jsonl" 2>/dev/null; }
wait_gone() { for _ in $(seq "$2"); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; ! kill -0 "$1" 2>/dev/null; }

# ---- blocking, neighbours, regions, DMA ------------------------------------------

plat w "write=0x800000 write0=0x803000 neighbour=0x801000 text=1 rodata=1" "    protect:
      - { start: 0x800000, size: 4K }
      - { start: 0x803000, size: 4K }
      - { region: kernel_text }
      - { region: kernel_rodata }"
run_lvmm 20 "$TMP/w.out" run "$TMP/w.yaml"
n=cpl3-write-to-protected-page-blocked
if [ $rc -eq 0 ] && contains "$TMP/w.out" "protect: write 0x800000: before 0x0 after 0x0 unchanged" &&
   ev w | grep '"event":"integrity_violation"' | grep '"gpa":"0x800000"' | grep '"len":8' |
	grep '"bytes":"1122334455667788"' | grep '"action":"block"' | grep -q '"rip":"0x10[0-9a-f]*","cr3":"0x[0-9a-f]*"'; then
	pass $n
else fail $n "write not blocked or event wrong (rc $rc)"; show "$TMP/w.out"; fi
n=cpl0-write-to-protected-page-blocked
if contains "$TMP/w.out" "protect: write0 0x803000: before 0x0 after 0x0 unchanged" &&
   ev w | grep '"event":"integrity_violation"' | grep '"gpa":"0x803000"' | grep -q '"bytes":"1122334455667788"'; then
	pass $n
else fail $n "a CPL0 write was not blocked and reported"; show "$TMP/w.out"; fi
n=protected-neighbour-in-same-2mib-writable
expect $n "the next page (same 2 MiB) did not take the write" \
	contains "$TMP/w.out" "protect: write 0x801000: before 0x0 after 0x8877665544332211 changed"
n=kernel-text-region-write-blocked
t=$(grep -o 'protect: text at 0x[0-9a-f]*' "$TMP/w.out" | grep -o '0x[0-9a-f]*$')
if [ -n "$t" ] && grep -q "protect: write $t: .* unchanged" "$TMP/w.out" &&
   ev w | grep '"event":"integrity_violation"' | grep -q "\"gpa\":\"$t\""; then
	pass $n
else fail $n "a write into the guest's own text was not blocked"; show "$TMP/w.out"; fi

n=kernel-rodata-region-write-blocked
t=$(grep -o 'protect: rodata at 0x[0-9a-f]*' "$TMP/w.out" | grep -o '0x[0-9a-f]*$')
if [ -n "$t" ] && grep -q "protect: write $t: before 0x6c766d6d726f6461 after 0x6c766d6d726f6461 unchanged" "$TMP/w.out" &&
   ev w | grep '"event":"integrity_violation"' | grep -q "\"gpa\":\"$t\""; then
	pass $n
else fail $n "a write into the guest's read-only data was not blocked"; show "$TMP/w.out"; fi
printf 'events: nr.jsonl\npartitions:\n  - name: g\n    kernel: %s\n    protect: [ { region: kernel_rodata } ]\n' \
	"$PWD/$GUESTS/hello.elf" >"$TMP/nr.yaml"
run_lvmm 20 "$TMP/nr.out" run "$TMP/nr.yaml"
n=region-without-segment-fails-start
if [ $rc -ne 0 ] && ev nr | grep '"event":"partition_exit"' | grep '"reason":"setup-failed"' |
	grep -q 'protect: region kernel_rodata: the kernel has no read-only non-executable segment'; then
	pass $n
else fail $n "a region the kernel lacks did not fail the start with its reason (rc $rc)"; show "$TMP/nr.out"; fi

head -c 8192 /dev/zero | tr '\0' '\253' >"$TMP/d.img"
plat dma "dma=0x800000" "    protect: [ { start: 0x800000, size: 4K } ]
    devices: [ { type: blk, path: d.img } ]"
run_lvmm 30 "$TMP/dma.out" run "$TMP/dma.yaml"
n=dma-into-protected-page-refused
if contains "$TMP/dma.out" "protect: dma read into 0x800000: status" &&
   contains "$TMP/dma.out" "unchanged" &&
   ev dma | grep '"event":"dma_fault"' | grep '"gpa":"0x800000"' | grep '"dir":"write"' |
	grep -q '"reason":"protected"'; then
	pass $n
else fail $n "DMA into a protected page was not refused as a protection fault"; show "$TMP/dma.out"; fi

# ---- run-time locks and the limit ----------------------------------------------------

plat lk "lock=0x900000 write=0x900000 neighbour=0x901000 locks=70@0x2000000" ""
run_lvmm 30 "$TMP/lk.out" run "$TMP/lk.yaml"
n=runtime-lock-then-write-blocked
if contains "$TMP/lk.out" "protect: lock 0x900000+0x1000: status 0" &&
   contains "$TMP/lk.out" "protect: write 0x900000: before 0x0 after 0x0 unchanged" &&
   contains "$TMP/lk.out" "protect: write 0x901000: before 0x0 after 0x8877665544332211 changed" &&
   ev lk | grep '"event":"protect_lock"' | grep -q '"gpa":"0x900000"' &&
   ev lk | grep '"event":"integrity_violation"' | grep -q '"gpa":"0x900000"'; then
	pass $n
else fail $n "a locked page took the write"; show "$TMP/lk.out"; fi
n=runtime-lock-65th-range-refused
# 1 lock + 63 of the 70: the 64th of the loop is the 65th range.
if contains "$TMP/lk.out" "protect: lock 64 at 0x207e000: status 2" &&
   contains "$TMP/lk.out" "protect: 63 of 70 locks ok, last status 2" &&
   ev lk | grep '"event":"protect_lock_refused"' | grep -q '"gpa":"0x207e000"'; then
	pass $n
else fail $n "the 65th range was not refused with status 2 and an event"; show "$TMP/lk.out"; fi

cat >"$TMP/smp.yaml" <<EOF
events: smp.jsonl
partitions:
  - name: g
    memory: 64M
    vcpus: 3
    kernel: $G
    cmdline: "aps=1 lock=0x900000 write=0x900000 locks=20@0x2000000"
EOF
run_lvmm 30 "$TMP/smp.out" run "$TMP/smp.yaml"
n=runtime-lock-while-other-vcpus-run
if [ $rc -eq 0 ] && contains "$TMP/smp.out" "protect: 2 APs storing" &&
   contains "$TMP/smp.out" "protect: 20 of 20 locks ok, last status 0" &&
   contains "$TMP/smp.out" "protect: APs still storing after the locks" &&
   contains "$TMP/smp.out" "protect: write 0x900000: before 0x0 after 0x0 unchanged"; then
	pass $n
else fail $n "locks with running APs failed or stopped them (rc $rc)"; show "$TMP/smp.out"; fi

# Overlapping and adjacent locks merge; RAM above 4 GiB; a lock across the MMIO hole is refused.
plat hi "map_high=1 lock=0x900000,0x2000 lock=0x901000,0x2000 lock=0x900000,0x3000 lock=0x8ff000,0x1000 write=0x8ff000 write=0x902000 write=0x903000 write=0x100000000 write=0x100001000 lock=0xbffff000,0x2000" \
	"    protect: [ { start: 0x100000000, size: 4K } ]"
sed -i 's/memory: 64M/memory: 3200M/' "$TMP/hi.yaml"
run_lvmm 30 "$TMP/hi.out" run "$TMP/hi.yaml"
n=locks-overlapping-adjacent-and-above-4g
if [ $rc -eq 0 ] && contains "$TMP/hi.out" "protect: lock 0x900000+0x3000: status 0" &&
   contains "$TMP/hi.out" "protect: write 0x8ff000: before 0x0 after 0x0 unchanged" &&
   contains "$TMP/hi.out" "protect: write 0x902000: before 0x0 after 0x0 unchanged" &&
   contains "$TMP/hi.out" "protect: write 0x903000: before 0x0 after 0x8877665544332211 changed" &&
   contains "$TMP/hi.out" "protect: write 0x100000000: before 0x0 after 0x0 unchanged" &&
   contains "$TMP/hi.out" "protect: write 0x100001000: before 0x0 after 0x8877665544332211 changed" &&
   contains "$TMP/hi.out" "protect: lock 0xbffff000+0x2000: status 1" &&
   ev hi | grep '"event":"integrity_violation"' | grep -q '"gpa":"0x100000000"'; then
	pass $n
else fail $n "merged/high-RAM protection wrong (rc $rc)"; show "$TMP/hi.out"; fi

# ---- lvmm check ----------------------------------------------------------------------

{ echo "partitions:"; echo "  - name: g"; echo "    kernel: $G"; echo "    protect:"
  for i in $(seq 0 64); do printf '      - { start: 0x%x, size: 4K }\n' $((0x800000 + i * 8192)); done; } >"$TMP/c65.yaml"
"$L" check "$TMP/c65.yaml" >"$TMP/c65.out" 2>&1; rc=$?
expect check-refuses-65-ranges "65 ranges passed the check" \
	bash -c "[ $rc -ne 0 ] && grep -q 'protect lists 65 ranges; a partition has at most 64' '$TMP/c65.out'"
printf 'partitions:\n  - name: bz\n    kernel: %s\n    protect: [ { region: kernel_text } ]\n' \
	"$PWD/$GUESTS/hello.bzimage" >"$TMP/bz.yaml"
"$L" check "$TMP/bz.yaml" >"$TMP/bz.out" 2>&1; rc=$?
expect check-refuses-region-on-bzimage "a region on a bzImage passed the check" \
	bash -c "[ $rc -ne 0 ] && grep -q \"partition 'bz': protect region kernel_text/kernel_rodata needs an ELF kernel\" '$TMP/bz.out'"
printf 'partitions:\n  - name: g\n    kernel: %s\n    protect: [ { start: 0x800100, size: 4K } ]\n' "$G" >"$TMP/ua.yaml"
"$L" check "$TMP/ua.yaml" >"$TMP/ua.out" 2>&1; rc=$?
expect check-refuses-unaligned-range "an unaligned range passed the check" \
	bash -c "[ $rc -ne 0 ] && grep -q 'is not page-aligned' '$TMP/ua.out'"
printf 'partitions:\n  - name: g\n    memory: 64M\n    kernel: %s\n    protect: [ { start: 0x4000000, size: 4K } ]\n' "$G" >"$TMP/or.yaml"
"$L" check "$TMP/or.yaml" >"$TMP/or.out" 2>&1; rc=$?
expect check-refuses-range-outside-ram "a range beyond RAM passed the check" \
	bash -c "[ $rc -ne 0 ] && grep -q \"is not inside partition 'g''s RAM\" '$TMP/or.out'"

# ---- rate limit ----------------------------------------------------------------------

plat rl "write=0x800000 repeat=40" "    protect: [ { start: 0x800000, size: 4K } ]"
run_lvmm 20 "$TMP/rl.out" run "$TMP/rl.yaml"
n=violation-reports-rate-limited
k=$(ev rl | grep -c '"event":"integrity_violation"')
if [ "$(grep -c 'after 0x0 unchanged' "$TMP/rl.out")" -eq 40 ] && [ "$k" -ge 1 ] && [ "$k" -le 7 ] &&
   ev rl | grep '"event":"partition_summary"' | grep -q '"integrity_violations":40'; then
	pass $n
else fail $n "$k reports for 40 violations, or the summary does not count 40"; show "$TMP/rl.out"; fi

# ---- actions ---------------------------------------------------------------------------

plat log "write=0x800000" "    protect: [ { start: 0x800000, size: 4K } ]
    on_violation: log"
run_lvmm 20 "$TMP/log.out" run "$TMP/log.yaml"
n=on-violation-log-performs-write
if contains "$TMP/log.out" "protect: write 0x800000: before 0x0 after 0x8877665544332211 changed" &&
   ev log | grep '"event":"integrity_violation"' | grep -q '"action":"log"'; then
	pass $n
else fail $n "with on_violation: log the write was not performed and reported"; show "$TMP/log.out"; fi

plat st "write=0x800000 hold_ms=20000" "    protect: [ { start: 0x800000, size: 4K } ]
    on_violation: stop"
run_lvmm 30 "$TMP/st.out" run "$TMP/st.yaml"
n=on-violation-stop
if [ $rc -eq 0 ] && ev st | grep '"event":"partition_stop"' | grep -q '"by":"integrity_violation"' &&
   ev st | grep '"event":"partition_exit"' | grep -q '"reason":"stopped"' &&
   ! contains "$TMP/st.out" "protect: alive 50"; then
	pass $n
else fail $n "the partition was not stopped by the violation (rc $rc)"; show "$TMP/st.out"; fi

plat rs "write=0x800000 hold_ms=20000" "    protect: [ { start: 0x800000, size: 4K } ]
    on_violation: restart
    restart_limit: 1"
run_lvmm 30 "$TMP/rs.out" run "$TMP/rs.yaml"
n=on-violation-restart
if [ "$(grep -c 'protect: writing 0x800000' "$TMP/rs.out")" -eq 2 ] &&
   ev rs | grep '"event":"partition_start"' | grep -q '"restart":1' &&
   ev rs | grep -q '"event":"restart_limit"' &&
   ev rs | grep '"event":"partition_stop"' | grep -q '"by":"integrity_violation"'; then
	pass $n
else fail $n "no restart (the restarted guest's console) then a stop at the limit"; show "$TMP/rs.out"; fi

plat pa "write=0x800000 hold_ms=20000" "    protect: [ { start: 0x800000, size: 4K } ]
    on_violation: pause"
sed -i "1i control: ./ctl.sock" "$TMP/pa.yaml"
"$L" run "$TMP/pa.yaml" </dev/null >"$TMP/pa.out" 2>&1 &
sup=$!; BG="$BG $sup"
n=on-violation-pause-and-status-counts
if wait_sock "$sock" && wait_grep "$TMP/pa.jsonl" '"event":"partition_paused"' 100; then
	sleep 0.3
	"$L" ctl --json "$sock" status g >"$TMP/pa.st" 2>&1
	a1=$(grep -c 'protect: alive' "$TMP/pa.out"); sleep 0.5; a2=$(grep -c 'protect: alive' "$TMP/pa.out")
	if grep -q '"state":"paused"' "$TMP/pa.st" && grep -q '"integrity_violations":1' "$TMP/pa.st" &&
	   grep -q '"protected_ranges":1' "$TMP/pa.st" && [ "$a1" -eq "$a2" ]; then
		pass $n
	else fail $n "not paused, or status does not count the violation: $(cat "$TMP/pa.st")"; fi
else fail $n "no partition_paused event"; show "$TMP/pa.out"; fi
sigpid TERM $sup; wait_gone $sup 50; wait $sup 2>/dev/null

cat >"$TMP/is.yaml" <<EOF
events: is.jsonl
partitions:
  - name: g
    memory: 64M
    kernel: $G
    cmdline: "write=0x800000 hold_ms=1500"
    protect: [ { start: 0x800000, size: 4K } ]
    on_violation: isolate
    devices: [ { type: net, link: up } ]
  - name: peer
    memory: 32M
    kernel: $G
    cmdline: "hold_ms=1500"
    devices: [ { type: net, link: up } ]
links:
  - { name: up, ends: [g, peer] }
EOF
run_lvmm 30 "$TMP/is.out" run "$TMP/is.yaml"
n=on-violation-isolate
if ev is | grep '"event":"link_down"' | grep '"link":"up"' | grep -q '"by":"integrity_violation"' &&
   ev is | grep '"event":"link_state"' | grep '"partition":"g"' | grep -q '"state":"down"' &&
   ev is | grep '"event":"link_state"' | grep '"partition":"peer"' | grep -q '"state":"down"' &&
   contains "$TMP/is.out" "protect: done"; then
	pass $n
else fail $n "the link did not go down at both ends, or the guest did not go on"; show "$TMP/is.out"; fi

# ---- watchdog ------------------------------------------------------------------------

plat wd "pet_ms=50 pets=6 hold_ms=20000" "    watchdog: { timeout_ms: 300, action: stop }"
run_lvmm 30 "$TMP/wd.out" run "$TMP/wd.yaml"
n=watchdog-missed-heartbeat-stops
if contains "$TMP/wd.out" "protect: stopped petting" &&
   ev wd | grep '"event":"watchdog_expired"' | grep '"timeout_ms":300' | grep -q '"action":"stop"' &&
   ev wd | grep '"event":"partition_stop"' | grep -q '"by":"watchdog"' &&
   [ "$(ev wd | grep -c '"event":"watchdog_expired"')" -eq 1 ]; then
	pass $n
else fail $n "a missed heartbeat did not stop the partition"; show "$TMP/wd.out"; fi

plat we "pet_ms=50 pets=6 hold_ms=1500" "    watchdog: { timeout_ms: 300, action: event }"
run_lvmm 30 "$TMP/we.out" run "$TMP/we.yaml"
n=watchdog-event-only-keeps-running
if [ $rc -eq 0 ] && contains "$TMP/we.out" "protect: done" &&
   [ "$(ev we | grep -c '"event":"watchdog_expired"')" -eq 1 ] &&
   ev we | grep '"event":"watchdog_expired"' | grep -q '"action":"event"'; then
	pass $n
else fail $n "action event: not exactly one event, or the guest did not finish (rc $rc)"; show "$TMP/we.out"; fi

plat sp "pet_ms=50 pets=4 spin=1" "    watchdog: { timeout_ms: 300, action: restart }
    restart_limit: 1"
run_lvmm 30 "$TMP/sp.out" run "$TMP/sp.yaml"
n=watchdog-catches-cli-spin-at-cpl0
if [ "$(grep -c 'protect: spinning at CPL0 with interrupts off' "$TMP/sp.out")" -eq 2 ] &&
   [ "$(ev sp | grep -c '"event":"watchdog_expired"')" -eq 2 ] &&
   ev sp | grep '"event":"partition_start"' | grep -q '"restart":1' &&
   ev sp | grep -q '"event":"restart_limit"'; then
	pass $n
else fail $n "a vCPU spinning with interrupts off was not caught (restart, then the limit)"; show "$TMP/sp.out"; fi

plat wp "pet_ms=50 pets=60" "    watchdog: { timeout_ms: 300, action: stop }"
sed -i "1i control: ./ctl.sock" "$TMP/wp.yaml"
rm -f "$sock"
"$L" run "$TMP/wp.yaml" </dev/null >"$TMP/wp.out" 2>&1 &
sup=$!; BG="$BG $sup"
n=watchdog-ignores-time-paused
if wait_sock "$sock" && wait_grep "$TMP/wp.out" "protect: watchdog timeout 300 ms" 50 &&
   "$L" ctl --json "$sock" pause g >/dev/null && sleep 1 &&
   "$L" ctl --json "$sock" resume g >/dev/null && wait_grep "$TMP/wp.out" "protect: done" 100; then
	if ! ev wp | grep -q '"event":"watchdog_expired"' && ev wp | grep -q '"event":"partition_paused"'; then
		pass $n
	else fail $n "1 s paused counted against a 300 ms watchdog"; show "$TMP/wp.out"; fi
else fail $n "pause/resume or the guest did not finish"; show "$TMP/wp.out"; fi
wait_gone $sup 50; sigpid KILL $sup 2>/dev/null; wait $sup 2>/dev/null
