#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Graceful shutdown and reboot (docs/cli.md, docs/acpi.md): `lvmm ctl SOCK
# shutdown|reboot PARTITION [SECONDS]` (POST /v1/partitions/NAME/shutdown
# ?timeout=SECONDS) presses the partition's ACPI power button; a guest that honours it (the in-tree guests' runtime polls the
# GED's event register and writes \_S5 to the sleep control register) ends
# cleanly, one that ignores it is stopped (restarted, for a reboot) once the
# timeout has passed. The requested end never triggers the restart policy.
. "$(dirname "$0")/../lib.sh"

CASES="shutdown-powers-off-within-a-second shutdown-not-restarted-by-policy
       shutdown-ignored-escalates-to-stop shutdown-refusals reboot-restarts-the-guest
       reboot-ignored-escalates-to-restart stop-cancels-a-pending-reboot shutdown-while-restarting-refused"
skip_all_without_kvm $CASES
L=$LVMM
sock=$TMP/ctl.sock
ev=$TMP/ev.jsonl
out=$TMP/out

# up YAML: start a platform in the background ($sup), wait for its socket.
up() {
	rm -f "$ev" "$out"
	timeout 120 "$L" run "$1" </dev/null >"$out" 2>&1 &
	sup=$!
	for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
}
# wait_for PATTERN FILE [TENTHS]: until the fixed string is in FILE.
wait_for() {
	local t=0
	while [ $t -lt "${3:-100}" ]; do contains "$2" "$1" 2>/dev/null && return 0; sleep 0.1; t=$((t + 1)); done
	return 1
}
# json_num FIELD LINE: the number after "FIELD": in LINE.
json_num() { grep -o "\"$1\":[0-9]*" <<<"$2" | head -1 | cut -d: -f2; }
down() { sigpid TERM "$sup" 2>/dev/null; wait "$sup" 2>/dev/null; }

cat >"$TMP/a.yaml" <<YAML
control: $sock
events: $ev
partitions:
  - name: t
    kernel: $PWD/$GUESTS/ticker.elf
    cmdline: "tick_ms=50"
    memory: 16M
    restart: always
  - name: h
    kernel: $PWD/$GUESTS/hello.elf
    cmdline: "hold_ms=60000 exit=7"
    memory: 16M
  - name: s
    kernel: $PWD/$GUESTS/hello.elf
    memory: 16M
    autostart: false
YAML
up "$TMP/a.yaml"
wait_for "[t] tick 2" "$out" && wait_for "[h] hello: holding" "$out"
t0=$(date +%s%N)
"$L" ctl --json "$sock" shutdown t >"$TMP/r1"; rc1=$?
"$L" ctl --json "$sock" shutdown h >"$TMP/r2"; rc2=$?
wait_for '"partition":"h","reason":"poweroff"' "$ev" 30
wait_for '"partition":"t","reason":"poweroff"' "$ev" 30
t1=$(date +%s%N)
ex_t=$(grep '"event":"partition_exit","partition":"t"' "$ev")
ex_h=$(grep '"event":"partition_exit","partition":"h"' "$ev")
# Within a second of the request, by the guest's own power-off (status 0, not hello's exit=7).
if [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && grep -q '"ok":true,"partition":"t","state":"running","timeout_ms":30000,"then":"stop"' "$TMP/r1" &&
   grep -q '"event":"partition_shutdown","partition":"t","by":"uid:[0-9]*","timeout_ms":30000' "$ev" &&
   grep -q '"reason":"poweroff","status":0,.*"requested":"shutdown","after_ms":' <<<"$ex_t" &&
   grep -q '"reason":"poweroff","status":0,.*"requested":"shutdown","after_ms":' <<<"$ex_h" &&
   [ "$(json_num after_ms "$ex_t")" -lt 1000 ] && [ "$(json_num after_ms "$ex_h")" -lt 1000 ] &&
   contains "$out" "[t] power button: powering off" && contains "$out" "[h] power button: powering off" &&
   ! contains "$out" "[h] hello: exit 7"; then
	pass shutdown-powers-off-within-a-second
	echo "# shutdown: t after $(json_num after_ms "$ex_t") ms, h after $(json_num after_ms "$ex_h") ms (requests to both ends: $(((t1 - t0) / 1000000)) ms)"
else
	cat "$TMP/r1" "$TMP/r2" "$ev" >&2; show "$out"
	fail shutdown-powers-off-within-a-second "rc=$rc1/$rc2; the guests did not power off cleanly within a second"
fi
# restart: always must not bring back a partition the operator shut down.
sleep 0.5
if [ "$(grep -c '"event":"partition_start","partition":"t"' "$ev")" -eq 1 ] &&
   ! grep -q '"partition_restart_scheduled","partition":"t"' "$ev" &&
   "$L" ctl --json "$sock" list | grep -q '"name":"t","state":"exited"'; then
	pass shutdown-not-restarted-by-policy
else cat "$ev" >&2; fail shutdown-not-restarted-by-policy "a shut-down partition with restart: always came back"; fi

ok=1
"$L" ctl --json "$sock" shutdown s >"$TMP/r"; [ $? -eq 1 ] && grep -q "\"ok\":false,\"error\":\"partition 's' is not running (state stopped)\"" "$TMP/r" || ok=0
"$L" ctl --json "$sock" shutdown nosuch >"$TMP/r"; [ $? -eq 1 ] && grep -q "no partition called 'nosuch'" "$TMP/r" || ok=0
# lvmm ctl checks the timeout and the arguments itself (usage errors: 2) ...
"$L" ctl "$sock" reboot t 0 >"$TMP/r" 2>&1; [ $? -eq 2 ] && grep -q "reboot: the timeout must be 1-3600 seconds" "$TMP/r" || ok=0
"$L" ctl "$sock" shutdown t 3601 >"$TMP/r" 2>&1; [ $? -eq 2 ] && grep -q "timeout must be" "$TMP/r" || ok=0
"$L" ctl "$sock" shutdown >"$TMP/r" 2>&1; [ $? -eq 2 ] && grep -q "usage: .* shutdown PARTITION \[SECONDS\]" "$TMP/r" || ok=0
"$L" ctl "$sock" shutdown t 5 x >"$TMP/r" 2>&1; [ $? -eq 2 ] && grep -q "usage: .* shutdown PARTITION \[SECONDS\]" "$TMP/r" || ok=0
# ... and so does the API for a client that does not (HTTP: ?timeout=, 400), before anything is done.
for v in 0 3601 abc -1; do
	curl -s -o "$TMP/r" -w '%{http_code}' -X POST --unix-socket "$sock" \
		"http://localhost/v1/partitions/t/shutdown?timeout=$v" | grep -qx 400 &&
		grep -q '"ok":false,"error":"shutdown: the timeout must be 1-3600 seconds"' "$TMP/r" || ok=0
done
curl -s -o "$TMP/r" -w '%{http_code}' -X POST --unix-socket "$sock" \
	"http://localhost/v1/partitions/s/reboot?timeout=5" | grep -qx 409 || ok=0
"$L" ctl --json "$sock" help | grep -q '"reboot PARTITION \[SECONDS\]"' || ok=0
"$L" ctl --json "$sock" help | grep -q '"POST /v1/partitions/{partition}/shutdown"' || ok=0
grep -q '"partition_shutdown","partition":"s"' "$ev" && ok=0 # nothing was pressed for a refusal
[ $ok = 1 ] && pass shutdown-refusals || { cat "$TMP/r" >&2; fail shutdown-refusals "a bad shutdown/reboot request was not refused with a clear error"; }
down

# A guest that ignores the button: stopped after the timeout (then SIGKILL as for stop).
cat >"$TMP/b.yaml" <<YAML
control: $sock
events: $ev
partitions:
  - name: i
    kernel: $PWD/$GUESTS/ticker.elf
    cmdline: "tick_ms=50 power_button=ignore"
    memory: 16M
  - name: ri
    kernel: $PWD/$GUESTS/ticker.elf
    cmdline: "tick_ms=50 power_button=ignore"
    memory: 16M
  - name: keep
    kernel: $PWD/$GUESTS/hello.elf
    memory: 16M
    autostart: false   # keeps the platform up once the others have ended
YAML
up "$TMP/b.yaml"
wait_for "[i] tick 2" "$out" && wait_for "[ri] tick 2" "$out"
"$L" ctl --json "$sock" shutdown i 1 >"$TMP/r1"; rc1=$?
"$L" ctl --json "$sock" reboot ri 1 >"$TMP/r2"; rc2=$?
wait_for '"partition":"i","reason":"stopped"' "$ev" 80
ex_i=$(grep '"event":"partition_exit","partition":"i"' "$ev")
if [ $rc1 -eq 0 ] && grep -q '"timeout_ms":1000,"then":"stop"' "$TMP/r1" &&
   contains "$out" "[i] power button: pressed, ignored" &&
   grep -q '"event":"partition_power_timeout","partition":"i","requested":"shutdown","after_ms":[0-9]*,"then":"stop"' "$ev" &&
   grep -q '"event":"partition_stop","partition":"i","by":"shutdown-timeout"' "$ev" &&
   grep -q '"requested":"shutdown"' <<<"$ex_i" && [ "$(json_num after_ms "$ex_i")" -ge 1000 ] &&
   [ "$(json_num after_ms "$ex_i")" -lt 5000 ]; then
	pass shutdown-ignored-escalates-to-stop
else cat "$TMP/r1" "$ev" >&2; show "$out"; fail shutdown-ignored-escalates-to-stop "rc=$rc1; no stop after the 1 s timeout"; fi

# The same for a reboot: restarted (a new process) instead.
wait_for '"event":"partition_start","partition":"ri","pid"' "$ev" 80
for _ in $(seq 80); do [ "$(grep -c '"event":"partition_start","partition":"ri"' "$ev")" -ge 2 ] && break; sleep 0.1; done
if [ $rc2 -eq 0 ] && grep -q '"then":"restart"' "$TMP/r2" &&
   grep -q '"event":"partition_power_timeout","partition":"ri","requested":"reboot","after_ms":[0-9]*,"then":"restart"' "$ev" &&
   grep -q '"event":"partition_stop","partition":"ri","by":"reboot-timeout"' "$ev" &&
   grep -q '"event":"partition_exit","partition":"ri".*"requested":"reboot"' "$ev" &&
   [ "$(grep -c '"event":"partition_start","partition":"ri"' "$ev")" -eq 2 ]; then
	pass reboot-ignored-escalates-to-restart
else cat "$TMP/r2" "$ev" >&2; show "$out"; fail reboot-ignored-escalates-to-restart "rc=$rc2; no restart after the 1 s timeout"; fi

# stop after a reboot request: the stop wins, no restart.
for _ in $(seq 50); do "$L" ctl --json "$sock" list | grep -q '"name":"ri","state":"running"' && break; sleep 0.1; done
"$L" ctl "$sock" reboot ri 30 >/dev/null
"$L" ctl "$sock" stop ri >/dev/null
sleep 1.5
if [ "$(grep -c '"event":"partition_start","partition":"ri"' "$ev")" -eq 2 ] &&
   "$L" ctl --json "$sock" list | grep -q '"name":"ri","state":"exited"'; then
	pass stop-cancels-a-pending-reboot
else cat "$ev" >&2; fail stop-cancels-a-pending-reboot "a stopped partition was rebooted"; fi
down

# A guest that honours reboot: it powers off and comes back at once.
cat >"$TMP/c.yaml" <<YAML
control: $sock
events: $ev
partitions:
  - name: r
    kernel: $PWD/$GUESTS/ticker.elf
    cmdline: "tick_ms=50"
    memory: 16M
YAML
up "$TMP/c.yaml"
wait_for "tick 2" "$out"
pid1=$("$L" ctl --json "$sock" list | grep -o '"pid":[0-9]*' | cut -d: -f2)
"$L" ctl --json "$sock" reboot r >"$TMP/r1"; rc1=$?
for _ in $(seq 50); do [ "$(grep -c '"event":"partition_start","partition":"r"' "$ev" 2>/dev/null)" -ge 2 ] && break; sleep 0.1; done
sleep 0.5
pid2=$("$L" ctl --json "$sock" list | grep -o '"pid":[0-9]*' | cut -d: -f2)
if [ $rc1 -eq 0 ] && grep -q '"event":"partition_reboot","partition":"r"' "$ev" &&
   grep -q '"event":"partition_exit","partition":"r","reason":"poweroff","status":0,.*"requested":"reboot"' "$ev" &&
   [ "$(grep -c '"event":"partition_start","partition":"r"' "$ev")" -eq 2 ] &&
   [ "$(grep -c 'ticker: every 50 ms' "$out")" -eq 2 ] && [ -n "$pid2" ] && [ "$pid2" != "$pid1" ] &&
   "$L" ctl --json "$sock" list | grep -q '"name":"r","state":"running"' && ! grep -q partition_stop "$ev"; then
	pass reboot-restarts-the-guest
else cat "$TMP/r1" "$ev" >&2; show "$out"; fail reboot-restarts-the-guest "rc=$rc1; pid $pid1 -> ${pid2:-none}"; fi

# shutdown while a restart is under way (one curl, two requests back to back on one
# connection): refused, and the restart goes on. (It used to be accepted and cancel it.)
# The refusal names the restart's step the request met: "stopping" while the old
# process goes, "starting" once the new one is being made (CI met both).
for _ in $(seq 50); do "$L" ctl --json "$sock" list | grep -q '"name":"r","state":"running"' && break; sleep 0.1; done
n0=$(grep -c '"event":"partition_start","partition":"r"' "$ev")
codes=$(curl -s -X POST --unix-socket "$sock" -w '%{http_code}\n' -o "$TMP/q1" -o "$TMP/q2" \
	http://localhost/v1/partitions/r/restart http://localhost/v1/partitions/r/shutdown | tr '\n' ' ')
for _ in $(seq 50); do [ "$(grep -c '"event":"partition_start","partition":"r"' "$ev")" -gt "$n0" ] && break; sleep 0.1; done
sleep 0.3
n1=$(grep -c '"event":"partition_start","partition":"r"' "$ev")
if [ "$codes" = "200 200 " ] && [ "$n1" -gt "$n0" ] &&
   tail -n +"$(grep -n '"event":"partition_start","partition":"r"' "$ev" | tail -1 | cut -d: -f1)" "$ev" | grep -q '"partition_shutdown","partition":"r"'; then
	skip shutdown-while-restarting-refused "the restart had completed before the second request (timing)"
elif [ "$codes" = "200 409 " ] && grep -Eq "\"error\":\"partition 'r' is not running \(state (stopping|starting)\)\"" "$TMP/q2" &&
   [ "$n1" -eq $((n0 + 1)) ] && "$L" ctl --json "$sock" list | grep -q '"name":"r","state":"running"'; then
	pass shutdown-while-restarting-refused
else cat "$TMP/q1" "$TMP/q2" "$ev" >&2; fail shutdown-while-restarting-refused "codes $codes; starts $n0 -> $n1 (the restart was cancelled?)"; fi
down
