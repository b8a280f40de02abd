#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A gated start (the partition has a trust process: verify:) whose disk
# image is locked by another process (docs/trust.md, "The gate"): the
# partition fails at its disk lock, before it makes or sends its images on
# the gate; the start is reported failed once, naming the disk; the
# trust process measures nothing; the supervisor and the other partition
# keep running; a start after the lock is released boots, verified.
. "$(dirname "$0")/../lib.sh"

CASES="gate-disk-locked-start-fails-naming-disk gate-disk-locked-others-keep-running
       gate-disk-locked-start-after-release-boots"
skip_all_without_kvm $CASES
for t in flock openssl python3; do
	if ! command -v $t >/dev/null; then
		for n in $CASES; do skip "$n" "$t is not installed"; done
		exit 0
	fi
done
D=$TMP
sock=$D/ctl.sock
ev=$D/ev.jsonl
out=$D/out
img=$D/disk.img
BLK=$PWD/$GUESTS/blk.elf
TICKER=$PWD/$GUESTS/ticker.elf
holder=

cleanup() {
	local p
	for p in $BG $holder; do sigpid KILL "$p" 2>/dev/null; done
	cleanup_tmp
}
trap cleanup EXIT

state_of() { "$LVMM" ctl --json "$sock" list 2>/dev/null | grep -o "\"name\":\"$1\",\"state\":\"[a-z]*\"" | grep -o '[a-z]*"$' | tr -d '"'; }
# wait_count FILE PATTERN N: at least N lines of FILE match, within 10 s.
wait_count() { for _ in $(seq 100); do [ "$(grep -c -- "$2" "$1" 2>/dev/null)" -ge "$3" ] && return 0; sleep 0.1; done; return 1; }
wait_state() { for _ in $(seq 100); do [ "$(state_of "$1")" = "$2" ] && return 0; sleep 0.1; done; return 1; }

# The kernel and its command line, signed (docs/trust.md "Verified boot").
cp "$BLK" "$D/blk.elf"
cmdline="sectors=3"
openssl genpkey -algorithm ed25519 -out "$D/it.pem" 2>/dev/null
openssl pkey -in "$D/it.pem" -pubout -out "$D/it-pub.pem"
( cd "$D" && { sha256sum blk.elf
  printf '%s  @cmdline\n' "$(printf %s "$cmdline" | sha256sum | cut -d' ' -f1)"; } >blk.manifest &&
  openssl pkeyutl -sign -rawin -inkey it.pem -in blk.manifest -out blk.manifest.sig )
truncate -s 4M "$img"
cat >"$D/p.yaml" <<YAML
control: $sock
events: $ev
partitions:
  - { name: other, kernel: $TICKER, cmdline: "tick_ms=50", memory: 16M, console: "file:$D/other.out" }
  - name: locked
    kernel: $D/blk.elf
    cmdline: "$cmdline"
    memory: 16M
    console: "file:$D/locked.out"
    devices: [ { type: blk, path: $img } ]
    verify: { manifest: $D/blk.manifest, signature: $D/blk.manifest.sig, key: $D/it-pub.pem }
YAML

# Another process holds the image (flock(2), as a partition's own lock is
# taken): the lock is its fd 9's, so killing that one process releases it.
( exec 9<"$img"; flock -x 9; exec sleep 300 ) </dev/null >/dev/null 2>&1 &
holder=$!
for _ in $(seq 50); do ! flock -xn "$img" true && break; sleep 0.1; done
start_bg "$out" run "$D/p.yaml"
wait_sock "$sock"
# The start is reported failed exactly once, with the partition's own reason
# (the disk), whichever the supervisor sees first: the partition's end or its
# trust process's verdict (an error: no images came). Its exit says the same.
why="could not start: disk image '$img' is in use by another process"
exit_re='"event":"partition_exit","partition":"locked","reason":"setup-failed","status":121'
if wait_grep "$ev" "$exit_re" 100 && wait_state locked exited &&
   sleep 0.5 && # anything the trust process still reports about this start comes now
   grep "$exit_re" "$ev" | grep -qF "$why" &&
   [ "$(grep -c '"event":"partition_start_failed","partition":"locked"' "$ev")" -eq 1 ] &&
   grep '"event":"partition_start_failed","partition":"locked"' "$ev" | grep -qF "\"error\":\"$why\"" &&
   ! grep -q '"event":"trust_failed"' "$ev" &&
   ! grep -q '"event":"partition_start","partition":"locked"' "$ev" &&
   ! grep -q '"event":"boot_verified","partition":"locked"' "$ev" &&
   ! grep -q '"event":"verify_failed","partition":"locked"' "$ev" &&
   ! contains "$D/locked.out" "blk:"; then
	pass gate-disk-locked-start-fails-naming-disk
else
	show "$out"; show "$ev"
	fail gate-disk-locked-start-fails-naming-disk "state $(state_of locked); its events: $(grep -c '"partition":"locked"' "$ev")"
fi

n1=$(grep -c 'tick [0-9]' "$D/other.out"); sleep 0.5; n2=$(grep -c 'tick [0-9]' "$D/other.out")
if kill -0 "$sup" 2>/dev/null && [ "$(state_of other)" = running ] && [ "$n2" -gt "$n1" ] &&
   ! grep -q '"partition":"other"' <(grep -E '"event":"(partition_exit|partition_kill|partition_start_failed)"' "$ev"); then
	pass gate-disk-locked-others-keep-running
else
	show "$out"; fail gate-disk-locked-others-keep-running "supervisor or 'other' affected (ticks $n1 -> $n2, state $(state_of other))"
fi

# Released: the next start gets the disk, is verified, and the guest writes its sector.
sigpid KILL "$holder"; wait "$holder" 2>/dev/null; holder=
r=$("$LVMM" ctl --json "$sock" start locked 2>&1)
# Its second partition_exit: the guest wrote its sector and powered off.
if wait_count "$ev" '"event":"partition_exit","partition":"locked"' 2 &&
   grep '"event":"partition_exit","partition":"locked"' "$ev" | tail -1 | grep -q '"reason":"poweroff","status":0' &&
   grep -q '"event":"boot_verified","partition":"locked"' "$ev" &&
   grep -q '"event":"partition_start","partition":"locked"' "$ev" &&
   dd if="$img" bs=512 skip=3 count=1 status=none | grep -qa "lvmm blk test sector 00000003" &&
   [ "$(state_of other)" = running ]; then
	pass gate-disk-locked-start-after-release-boots
else
	show "$out"; show "$ev"; show "$D/locked.out"
	fail gate-disk-locked-start-after-release-boots "start answered: $r"
fi
stop_sup
true # the run ends 121: one of its partitions failed to start, as this test wanted
