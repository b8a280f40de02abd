#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The README's demo (scripts/demo.sh): the user partition reaches the network
# only through the service partition, which forwards ARP/ICMP/UDP-7 and drops
# UDP-9; the host behind the TAP must see 3 datagrams on 7 and none on 9.
. "$(dirname "$0")/../lib.sh"
skip_all_without_kvm demo-allowed-flows-pass demo-dropped-flow-never-reaches-host demo-events-logged
if ! ip netns add lvmm-probe$$ 2>/dev/null; then
	for n in demo-allowed-flows-pass demo-dropped-flow-never-reaches-host demo-events-logged; do
		skip $n "cannot create a network namespace (needs root)"; done
	exit 0
fi
ip netns del lvmm-probe$$
out=$TMP/demo.out
BUILD=$BUILD LVMM=$LVMM timeout 120 scripts/demo.sh >"$out" 2>&1
rc=$?
if [ $rc -eq 0 ] && contains "$out" "[user] user: icmp 10.0.0.1: 3/3 replies" &&
   contains "$out" "[user] user: udp 10.0.0.1:7: 3/3 echoed"; then pass demo-allowed-flows-pass
else show "$out"; fail demo-allowed-flows-pass "rc=$rc"; fi
if contains "$out" "[user] user: udp 10.0.0.1:9: 0/3 answered" &&
   contains "$out" "UDP port 9 received 0 datagram(s)" &&
   contains "$out" "(rule drop udp:9)"; then pass demo-dropped-flow-never-reaches-host
else show "$out"; fail demo-dropped-flow-never-reaches-host "UDP/9 was not dropped by the service partition"; fi
ev=$BUILD/demo/events.jsonl
if grep -q '"event":"partition_start","partition":"service"' "$ev" &&
   grep -q '"event":"device_summary","partition":"user","device":"net0"' "$ev"; then pass demo-events-logged
else fail demo-events-logged "events log lacks the start or summary events"; fi
