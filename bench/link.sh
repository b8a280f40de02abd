#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Partition to partition, against two QEMU guests joined by QEMU's socket
# netdev (TCP on localhost), same guest (netbench.elf), 64 and 1500 bytes:
#   throughput  one side sends (mode=tx), the other counts (mode=rx), pps;
#   latency     ping-pong (mode=ping / mode=pong): one frame, its echo, the
#               next; p50 and p99 of the round trip in the guest.
# Two host settings: each VM on its own core ("own cores": lvmm host_cpus,
# QEMU taskset -c 0 / -c 1), and both VMs on core 0 together with a busy
# process ("shared core"). Goals: >= 1.5x QEMU's throughput, round trip
# <= QEMU's, in both settings.
# Round trips are measured twice: guests that poll their rings (wait=poll)
# and guests that sleep until the rx interrupt (wait=irq: hlt, as an OS's
# idle loop does; the path guest kick -> backend -> peer -> used ring ->
# interrupt -> guest). On the shared core a polling vCPU never gives the CPU
# up: three spinners (the busy process and the two vCPUs) take turns at the
# host's scheduler tick, and both VMMs' round trips are three ticks (12 ms at
# 250 Hz) whatever the VMM does, so that row carries no goal; the goal there
# is the interrupt-driven row, where the VMM's wake-up path decides.
. "$(dirname "$0")/lib.sh"
need_qemu
qemu_args 64
SECS=${LINK_SECS:-2}
# LINK_SETTINGS="own shared", LINK_SIZES="64 1500", LINK_KINDS="tput ping irq" and
# LINK_EFFECTS=1 (0: skip the effect: rows) select a part, for quick iterations.
SETTINGS=${LINK_SETTINGS:-own shared}
SIZES=${LINK_SIZES:-64 1500}
KINDS=${LINK_KINDS:-tput ping irq}

busy_pid=
busy_on() { taskset -c 0 sh -c 'while :; do :; done' & busy_pid=$!; }
busy_off() { [ -n "$busy_pid" ] && kill "$busy_pid" 2>/dev/null; wait "$busy_pid" 2>/dev/null; busy_pid=; }
trap busy_off EXIT

# run_l SETTING A_ARGS B_ARGS -> B's result line
run_l() {
	local cpu_a= cpu_b= wrap=()
	if [ "$1" = own ]; then cpu_a="host_cpus: [0]" cpu_b="host_cpus: [1]"; else wrap=(taskset -c 0); fi
	cat >"$T/link.yaml" <<YAML
partitions:
  - name: a
    kernel: $PWD/$G/netbench.elf
    cmdline: "$2"
    memory: 64M
    $cpu_a
    devices: [ { type: net, link: l } ]
  - name: b
    kernel: $PWD/$G/netbench.elf
    cmdline: "$3"
    memory: 64M
    $cpu_b
    devices: [ { type: net, link: l } ]
links:
  - { name: l, ends: [a, b] }
YAML
	"${wrap[@]}" "$LVMM" run "$T/link.yaml" 2>/dev/null | grep -E '^\[[ab]\] netbench: (rx|ping) '
}
# run_q SETTING A_ARGS B_ARGS -> the result lines (a listens, b connects)
run_q() {
	local port=$((40000 + RANDOM % 20000)) f="$T/qa.$$" ta=() tb=()
	if [ "$1" = own ]; then ta=(taskset -c 0) tb=(taskset -c 1); else ta=(taskset -c 0) tb=(taskset -c 0); fi
	"${ta[@]}" "${QEMU[@]}" -kernel "$G/netbench.elf" -append "$2" \
		-netdev socket,id=n0,listen=127.0.0.1:$port -device virtio-net-device,netdev=n0 </dev/null >"$f" 2>/dev/null &
	local pa=$!
	sleep 0.3
	"${tb[@]}" "${QEMU[@]}" -kernel "$G/netbench.elf" -append "$3" \
		-netdev socket,id=n0,connect=127.0.0.1:$port -device virtio-net-device,netdev=n0 </dev/null 2>/dev/null |
		grep -E '^netbench: (rx|ping) '
	wait $pa
	grep -E '^netbench: (rx|ping) ' "$f"
	rm -f "$f"
}
col() { local k=$1; shift; local x; for x in "$@"; do kv "$k" "$x"; done; }
header
has() { [[ " $2 " == *" $1 "* ]]; }
# runs SETTING A_ARGS B_ARGS [VAR=VALUE...]: RUNS alternating pairs into L
# (lvmm, with VAR=VALUE in its environment) and Q (QEMU).
runs() {
	local setting=$1 a=$2 b=$3 r
	shift 3
	L=() Q=()
	for ((r = 0; r < RUNS; r++)); do
		L+=("$([ $# -eq 0 ] || export "$@"; run_l "$setting" "$a" "$b")")
		Q+=("$(run_q "$setting" "$a" "$b")")
	done
}
for setting in $SETTINGS; do
	label="own cores"
	[ $setting = shared ] && label="shared core + busy"
	for size in $SIZES; do
		[ $setting = shared ] && busy_on
		if has tput "$KINDS"; then
			runs $setting "mode=rx idle_ms=300" "mode=tx size=$size secs=$SECS"
			record link "$label: ${size} B throughput (pps)" "$(col pps "${L[@]}")" "$(col pps "${Q[@]}")" "ratio>=1.5"
		fi
		# ping: guests poll (wait=poll); irq: guests halt (wait=irq).
		for kind in ping irq; do
			has $kind "$KINDS" || continue
			wait=poll how=poll goal="ratio<=1"
			[ $kind = irq ] && wait=irq how=halt
			[ $kind = ping ] && [ $setting = shared ] && goal=none # the host's tick decides (above)
			runs $setting "mode=pong idle_ms=300 wait=$wait" "mode=ping size=$size secs=$SECS wait=$wait"
			record link "$label: ${size} B ping-pong p50, guests $how (us)" "$(col p50_us "${L[@]}")" "$(col p50_us "${Q[@]}")" "$goal"
			record link "$label: ${size} B ping-pong p99, guests $how (us)" "$(col p99_us "${L[@]}")" "$(col p99_us "${Q[@]}")" none
		done
		busy_off
	done
done

# What each mechanism is worth (lvmm with one off; QEMU as above):
#   event_idx=0        the guests do not negotiate VIRTIO_F_EVENT_IDX (both VMMs)
#   LVMM_IO_POLL_US=50 lvmm's I/O threads poll up to 50 us before they sleep
#                      although they have one host CPU (both settings here:
#                      by default they do not, src/vmm/iothread.c)
#   LVMM_IO_SLICE_US=0 lvmm's I/O threads keep the kernel's scheduler slice: on
#                      the shared core a woken one waits out a spinning vCPU's
#                      slice instead of preempting it (src/vmm/iothread.c)
#                      (with halting guests the trade goes the other way:
#                      the last row below)
effect() { # SETTING LABEL A_ARGS B_ARGS FIELD GOAL [VAR=VALUE...]
	local setting=$1 label=$2 a=$3 b=$4 f=$5 goal=$6
	shift 6
	[ "$setting" = shared ] && busy_on
	runs "$setting" "$a" "$b" "$@"
	busy_off
	record link "$label" "$(col "$f" "${L[@]}")" "$(col "$f" "${Q[@]}")" "$goal"
}
[ "${LINK_EFFECTS:-1}" = 1 ] || exit 0
effect own "effect: own cores 64 B p50, no EVENT_IDX (us)" "mode=pong idle_ms=300 event_idx=0" \
	"mode=ping size=64 secs=$SECS event_idx=0" p50_us "ratio<=1"
# pps_effect SETTING SIZE WHAT VAR=VALUE: the throughput row with one mechanism changed
pps_effect() {
	local where="own cores"
	[ "$1" = shared ] && where="shared core"
	effect "$1" "effect: $where $2 B pps, $3" "mode=rx idle_ms=300" "mode=tx size=$2 secs=$SECS" pps "ratio>=1.5" "$4"
}
pps_effect own 64 "polling anyway" LVMM_IO_POLL_US=50
effect own "effect: own cores 64 B p50, polling anyway (us)" "mode=pong idle_ms=300" \
	"mode=ping size=64 secs=$SECS" p50_us "ratio<=1" LVMM_IO_POLL_US=50
pps_effect shared 64 "polling anyway" LVMM_IO_POLL_US=50
pps_effect shared 1500 "polling anyway" LVMM_IO_POLL_US=50
pps_effect shared 64 "kernel's slice" LVMM_IO_SLICE_US=0
pps_effect shared 1500 "kernel's slice" LVMM_IO_SLICE_US=0
# The short slice's cost: with halting guests on the shared core the woken
# vCPU waits behind the I/O thread instead (7 alternating pairs here: p50
# 523 us with it, 455 us without).
effect shared "effect: shared core 64 B p50, guests halt, kernel's slice (us)" "mode=pong idle_ms=300 wait=irq" \
	"mode=ping size=64 secs=$SECS wait=irq" p50_us "ratio<=1" LVMM_IO_SLICE_US=0
