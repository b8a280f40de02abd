#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `lvmm top` (docs/cli.md): the live table of a platform's partitions, in batch
# mode (-b: text frames, what scripts read) and interactive (ncurses, under a pty).
. "$(dirname "$0")/../lib.sh"

CASES="top-batch-columns-and-changing-counters top-paused-stopped-and-restarts top-stale-partition-marked
       top-interactive-quits-on-q top-refusals"
skip_all_without_kvm $CASES
L=$LVMM
sock=$TMP/ctl.sock
out=$TMP/out
HEADER="NAME             STATE       VCPU   CPU%  MEM_MIB  RSS_MIB       EXITS  EXITS/S  IO_KIB/S   PKTS/S  RESTARTS  FAULTS"

truncate -s 4M "$TMP/disk.img"
cat >"$TMP/p.yaml" <<YAML
control: $sock
partitions:
  - name: t
    kernel: $PWD/$GUESTS/ticker.elf
    cmdline: "tick_ms=20"
    memory: 16M
    console: none
  - name: a
    kernel: $PWD/$GUESTS/net.elf
    cmdline: "ip=10.0.7.1 peer=10.0.7.2 net_ping_count=4000 net_ping_interval_ms=10 net_quiet=1"
    memory: 32M
    console: none
    devices: [ { type: net, link: l0 } ]
  - name: b
    kernel: $PWD/$GUESTS/net.elf
    cmdline: "ip=10.0.7.2 net_quiet=1"
    memory: 32M
    console: none
    devices: [ { type: net, link: l0 } ]
  - name: d
    kernel: $PWD/$GUESTS/blk.elf
    cmdline: "blk_log=1 log_interval_ms=5"
    memory: 16M
    console: none
    devices: [ { type: blk, path: $TMP/disk.img } ]
  - name: crashy
    kernel: $PWD/$GUESTS/fault.elf
    memory: 16M
    console: none
    restart: always
    restart_limit: 1000
    restart_delay_ms: 100
  - name: s
    kernel: $PWD/$GUESTS/hello.elf
    memory: 16M
    autostart: false
links:
  - { name: l0, ends: [a, b] }
YAML
timeout 120 "$L" run "$TMP/p.yaml" </dev/null >"$out" 2>&1 &
sup=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
sleep 1

# Three frames half a second apart: every column, every partition, counters that move.
"$L" top "$sock" -b -n 3 -d 0.5 >"$TMP/top" 2>"$TMP/top.err"; rc=$?
# col FRAME NAME N: column N of NAME's row in frame FRAME (1-based).
col() { awk -v f="$1" -v n="$2" -v c="$3" '/^lvmm top - /{k++} k==f && $1==n {print $c}' "$TMP/top"; }
frames=$(grep -c '^lvmm top - [0-9:]*  6 partitions: [0-9]* running, [0-9]* paused, [0-9]* other$' "$TMP/top")
heads=$(grep -cxF "$HEADER" "$TMP/top")
e1=$(col 1 t 7); e3=$(col 3 t 7)
ok=1
[ $rc -eq 0 ] && [ "$frames" -eq 3 ] && [ "$heads" -eq 3 ] || ok=0
for p in t a b d crashy s; do [ "$(awk -v n=$p '$1==n' "$TMP/top" | wc -l)" -eq 3 ] || ok=0; done
[ -n "$e1" ] && [ -n "$e3" ] && [ "$e3" -gt "$e1" ] || ok=0                     # EXITS grows
awk '$1=="t" && $4+0 > 0 {f=1} END {exit !f}' "$TMP/top" || ok=0                # CPU%
awk '$1=="t" && $8+0 > 0 {f=1} END {exit !f}' "$TMP/top" || ok=0                # EXITS/S
awk '$1=="a" && $10+0 > 0 {f=1} END {exit !f}' "$TMP/top" || ok=0               # PKTS/S
awk '$1=="d" && $9+0 > 0 {f=1} END {exit !f}' "$TMP/top" || ok=0                # IO_KIB/S
[ "$(col 1 t 3)" = 1 ] && [ "$(col 1 t 5)" = 16 ] && [ "$(col 1 a 5)" = 32 ] || ok=0  # VCPU, MEM_MIB
awk '$1=="s" && !($2=="stopped" && $4=="-" && $7=="-") {bad=1} END {exit bad}' "$TMP/top" || ok=0
if [ $ok = 1 ]; then
	pass top-batch-columns-and-changing-counters
	echo "# top: t's exits $e1 -> $e3 over two refreshes"
else cat "$TMP/top" "$TMP/top.err" >&2; fail top-batch-columns-and-changing-counters "rc=$rc frames=$frames headers=$heads"; fi

# A paused partition has no exits per second; restarts are counted as they happen.
"$L" ctl "$sock" pause t >/dev/null
"$L" top "$sock" --batch=2 -d 0.5 >"$TMP/top" 2>&1; rc=$?
r1=$(col 1 crashy 11); r2=$(col 2 crashy 11)
if [ $rc -eq 0 ] && [ "$(col 2 t 2)" = paused ] && [ "$(col 2 t 8)" = 0 ] &&
   [ "$(col 1 t 7)" = "$(col 2 t 7)" ] && [ "$(col 2 s 2)" = stopped ] &&
   [ -n "$r1" ] && [ "$r1" -ge 1 ] && [ "$r2" -ge "$r1" ] &&
   grep -q '^lvmm top - .* paused' "$TMP/top"; then
	pass top-paused-stopped-and-restarts
else cat "$TMP/top" >&2; fail top-paused-stopped-and-restarts "rc=$rc restarts ${r1:-none} -> ${r2:-none}"; fi
"$L" ctl "$sock" resume t >/dev/null

# A partition that does not answer (its process SIGSTOPped) is shown from what the
# supervisor knows, its state marked '*', and does not hold the refresh up.
tpid=$("$L" ctl --json "$sock" list | grep -o '"name":"t","state":"[a-z]*","role":"[a-z]*","pid":[0-9]*' | grep -o '[0-9]*$')
if [ -n "$tpid" ] && sigpid STOP "$tpid"; then
	t0=$(date +%s)
	"$L" top "$sock" -b -n 1 -d 0.2 >"$TMP/top" 2>&1; rc=$?
	t1=$(date +%s)
	sigpid CONT "$tpid"
	if [ $rc -eq 0 ] && [ "$(col 1 t 2)" = "running*" ] && [ "$(col 1 a 2)" = running ] &&
	   [ "$(col 1 t 7)" -gt 0 ] && [ $((t1 - t0)) -lt 6 ]; then
		pass top-stale-partition-marked
	else cat "$TMP/top" >&2; fail top-stale-partition-marked "rc=$rc in $((t1 - t0)) s, t shown as '$(col 1 t 2)'"; fi
else fail top-stale-partition-marked "no pid for t"; fi

# Interactive, on a pseudo-terminal: the table is drawn, q quits at once.
if command -v script >/dev/null; then
	t0=$(date +%s)
	(sleep 1.5; printf q) | TERM=xterm timeout 20 script -qec "$L top $sock -d 10" /dev/null >"$TMP/tty" 2>&1; rc=$?
	t1=$(date +%s)
	if [ $rc -eq 0 ] && [ $((t1 - t0)) -lt 8 ] && contains "$TMP/tty" "lvmm top - " &&
	   contains "$TMP/tty" "q: quit" && grep -q "STATE" "$TMP/tty"; then
		pass top-interactive-quits-on-q
	else cat -v "$TMP/tty" | head -c 2000 >&2; fail top-interactive-quits-on-q "rc=$rc after $((t1 - t0)) s"; fi
else
	skip top-interactive-quits-on-q "no script(1) for a pseudo-terminal (bsdutils)"
fi

ok=1
"$L" top "$TMP/nosuch.sock" -b -n 1 >/dev/null 2>"$TMP/r"; [ $? -eq 2 ] && grep -q "no answer from a platform at" "$TMP/r" || ok=0
"$L" top >/dev/null 2>"$TMP/r"; [ $? -eq 2 ] && grep -q "Usage: lvmm top SOCKET" "$TMP/r" || ok=0
"$L" top "$sock" -d 0 >/dev/null 2>&1; [ $? -eq 2 ] || ok=0
"$L" top "$sock" -n x >/dev/null 2>&1; [ $? -eq 2 ] || ok=0
[ $ok = 1 ] && pass top-refusals || { cat "$TMP/r" >&2; fail top-refusals "a bad invocation was not refused with status 2"; }

sigpid TERM $sup; wait $sup 2>/dev/null
