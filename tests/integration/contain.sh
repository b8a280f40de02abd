#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Issue 9 item 3: events delivered to the service partition over its agent
# channel, and the seeds' outbreak containment without the host operator.
# A hostile user partition makes its virtio-blk device DMA outside its
# memory; the service guest (tests/guests/service.c, events=1 contain=...)
# prints the dma_fault event it receives and isolates or restarts the user
# partition through its own channel, as far as the policy grants it. Also:
# what the policy lets a subscriber see on an agent channel, and a stalled
# subscriber that loses lines with a counted gap while the supervisor goes on.
. "$(dirname "$0")/../lib.sh"

CASES="contain-service-sees-dma-fault contain-isolate-links-down contain-restart
       contain-refused-by-policy agent-events-filtered-by-policy agent-stalled-subscriber-gap"
skip_all_without_kvm $CASES
L=$LVMM
sock=$TMP/c.sock
ev=$TMP/ev.jsonl
out=$TMP/out
img=$TMP/u.img
truncate -s 1M "$img"
SVC=$PWD/$GUESTS/service.elf
BG=""
cleanup() {
	local p
	for p in $BG; do sigpid KILL "$p" 2>/dev/null; done
	cleanup_tmp
}
trap cleanup EXIT

# platform SERVICE_CMDLINE SERVICE_OPS: the service and a hostile user linked by uplink.
platform() {
	cat >"$TMP/p.yaml" <<YAML
control: $sock
events: $ev
policy:
  name: contain-v1
  ste_types: [net_t, mgmt_t]
  labels:
    - { name: svc_l, ste: [net_t, mgmt_t] }
    - { name: user_l, ste: [net_t] }
  resources:
    - { disk: $img, label: user_l }
  clients:
    - { uid: 0, label: svc_l, operations: [all] }
    - { partition: service, label: svc_l, operations: [$2] }
partitions:
  - name: service
    role: service
    label: svc_l
    kernel: $SVC
    cmdline: "bridge=0 $1"
    memory: 16M
    devices: [ { type: stream, control: true }, { type: net, link: uplink } ]
  - name: user
    label: user_l
    autostart: false
    restart: never
    kernel: $PWD/$GUESTS/hostile.elf
    cmdline: "case=outside-ram"
    memory: 16M
    devices: [ { type: blk, path: $img }, { type: net, link: uplink } ]
links:
  - { name: uplink, ends: [service, user] }
YAML
	rm -f "$ev"
	start_bg "$out" run "$TMP/p.yaml"
	wait_sock "$sock" && wait_grep "$out" '\[service\] service: reply {"ok":true,"following":true' 100
}

# ---- isolate ------------------------------------------------------------------------------
platform "events=1 contain=isolate" "events, isolate, restart"
"$L" ctl "$sock" start user >/dev/null 2>&1
wait_grep "$out" '\[service\] service: reply {"ok":true,"partition":"user","links_down"' 100
if grep -q '^\[service\] service: event {"ts":[0-9.]*,"event":"dma_fault","partition":"user","device":"blk0","gpa":"0x[0-9a-f]*","len":[0-9]*,"dir":"[a-z]*"}' "$out" &&
   contains "$out" '[service] service: contain isolate user (dma_fault)'; then
	pass contain-service-sees-dma-fault
else show "$out"; fail contain-service-sees-dma-fault "the service console shows no dma_fault event of user, or no containment"; fi
"$L" ctl --json "$sock" list >"$TMP/list" 2>&1
if grep -q '"links":\[{"name":"uplink","ends":\["service","user"\],"up":false}\]' "$TMP/list" &&
   contains "$out" '[service] service: reply {"ok":true,"partition":"user","links_down":["uplink"]}' &&
   grep -q '"event":"link_down","link":"uplink","by":"partition:service"' "$ev" &&
   # the event log shows every step in order: fault, then the service's isolation
   awk '/"event":"dma_fault","partition":"user"/ && !f { f = NR } /"event":"link_down".*partition:service/ && !d { d = NR }
	END { exit !(f && d && f < d) }' "$ev"; then
	pass contain-isolate-links-down
else cat "$TMP/list" >&2; show "$ev"; fail contain-isolate-links-down "uplink not down in lvmm ctl --json list, or no link_down by partition:service after the fault"; fi
stop_sup

# ---- restart --------------------------------------------------------------------------------
platform "events=1 contain=restart contain_cooldown_ms=60000" "events, isolate, restart"
"$L" ctl "$sock" start user >/dev/null 2>&1
wait_grep "$ev" '"event":"partition_start","partition":"user".*"restart"\|"event":"partition_start","partition":"user".*partition:service' 100
wait_grep "$out" '\[service\] service: reply {"ok":true,"partition":"user","state":"' 50
if contains "$out" '[service] service: contain restart user (dma_fault)' &&
   grep -q '"event":"partition_stop","partition":"user","by":"partition:service"' "$ev" ||
   grep -q '\[service\] service: reply {"ok":true,"partition":"user","state":"\(restarting\|starting\|running\)"' "$out"; then
	if [ "$(grep -c '"event":"partition_start","partition":"user"' "$ev")" -ge 2 ]; then
		pass contain-restart
	else show "$ev"; fail contain-restart "the user partition was not started again"; fi
else show "$out"; fail contain-restart "no restart of user by partition:service"; fi
stop_sup

# ---- the policy does not grant it -------------------------------------------------------------
platform "events=1 contain=isolate" "events"
"$L" ctl "$sock" start user >/dev/null 2>&1
wait_grep "$out" '\[service\] service: reply {"ok":false' 100
"$L" ctl --json "$sock" list >"$TMP/list" 2>&1
if grep -q '^\[service\] service: reply {"ok":false,"error":"[^"]*isolate' "$out" &&
   grep -q '"up":true' "$TMP/list" && grep -q '"event":"acm_deny","subject":"partition:service","object":"user","operation":"isolate"' "$ev"; then
	pass contain-refused-by-policy
else show "$out"; cat "$TMP/list" >&2; fail contain-refused-by-policy "an isolate the policy does not grant was carried out, or not refused with acm_deny"; fi
stop_sup

# ---- what an agent-channel subscriber sees ------------------------------------------------------
# The service shares a type with user but not with "other": it follows 2 of 3
# partitions and not the platform's events; other's pause must not reach it.
TICKER=$PWD/$GUESTS/ticker.elf
cat >"$TMP/f.yaml" <<YAML
control: $sock
events: $ev
policy:
  name: filter-v1
  ste_types: [net_t, mgmt_t, other_t]
  labels:
    - { name: svc_l, ste: [net_t, mgmt_t] }
    - { name: user_l, ste: [net_t] }
    - { name: other_l, ste: [other_t] }
    - { name: admin_l, ste: [net_t, mgmt_t, other_t] }
  clients:
    - { uid: 0, label: admin_l, operations: [all] }
    - { partition: service, label: svc_l, operations: [events] }
partitions:
  - { name: service, role: service, label: svc_l, kernel: $SVC, cmdline: "bridge=0 events=1", memory: 16M,
      devices: [ { type: stream, control: true } ] }
  - { name: user, label: user_l, kernel: $TICKER, cmdline: "tick_ms=1000", memory: 16M, console: none }
  - { name: other, label: other_l, kernel: $TICKER, cmdline: "tick_ms=1000", memory: 16M, console: none }
YAML
rm -f "$ev"
start_bg "$out" run "$TMP/f.yaml"
wait_sock "$sock" && wait_grep "$out" '\[service\] service: reply {"ok":true,"following":true' 100
"$L" ctl "$sock" pause other >/dev/null 2>&1
"$L" ctl "$sock" pause user >/dev/null 2>&1
wait_grep "$out" '\[service\] service: event {"ts":[0-9.]*,"event":"partition_paused","partition":"user"' 50
if contains "$out" '[service] service: reply {"ok":true,"following":true,"partitions":2,"platform":false}' &&
   grep -q '\[service\] service: event {"ts":[0-9.]*,"event":"partition_paused","partition":"user"' "$out" &&
   grep -q '"event":"partition_paused","partition":"other"' "$ev" &&
   ! grep -q '\[service\] service: event .*"partition":"other"' "$out" &&
   ! grep -q '\[service\] service: event .*"event":"acm_' "$out"; then
	pass agent-events-filtered-by-policy
else show "$out"; fail agent-events-filtered-by-policy "the agent channel showed events of a partition (or the platform's) the policy hides, or missed user's"; fi
stop_sup

# ---- a stalled subscriber on an agent channel -------------------------------------------------------
# The service subscribes, then reads nothing for 15 s while the host toggles
# a link 1500 times (about 4,500 event lines, beyond the front-end's ring
# and the channel's buffers). No operation may wait on the stalled reader;
# once it reads again it gets one gap line with the count, then live lines.
cat >"$TMP/s.yaml" <<YAML
control: $sock
events: $ev
partitions:
  - { name: service, role: service, kernel: $SVC, cmdline: "bridge=0 events=1 quiet=1 stall_ms=15000", memory: 16M,
      devices: [ { type: stream, control: true } ] }
  - { name: a, kernel: $TICKER, cmdline: "tick_ms=1000", memory: 16M, console: none, devices: [ { type: net, link: l0 } ] }
  - { name: b, kernel: $TICKER, cmdline: "tick_ms=1000", memory: 16M, console: none, devices: [ { type: net, link: l0 } ] }
links:
  - { name: l0, ends: [a, b] }
YAML
rm -f "$ev"
start_bg "$out" run "$TMP/s.yaml"
wait_sock "$sock" && wait_grep "$out" '\[service\] service: stalling' 100
python3 - "$sock" >"$TMP/flood" 2>&1 <<'PY'
import socket, sys, time
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
buf = b""
def request(method, url):
    global buf
    s.sendall(("%s %s HTTP/1.1\r\nHost: x\r\n\r\n" % (method, url)).encode())
    while b"\r\n\r\n" not in buf:
        buf += s.recv(65536)
    head, _, buf = buf.partition(b"\r\n\r\n")
    n = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1])
    while len(buf) < n:
        buf += s.recv(65536)
    buf = buf[n:]
    return head.split(b"\r\n")[0]
t0, worst, n = time.time(), 0.0, 0
while n < 1500 and time.time() - t0 < 12:
    t = time.time()
    st = request("POST", "/v1/links/l0/%s" % ("down" if n % 2 == 0 else "up"))
    worst = max(worst, time.time() - t)
    if b" 200 " not in st:
        print("op failed:", st)
        break
    n += 1
print("ops: %d in %.1f s, slowest %.3f s" % (n, time.time() - t0, worst))
PY
wait_grep "$out" '\[service\] service: reading again' 100
sleep 1
"$L" ctl "$sock" pause a >/dev/null 2>&1
wait_grep "$out" '\[service\] service: event {"ts":[0-9.]*,"event":"partition_paused","partition":"a"' 50
lost=$(grep -o '\[service\] service: event {"ts":[0-9.]*,"event":"gap","lost":[0-9]*' "$out" | grep -o '[0-9]*$' | head -n 1)
if grep -q '^ops: [0-9]* in' "$TMP/flood" && awk '/^ops:/ { exit !($2 >= 1000 && $NF + 0 < 2.0) }' "$TMP/flood" &&
   [ -n "$lost" ] && [ "$lost" -gt 0 ] &&
   grep -q '\[service\] service: event {"ts":[0-9.]*,"event":"partition_paused","partition":"a"' "$out"; then
	pass agent-stalled-subscriber-gap
else cat "$TMP/flood" >&2; show "$out"; fail agent-stalled-subscriber-gap "no counted gap line, no live line after it, or operations waited on the stalled subscriber"; fi
stop_sup
