#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The partitioned platform: links between partitions, the control API,
# restart policies, and isolation of one partition from another.
. "$(dirname "$0")/../lib.sh"

CASES="link-ping-between-partitions ctl-list-status-pause-resume-restart link-down-cuts-traffic
       link-up-restores-traffic restart-on-crash-with-limit check-rejects-tap-in-user-partition
       ctl-refuses-bad-requests sandbox-violation-kills-only-that-partition
       killed-partition-leaves-others-running link-io-thread-short-slice"
skip_all_without_kvm $CASES
out=$TMP/out
sock=$TMP/ctl.sock
L=$LVMM

# Two net guests joined by a link ping each other.
cat >"$TMP/link.yaml" <<YAML
partitions:
  - name: a
    kernel: $PWD/$GUESTS/net.elf
    cmdline: "ip=10.0.3.1 peer=10.0.3.2 net_serve_ms=2000"
    memory: 32M
    devices: [ { type: net, link: l0 } ]
  - name: b
    kernel: $PWD/$GUESTS/net.elf
    cmdline: "ip=10.0.3.2 peer=10.0.3.1"
    memory: 32M
    devices: [ { type: net, link: l0 } ]
links:
  - { name: l0, ends: [a, b] }
YAML
run_lvmm 30 "$out" run "$TMP/link.yaml"
if [ $rc -eq 0 ] && contains "$out" "[b] net: ping reply from 10.0.3.1" &&
   contains "$out" "[a] net: answered ping from 10.0.3.2"; then pass link-ping-between-partitions
else show "$out"; fail link-ping-between-partitions "rc=$rc"; fi

# Control API on a running platform: a serves, b starts only when asked.
cat >"$TMP/ctl.yaml" <<YAML
control: $sock
events: $TMP/events.jsonl
partitions:
  - name: a
    kernel: $PWD/$GUESTS/net.elf
    cmdline: "ip=10.0.3.1 net_serve_ms=60000"
    memory: 32M
    devices: [ { type: net, link: l0 } ]
  - name: b
    autostart: false
    kernel: $PWD/$GUESTS/net.elf
    cmdline: "ip=10.0.3.2 peer=10.0.3.1"
    memory: 32M
    devices: [ { type: net, link: l0 } ]
links:
  - { name: l0, ends: [a, b] }
YAML
timeout 90 "$L" run "$TMP/ctl.yaml" </dev/null >"$out" 2>&1 &
sup=$!
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
sleep 0.5
ok=1
"$L" ctl --json "$sock" list >"$TMP/list" || ok=0
grep -q '"name":"a","state":"running"' "$TMP/list" || ok=0
grep -q '"name":"b","state":"stopped"' "$TMP/list" || ok=0
"$L" ctl --json "$sock" pause a | grep -q '"state":"paused"' || ok=0
"$L" ctl --json "$sock" list | grep -q '"name":"a","state":"paused"' || ok=0
"$L" ctl --json "$sock" resume a | grep -q '"state":"running"' || ok=0
"$L" ctl --json "$sock" status a >"$TMP/status" || ok=0
pid_a=$(grep -o '"name":"a","state":"running","role":"user","pid":[0-9]*' "$TMP/list" | grep -o '[0-9]*$')
"$L" ctl --json "$sock" restart a | grep -q '"state":"restarting"' || ok=0
pid_a2=""
for _ in $(seq 50); do
	pid_a2=$("$L" ctl --json "$sock" list | grep -o '"name":"a","state":"running","role":"user","pid":[0-9]*' | grep -o '[0-9]*$')
	[ -n "$pid_a2" ] && [ "$pid_a2" != "$pid_a" ] && break
	sleep 0.1
done
[ -n "$pid_a2" ] && [ "$pid_a2" != "$pid_a" ] || ok=0
grep -q '"exits":{"io":[1-9]' "$TMP/status" || ok=0
grep -q '"id":"net0"' "$TMP/status" || ok=0
[ $ok = 1 ] && pass ctl-list-status-pause-resume-restart || { cat "$TMP/list" "$TMP/status" >&2; fail ctl-list-status-pause-resume-restart "a control operation failed (restart: pid $pid_a -> ${pid_a2:-none})"; }

# With the link down, b's ARP goes nowhere: it times out (status 1).
"$L" ctl --json "$sock" link-down l0 >/dev/null
"$L" ctl --json "$sock" start b >/dev/null
for _ in $(seq 100); do grep -q '"partition":"b","reason":"poweroff"' "$TMP/events.jsonl" 2>/dev/null && break; sleep 0.1; done
if grep -q '"event":"link_down","link":"l0"' "$TMP/events.jsonl" &&
   grep -q '"partition":"b","reason":"poweroff","status":1' "$TMP/events.jsonl" &&
   ! contains "$out" "[b] net: ping reply"; then pass link-down-cuts-traffic
else show "$out"; fail link-down-cuts-traffic "b reached a through a link that was down"; fi

"$L" ctl --json "$sock" link-up l0 >/dev/null
"$L" ctl --json "$sock" start b >/dev/null
for _ in $(seq 100); do contains "$out" "[b] net: ok" && break; sleep 0.1; done
if contains "$out" "[b] net: ping reply from 10.0.3.1"; then pass link-up-restores-traffic
else show "$out"; fail link-up-restores-traffic "no ping reply after link-up"; fi

# Refused with a reason: by the supervisor (exit 1), by lvmm ctl itself (usage:
# exit 2), and by the API (a JSON error with a 4xx).
ok=1
"$L" ctl --json "$sock" pause nosuch >"$TMP/r"; [ $? -eq 1 ] && grep -q "no partition called 'nosuch'" "$TMP/r" || ok=0
"$L" ctl --json "$sock" frobnicate >"$TMP/r" 2>&1; [ $? -eq 2 ] && grep -q "unknown operation 'frobnicate'" "$TMP/r" || ok=0
"$L" ctl --json "$sock" pause >"$TMP/r" 2>&1; [ $? -eq 2 ] && grep -q "usage: .*pause PARTITION" "$TMP/r" || ok=0
curl -s --unix-socket "$sock" -X POST http://localhost/v1/partitions/a/frobnicate -w ' %{http_code}' >"$TMP/r"
grep -q '^{"ok":false,"error":"no such path: /v1/partitions/a/frobnicate.* 404$' "$TMP/r" || ok=0
[ $ok = 1 ] && pass ctl-refuses-bad-requests || fail ctl-refuses-bad-requests "a bad request was not refused with a clear error"
"$L" ctl --json "$sock" stop a >/dev/null
wait $sup

# A guest that crashes is restarted with back-off, up to its limit.
cat >"$TMP/crash.yaml" <<YAML
events: $TMP/crash.jsonl
partitions:
  - name: crashy
    kernel: $PWD/$GUESTS/fault.elf
    memory: 16M
    restart: on-crash
    restart_limit: 2
    restart_delay_ms: 50
YAML
run_lvmm 60 "$out" run "$TMP/crash.yaml"
starts=$(grep -c '"event":"partition_start"' "$TMP/crash.jsonl")
crashes=$(grep -c '"reason":"triple-fault"' "$TMP/crash.jsonl")
if [ $rc -eq 122 ] && [ "$starts" -eq 3 ] && [ "$crashes" -eq 3 ] &&
   grep -q '"event":"restart_limit","partition":"crashy","restarts":2' "$TMP/crash.jsonl"; then
	pass restart-on-crash-with-limit
else cat "$TMP/crash.jsonl" >&2; fail restart-on-crash-with-limit "rc=$rc starts=$starts crashes=$crashes"; fi

cat >"$TMP/tap.yaml" <<YAML
partitions:
  - name: u
    kernel: $PWD/$GUESTS/hello.elf
    devices: [ { type: net, tap: lvmmt0 } ]
YAML
run_lvmm 10 "$out" check "$TMP/tap.yaml"
if [ $rc -eq 120 ] && contains "$out" "tap.yaml:4: TAP device 'lvmmt0' in partition 'u' (role user)"; then
	pass check-rejects-tap-in-user-partition
else show "$out"; fail check-rejects-tap-in-user-partition "rc=$rc"; fi

# A forbidden system call (the test-only port 0xf0 makes the VMM open a file)
# kills that partition's process; the supervisor records it; the other one runs on.
cat >"$TMP/sandbox.yaml" <<YAML
events: $TMP/sandbox.jsonl
partitions:
  - name: victim
    kernel: $PWD/$GUESTS/hello.elf
    cmdline: "outb=0xf0:0x5a"
    memory: 16M
    test_device: true
  - name: bystander
    kernel: $PWD/$GUESTS/ticker.elf
    cmdline: "tick_ms=100 ticks=20"
    memory: 16M
YAML
run_lvmm 30 "$out" run "$TMP/sandbox.yaml"
if [ $rc -eq 123 ] && contains "$out" "[victim] hello: outb 0xf0 <- 0x5a" && ! contains "$out" "[victim] hello: outb done" &&
   grep -q '"partition":"victim","reason":"killed".*sandbox violation.*"signal":31' "$TMP/sandbox.jsonl" &&
   contains "$out" "[bystander] tick 20" && contains "$out" "[bystander] ticker: done"; then
	pass sandbox-violation-kills-only-that-partition
else show "$out"; cat "$TMP/sandbox.jsonl" >&2; fail sandbox-violation-kills-only-that-partition "rc=$rc"; fi

# SIGKILL one partition's process: the other partition's console keeps advancing.
cat >"$TMP/kill.yaml" <<YAML
control: $sock
events: $TMP/kill.jsonl
partitions:
  - name: doomed
    kernel: $PWD/$GUESTS/ticker.elf
    memory: 16M
  - name: survivor
    kernel: $PWD/$GUESTS/ticker.elf
    cmdline: "tick_ms=100 ticks=30"
    memory: 16M
YAML
timeout 60 "$L" run "$TMP/kill.yaml" </dev/null >"$out" 2>&1 &
sup=$!
for _ in $(seq 50); do [ -S "$sock" ] && grep -q "\[survivor\] tick 3" "$out" && break; sleep 0.1; done
victim=$("$L" ctl --json "$sock" list | grep -o '"name":"doomed","state":"running","role":"user","pid":[0-9]*' | grep -o '[0-9]*$')
before=$(grep -c "^\[survivor\] tick" "$out")
[ -n "$victim" ] && sigpid KILL "$victim"
sleep 1.5
after=$(grep -c "^\[survivor\] tick" "$out")
"$L" ctl --json "$sock" list >"$TMP/list2" 2>&1
"$L" ctl --json "$sock" stop doomed >/dev/null 2>&1
wait $sup
if [ -n "$victim" ] && [ "$after" -ge $((before + 8)) ] &&
   grep -q '"name":"doomed","state":"exited"' "$TMP/list2" &&
   grep -q '"name":"survivor","state":"running"' "$TMP/list2" &&
   grep -q '"partition":"doomed","reason":"killed","status":123' "$TMP/kill.jsonl" &&
   contains "$out" "[survivor] ticker: done"; then
	pass killed-partition-leaves-others-running
else show "$out"; cat "$TMP/list2" >&2; fail killed-partition-leaves-others-running "victim=$victim ticks before=$before after=$after"; fi

# The I/O thread asks the scheduler for a short slice (100 us; src/vmm/iothread.c):
# on a core shared with spinning threads a woken I/O thread then preempts at
# once instead of after their slice; a link moved 2-3x fewer frames without
# it (bench/link.sh, shared core). Custom slices need Linux 6.12 (EEVDF).
if ! grep -q '^se.slice' /proc/self/sched 2>/dev/null ||
   [ "$(printf '%s\n' 6.12 "$(uname -r)" | sort -V | head -1)" != 6.12 ]; then
	skip link-io-thread-short-slice "the kernel has no custom scheduler slices (Linux 6.12)"
else
	sed 's/net_serve_ms=2000/net_serve_ms=4000/' "$TMP/link.yaml" >"$TMP/slice.yaml"
	timeout 60 "$L" run "$TMP/slice.yaml" </dev/null >"$out" 2>&1 &
	sup=$! pid= slice= io=
	for _ in $(seq 50); do
		pid=$(sed -n 's/.*event=partition_start partition=a pid=\([0-9]*\).*/\1/p' "$out" | head -1)
		[ -n "$pid" ] && grep -q "^\[a\] " "$out" && break
		sleep 0.1
	done
	for t in /proc/$pid/task/*; do
		[ -n "$pid" ] && [ "$(cat "$t/comm" 2>/dev/null)" = io ] && io=$t && break
	done
	[ -n "$io" ] && slice=$(sed -n 's/^se.slice *: *\([0-9]*\)/\1/p' "$io/sched")
	wait $sup
	if [ "$slice" = 100000 ]; then pass link-io-thread-short-slice
	else show "$out"; fail link-io-thread-short-slice "pid=$pid io=$io se.slice=$slice (want 100000)"; fi
fi
