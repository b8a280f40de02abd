#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# virtio devices end to end with the in-tree guests: bytes in a backing file,
# frames answered by a kernel in a private network namespace, lines over the
# agent stream socket.
. "$(dirname "$0")/../lib.sh"

CASES="blk-pattern-in-file blk-readonly-refused blk-flushed-data-survives-sigkill blk-discard-write-zeroes-sandboxed
       blk-kicks-held-back-while-polled blk-poll-window-grows-past-a-gap blk-no-kick-lost-without-polling blk-io-beside-a-computing-vcpu net-tap-arp-icmp stream-agent-echo net-rate-limit-ops net-rate-limit-bandwidth"
skip_all_without_kvm $CASES
out=$TMP/out

# -- blk: the guest writes "lvmm blk test sector N" into the sectors it is given.
img=$TMP/disk.img
truncate -s 4M "$img"
run_lvmm 30 "$out" run --no-stdin --kernel "$GUESTS/blk.elf" --disk "$img" --cmdline "sectors=0,3,8191"
if [ $rc -eq 0 ] && contains "$out" "blk: ok" &&
   dd if="$img" bs=512 skip=3 count=1 2>/dev/null | grep -qa "lvmm blk test sector 00000003" &&
   dd if="$img" bs=512 skip=8191 count=1 2>/dev/null | grep -qa "lvmm blk test sector 00008191"; then
	pass blk-pattern-in-file
else show "$out"; fail blk-pattern-in-file "rc=$rc or the pattern is not in the backing file"; fi

truncate -s 1M "$TMP/ro.img"
sum0=$(md5sum <"$TMP/ro.img")
run_lvmm 30 "$out" run --no-stdin --kernel "$GUESTS/blk.elf" --disk "$TMP/ro.img,readonly"
if [ $rc -eq 0 ] && contains "$out" "blk: ok (read-only)" && [ "$(md5sum <"$TMP/ro.img")" = "$sum0" ]; then
	pass blk-readonly-refused
else show "$out"; fail blk-readonly-refused "rc=$rc, or the read-only image changed"; fi

# Kill lvmm with SIGKILL as soon as the guest has flushed; the data must be in the file.
truncate -s 4M "$TMP/k.img"
timeout 30 "$LVMM" run --no-stdin --kernel "$GUESTS/blk.elf" --disk "$TMP/k.img" \
	--cmdline "sectors=5,6 blk_hold=1" </dev/null >"$out" 2>&1 &
pid=$!
for _ in $(seq 100); do contains "$out" "blk: ok" && break; sleep 0.1; done
alive=0; kill -0 $pid 2>/dev/null && alive=1
pkill -KILL -P $pid 2>/dev/null; sigpid KILL $pid 2>/dev/null; wait $pid 2>/dev/null
if [ $alive = 1 ] && contains "$out" "blk: ok" &&
   dd if="$TMP/k.img" bs=512 skip=6 count=1 2>/dev/null | grep -qa "lvmm blk test sector 00000006"; then
	pass blk-flushed-data-survives-sigkill
else show "$out"; fail blk-flushed-data-survives-sigkill "alive=$alive at SIGKILL, or flushed sector 6 not in the file"; fi

# -- blk: DISCARD and WRITE_ZEROES (with and without UNMAP) from the guest
# (blk zap=1), through a sandboxed partition whose filter allows fallocate
# only as PUNCH_HOLE|KEEP_SIZE or ZERO_RANGE|KEEP_SIZE on the image fd
# (src/vmm/sandbox.c): a mode missing there kills the partition (SIGSYS).
# The host fills all 2048 sectors with its own line, the guest writes its
# pattern to sectors 0,7,8,20,30,47,48 and then zeroes 8..15 (discard),
# 24..31 (write-zeroes) and 40..47 (write-zeroes unmap): in the file those
# ranges must be zeroes, 0,7,20,48 the guest's pattern, every other sector
# the host's, and the size unchanged. Where the filesystem punches holes (a
# probe file says so; ext4 does), the discarded and unmapped ranges must be
# holes (SEEK_HOLE) and the file's allocated blocks fewer (ext4: -16 for the
# two holes, +8 for the extent block the split needs).
if command -v python3 >/dev/null; then
	zimg=$TMP/zap.img
	python3 - "$zimg" <<'PY'
import os, sys
with open(sys.argv[1], "wb") as f:
    for s in range(2048):
        f.write((("lvmm host sector %08d" % s).ljust(31) + "\n").encode() * 16)
    f.flush()
    os.fsync(f.fileno())
PY
	# Does this filesystem punch 4 KiB holes that SEEK_HOLE sees? (fallocate(1): util-linux)
	punch=0
	head -c 16384 /dev/urandom >"$TMP/punch.probe" && sync "$TMP/punch.probe" &&
	   fallocate -p -o 4096 -l 4096 "$TMP/punch.probe" 2>/dev/null &&
	   python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY)
sys.exit(os.lseek(fd, 0, os.SEEK_HOLE) != 4096 or os.lseek(fd, 4096, os.SEEK_DATA) != 8192)' "$TMP/punch.probe" &&
	   punch=1
	blocks0=$(stat -c %b "$zimg")
	run_lvmm 30 "$out" run --no-stdin --kernel "$GUESTS/blk.elf" --disk "$zimg" \
		--cmdline "sectors=0,7,8,20,30,47,48 zap=1"
	blocks1=$(stat -c %b "$zimg")
	why=$(python3 - "$zimg" "$punch" <<'PY'
import os, sys
path, punch = sys.argv[1], sys.argv[2] == "1"
size = os.stat(path).st_size
if size != 2048 * 512:
    sys.exit(print("size %d, want %d" % (size, 2048 * 512)))
data = open(path, "rb").read()
zapped = set(range(8, 16)) | set(range(24, 32)) | set(range(40, 48))
for s in range(2048):
    got = data[s * 512:(s + 1) * 512]
    if s in zapped:
        want, what = bytes(512), "zeroes"
    elif s in (0, 7, 20, 48):
        want, what = ("lvmm blk test sector %08d \n\0" % s).encode() * 16, "the guest's pattern"  # 31 chars and the NUL
    else:
        want, what = (("lvmm host sector %08d" % s).ljust(31) + "\n").encode() * 16, "the host's pattern"
    if got != want:
        sys.exit(print("sector %d is not %s: %r" % (s, what, got[:40])))
if punch:
    fd = os.open(path, os.O_RDONLY)
    for a in (8, 40):
        if os.lseek(fd, a * 512, os.SEEK_HOLE) != a * 512 or os.lseek(fd, a * 512, os.SEEK_DATA) != (a + 8) * 512:
            sys.exit(print("sectors %d..%d are not a hole" % (a, a + 7)))
print("ok")
PY
)
	if [ "$why" = ok ] && [ $punch = 1 ] && [ "$blocks1" -ge "$blocks0" ]; then
		why="allocated 512-byte blocks $blocks0 before, $blocks1 after: nothing was deallocated"
	fi
	if [ $rc -eq 0 ] && contains "$out" "blk: ok" && contains "$out" "blk: zap ok" &&
	   ! grep -qi "sandbox violation\|killed by signal" "$out" && [ "$why" = ok ]; then
		pass blk-discard-write-zeroes-sandboxed
	else show "$out"; fail blk-discard-write-zeroes-sandboxed "rc=$rc (0 wanted), \"blk: zap ok\" $(contains "$out" "blk: zap ok" || echo "not ")printed, file: ${why:-not checked (python3 failed)} (hole punching probed: $punch)"; fi
else
	skip blk-discard-write-zeroes-sandboxed "python3 is not installed"
fi

# -- blk: while the I/O thread polls the ring, the driver's kicks (a VM exit
# each) are held back; blkbench counts the kicks it had to make. Its driver
# waits 15 us after each completion (think_us=15, below): one that answered
# at once would find the I/O thread still in its pass, polling or not. The same run
# with polling off (LVMM_IO_POLL_US=0) must kick for most requests, or this
# would not show polling (2026-12-03: on 0.1-2.6%, off 99%; 2026-12-04 on
# the same host type, quiet: on 10-29% in every build of the day, the day's
# first included, at 4x the requests, off 99%: hence "fewer than 1 in 4",
# which polling off never comes near). With polling
# off every sleep asks for kicks again first: a lost one would stall a
# request (blkbench gives up after 5 s, exit 1). On a host so slowed (a
# sanitizer build while the other core is taken: 5,371 requests in 1 s
# once) that requests come further apart than the poll window (50 us),
# every request kicks, as it should, so such a run is made again.
truncate -s 16M "$TMP/bench.img"
kick_run() { # [THINK_US]: one blkbench run; sets ios, kicks and others_pct
	others_begin
	run_lvmm 30 "$out" run --no-stdin --kernel "$GUESTS/blkbench.elf" --memory 64 --disk "$TMP/bench.img" \
		--cmdline "mode=randread qd=1 lat=1 secs=1 think_us=${1:-5}"
	others_end
	ios=$(sed -n 's/^blkbench: .* ios=\([0-9]*\).*/\1/p' "$out") kicks=$(sed -n 's/^blkbench: .* kicks=\([0-9]*\).*/\1/p' "$out")
}
# kick_tries DIV [THINK_US]: up to 6 runs until one has fewer than 1 in DIV
# requests kicking. Polling needs a host CPU besides the spinning vCPU's: a
# run during which other work took half a CPU or more (others_pct, tests/
# lib.sh) does not count either way. Sets kick_ok (1: a run held kicks
# back), kick_quiet (runs on a quiet host), kick_busy (the others_pct seen)
# and kick_last (what the last run on a quiet host, or the last run, gave).
# A busy loop beside lvmm (2026-12-03, 2 CPUs) made 10-52% of requests kick
# at the default window and 99% in CI's run: there the vCPU, the I/O thread
# and the other work share two CPUs, every gap is longer than the window,
# and polling should not take more of a CPU that others need.
kick_tries() {
	local div=$1 think=${2:-5} try
	kick_ok=0 kick_quiet=0 kick_busy="" kick_last=""
	for try in 1 2 3 4 5 6; do
		kick_run "$think"
		if [ "$others_pct" -ge 50 ]; then
			kick_busy="$kick_busy ${others_pct}%"
			[ $kick_quiet -eq 0 ] && kick_last="rc=$rc, ${ios:-no} requests made ${kicks:-no} kicks"
			continue
		fi
		kick_quiet=$((kick_quiet + 1))
		kick_last="rc=$rc, ${ios:-no} requests made ${kicks:-no} kicks (others took ${others_pct}% of a CPU)"
		if [ $rc -eq 0 ] && [ "${ios:-0}" -gt 1000 ] && [ $((${kicks:-0} * div)) -lt "${ios:-0}" ]; then
			kick_ok=1
			return
		fi
	done
}
# kick_verdict NAME DIV: pass, fail, or skip (no run on a quiet host).
kick_verdict() {
	if [ $kick_ok = 1 ]; then
		pass "$1"
	elif [ $kick_quiet = 0 ]; then
		skip "$1" "the host was busy in all 6 runs (other work took$kick_busy of a CPU; polling needs one besides lvmm's vCPU)"
	else
		show "$out"; fail "$1" "$kick_last (want fewer than 1 in $2; $kick_quiet runs on a quiet host)"
	fi
}
# The I/O thread polls only where it has a host CPU besides the vCPU's
# (src/vmm/iothread.c): a one-CPU host skips both tests.
if [ "$(nproc)" -lt 2 ]; then
	skip blk-kicks-held-back-while-polled "one host CPU: the I/O thread does not poll there"
	skip blk-poll-window-grows-past-a-gap "one host CPU: the I/O thread does not poll there"
else
	# With polling off (LVMM_IO_POLL_US=0) most requests must kick, or the
	# runs with it on would not show polling. The driver thinks 15 us: the
	# I/O thread's own work after a completion (used ring, interrupt, the
	# ring's re-check) took 5-15 us on an AMD EPYC host of 2026-12-04, where
	# at 5 us only 14-24% of requests kicked with polling off (99.7% at 15 us,
	# 1-2% with it on). Up to 3 runs: a busy host stretches that work too.
	most_kicked() { [ $rc -eq 0 ] && [ "${ios:-0}" -gt 1000 ] && [ $((${kicks:-0} * 2)) -gt "${ios:-0}" ]; }
	for try in 1 2 3; do
		LVMM_IO_POLL_US=0 kick_run 15
		most_kicked && break
	done
	if most_kicked; then
		kick_tries 4 15
		kick_verdict blk-kicks-held-back-while-polled 4
	else show "$out"; fail blk-kicks-held-back-while-polled "polling off: rc=$rc, ${ios:-no} requests made ${kicks:-no} kicks (want more than 1 in 2)"; fi
	# A driver 30 us between requests: a gap longer than the first windows
	# (4 us, doubling) but shorter than the largest (50 us). The window must grow
	# past it and stay there. Before 2026-12-03 a window that missed was halved
	# and the short sleep after it doubled it back, so it stayed at the first
	# size that missed: 99.9% of requests kicked, as with polling off (at 20 us,
	# 40-90%); now 1.4-2% (9% with both host CPUs busy, hence "fewer than 1 in 4").
	# The largest window is 100 us here (LVMM_IO_POLL_US): on a host with steal
	# time the gap the I/O thread sees is the 30 us plus a round trip that took
	# 30-160 us on 2026-12-03, past the default 50 us in most runs; the old
	# halving would still stick at 32 us, the first window to miss.
	LVMM_IO_POLL_US=100 kick_tries 4 30
	kick_verdict blk-poll-window-grows-past-a-gap 4
fi
LVMM_IO_POLL_US=0 run_lvmm 30 "$out" run --no-stdin --kernel "$GUESTS/blkbench.elf" --memory 64 \
	--disk "$TMP/bench.img" --cmdline "mode=seqread bs=131072 qd=8 secs=1"
ios=$(sed -n 's/^blkbench: .* ios=\([0-9]*\).*/\1/p' "$out")
if [ $rc -eq 0 ] && [ "${ios:-0}" -gt 1000 ]; then
	pass blk-no-kick-lost-without-polling
else show "$out"; fail blk-no-kick-lost-without-polling "rc=$rc, ${ios:-no} requests (a stalled one ends the guest with 1)"; fi

# A second vCPU that computes all along (blkbench spin=1: the AP counts at
# CPL3) while the first does I/O: the requests all complete, and the AP's
# count, read before and after, moved during the run (spin_mps > 0).
run_lvmm 30 "$out" run --no-stdin --kernel "$GUESTS/blkbench.elf" --memory 64 --vcpus 2 \
	--disk "$TMP/bench.img" --cmdline "mode=randread qd=1 lat=1 think_us=5 secs=1 spin=1"
ios=$(sed -n 's/^blkbench: .* ios=\([0-9]*\).*/\1/p' "$out") spun=$(sed -n 's/^blkbench: .* spin_mps=\([0-9]*\).*/\1/p' "$out")
if [ $rc -eq 0 ] && [ "${ios:-0}" -gt 1000 ] && [ "${spun:-0}" -gt 0 ]; then
	pass blk-io-beside-a-computing-vcpu
else show "$out"; fail blk-io-beside-a-computing-vcpu "rc=$rc, ${ios:-no} requests, AP ${spun:-no} million loops/s"; fi

# -- net: a TAP in a private namespace whose kernel answers ARP and ping.
ns=lvmm-t$$
if ip netns add $ns 2>/dev/null; then
	ip netns exec $ns ip link set lo up
	ip netns exec $ns ip tuntap add dev tap0 mode tap vnet_hdr
	ip netns exec $ns ip addr add 10.0.2.2/24 dev tap0
	ip netns exec $ns ip link set tap0 up
	timeout 30 ip netns exec $ns "$LVMM" run --no-stdin --kernel "$GUESTS/net.elf" --net tap=tap0 \
		--cmdline "ip=10.0.2.15 peer=10.0.2.2" </dev/null >"$out" 2>&1
	rc=$?
	rx=$(ip netns exec $ns cat /sys/class/net/tap0/statistics/rx_packets)
	if [ $rc -eq 0 ] && contains "$out" "net: arp reply from 10.0.2.2" &&
	   contains "$out" "net: ping reply from 10.0.2.2" && [ "$rx" -ge 2 ]; then
		pass net-tap-arp-icmp
	else show "$out"; fail net-tap-arp-icmp "rc=$rc, TAP saw $rx packets"; fi

	# Saturate the tx token buckets and count what reaches the TAP per second.
	rate() { # NAME RATE_LIMIT_YAML SIZE -> frames per second on the TAP
		cat >"$TMP/rl.yaml" <<YAML
partitions:
  - name: g
    role: service
    kernel: $PWD/$GUESTS/netbench.elf
    cmdline: "mode=tx size=$3 secs=3"
    memory: 32M
    devices: [ { type: net, tap: tap0, rate_limit: { tx: $2 } } ]
YAML
		local before after
		before=$(ip netns exec $ns cat /sys/class/net/tap0/statistics/rx_packets)
		timeout 30 ip netns exec $ns "$LVMM" run "$TMP/rl.yaml" </dev/null >"$out" 2>&1
		after=$(ip netns exec $ns cat /sys/class/net/tap0/statistics/rx_packets)
		awk -v f=$((after - before)) -v ms="$(sed -n 's/.* ms=\([0-9]*\).*/\1/p' "$out")" \
			'BEGIN { if (ms > 0) printf "%.0f", f * 1000 / ms; else print 0 }'
	}
	# 2000 frames/s, burst 200: over 3 s the burst adds little.
	r=$(rate ops "{ ops: 2000, ops_burst: 200 }" 60)
	if [ "$r" -ge 1700 ] && [ "$r" -le 2300 ]; then pass net-rate-limit-ops
	else show "$out"; fail net-rate-limit-ops "$r frames/s on the TAP, configured 2000"; fi
	# 1 MB/s of 1514-byte frames (plus the 12-byte header): about 650 frames/s.
	r=$(rate bw "{ bandwidth: 1M, burst: 64K }" 1514)
	if [ "$r" -ge 550 ] && [ "$r" -le 760 ]; then pass net-rate-limit-bandwidth
	else show "$out"; fail net-rate-limit-bandwidth "$r frames/s of 1514 B on the TAP, configured 1 MiB/s (~680)"; fi
	ip netns del $ns
else
	skip net-tap-arp-icmp "cannot create a network namespace"
	skip net-rate-limit-ops "cannot create a network namespace"
	skip net-rate-limit-bandwidth "cannot create a network namespace"
fi

# -- stream: the console guest echoes each line back over the agent socket.
if command -v socat >/dev/null; then
	sock=$TMP/agent.sock
	timeout 30 "$LVMM" run --no-stdin --kernel "$GUESTS/console.elf" --stream "socket=$sock,listen" \
		--cmdline "lines=2" </dev/null >"$out" 2>&1 &
	pid=$!
	for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
	reply=$(printf 'ping one\nping two\n' | timeout 10 socat -t 5 - "UNIX-CONNECT:$sock" 2>&1)
	wait $pid; rc=$?
	if [ $rc -eq 0 ] && contains "$out" "console: got ping one" && contains "$out" "console: got ping two" &&
	   grep -q "ping two" <<<"$reply"; then
		pass stream-agent-echo
	else show "$out"; fail stream-agent-echo "rc=$rc reply='$reply'"; fi
else
	skip stream-agent-echo "socat is not installed"
fi
