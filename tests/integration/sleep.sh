#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Issue 9 item 5: ACPI sleep states mediated by lvmm (docs/acpi.md, "Sleep").
# A user partition (tests/guests/ticker.c sleep_at=N) writes SLP_TYP=S3|SLP_EN
# to its sleep control register: it stops at once (acknowledged: the guest
# believes it sleeps); the platform follows only when no service partition is
# busy (the service guest's busy_ms=N: "busy service" at start, "idle service"
# N ms later); a wake before that cancels the transition (the seeds' step
# 3c), a wake after it resumes every partition; the guest continues after its
# sleep write and finds WAK_STS. Also: the host hook, run by `lvmm ctl
# on-sleep` outside the supervisor (fixed argv, bounded time), S5 powering
# the partition off, console input as a wake, refusals.
. "$(dirname "$0")/../lib.sh"

CASES="sleep-delayed-while-service-busy sleep-platform-sleeps-when-idle sleep-wake-after-transition
       sleep-wake-before-transition-cancels sleep-wake-by-console-input sleep-hook-runs-bounded
       sleep-s5-ends-partition sleep-refusals sleep-hook-checked"
skip_all_without_kvm $CASES
L=$LVMM
sock=$TMP/c.sock
ev=$TMP/ev.jsonl
out=$TMP/out
SVC=$PWD/$GUESTS/service.elf
TICKER=$PWD/$GUESTS/ticker.elf
BG=""
cleanup() {
	local p
	for p in $BG; do sigpid KILL "$p" 2>/dev/null; done
	cleanup_tmp
}
trap cleanup EXIT
state_of() { "$L" ctl --json "$sock" list 2>/dev/null | grep -o "\"name\":\"$1\",\"state\":\"[a-z]*\"" | grep -o '[a-z]*"$' | tr -d '"'; }
# line N of the first event matching PATTERN in the log (0: none)
at() { grep -n -- "$1" "$ev" | head -n 1 | cut -d: -f1 | grep . || echo 0; }

# platform BUSY_MS USER_CMDLINE [SLEEP_BLOCK]
platform() {
	cat >"$TMP/p.yaml" <<YAML
control: $sock
events: $ev
${3:-}
partitions:
  - { name: service, role: service, kernel: $SVC, cmdline: "bridge=0 busy_ms=$1", memory: 16M,
      console: file:$TMP/svc.log, devices: [ { type: stream, control: true } ] }
  - { name: user, kernel: $TICKER, cmdline: "tick_ms=100 $2", memory: 16M, console: file:$TMP/user.log }
  - { name: other, kernel: $TICKER, cmdline: "tick_ms=100", memory: 16M, console: none }
YAML
	rm -f "$ev" "$TMP/svc.log" "$TMP/user.log"
	start_bg "$out" run "$TMP/p.yaml"
	wait_sock "$sock"
}
# on_sleep ARGS...: the host hook's follower (lvmm ctl on-sleep), its output in $TMP/hook.out;
# it is following once its first event (the stream's "following" line) would have been read.
on_sleep() {
	rm -f "$TMP/hook.out"
	"$L" ctl "$sock" on-sleep "$@" >"$TMP/hook.out" 2>&1 &
	BG="$BG $!"
	sleep 0.3
}

# ---- busy, then idle: the platform sleeps; a wake resumes everything ---------------------------
# The service is busy for 4 s from its start and the user sleeps at its third tick (~0.3 s): the
# platform waits ~3.5 s. The margin is for a loaded host, where the user's ticks came 1.6 s late
# and a 2.5 s busy window left too little wait to tell (two rechecks, waited_ms 1063).
platform 4000 "sleep_at=3" "sleep: { recheck_ms: 500 }"
on_sleep /usr/bin/touch "$TMP/hook-ran"
wait_grep "$ev" '"event":"platform_sleep"' 100
if [ "$(at '"event":"sleep_request","partition":"user","state":"S3"')" -gt 0 ] &&
   [ "$(at '"event":"sleep_delayed","partition":"user","busy":"service"')" -gt "$(at '"event":"sleep_request"')" ] &&
   [ "$(grep -c '"event":"sleep_delayed"' "$ev")" -ge 3 ] &&
   contains "$TMP/user.log" "ticker: entering S3" && ! contains "$TMP/user.log" "tick 4"; then
	pass sleep-delayed-while-service-busy
else show "$ev"; fail sleep-delayed-while-service-busy "no sleep_request then repeated sleep_delayed naming the busy service, or the guest did not stop at its S3 write"; fi
sleep 0.5
if grep -q '"event":"platform_sleep","partition":"user","paused":2,"waited_ms":[2-4][0-9][0-9][0-9]' "$ev" &&
   [ "$(state_of service)" = paused ] && [ "$(state_of other)" = paused ] && [ "$(state_of user)" = paused ] &&
   [ -e "$TMP/hook-ran" ] && grep -q '^sleep_hook_exit pid=[0-9]* status=0 ' "$TMP/hook.out" &&
   [ "$(at '"event":"platform_sleep"')" -gt "$(at '"event":"sleep_delayed"')" ]; then
	pass sleep-platform-sleeps-when-idle
else show "$ev"; cat "$TMP/hook.out" >&2; "$L" ctl "$sock" list >&2; fail sleep-platform-sleeps-when-idle "the platform did not sleep (all paused, hook run) once the service was idle"; fi
"$L" ctl --json "$sock" wake user >"$TMP/wake" 2>&1
wait_grep "$TMP/user.log" "tick 5" 50
if grep -q '"ok":true,"partition":"user","state":"running"' "$TMP/wake" &&
   grep -q '"event":"wake","partition":"user","by":"uid:[0-9]*","slept_ms":[0-9]*' "$ev" &&
   contains "$TMP/user.log" "ticker: woke from S3 (WAK_STS)" && contains "$TMP/user.log" "tick 5" &&
   [ "$(state_of service)" = running ] && [ "$(state_of other)" = running ] && [ "$(state_of user)" = running ]; then
	pass sleep-wake-after-transition
else cat "$TMP/wake" >&2; show "$ev"; fail sleep-wake-after-transition "the wake did not resume every partition, or the guest did not continue after its sleep write with WAK_STS"; fi
stop_sup

# ---- the guest wakes before the platform transition: cancelled ------------------------------------
platform 60000 "sleep_at=3"
wait_grep "$ev" '"event":"sleep_delayed"' 100
"$L" ctl --json "$sock" wake user >"$TMP/wake" 2>&1
wait_grep "$TMP/user.log" "tick 5" 50
sleep 0.3
if grep -q '"event":"sleep_cancelled","partition":"user","by":"uid:[0-9]*","after_ms":[0-9]*' "$ev" &&
   ! grep -q '"event":"platform_sleep"' "$ev" && ! grep -q '"event":"partition_paused","partition":"\(other\|service\)"' "$ev" &&
   contains "$TMP/user.log" "ticker: woke from S3 (WAK_STS)" && [ "$(state_of user)" = running ]; then
	pass sleep-wake-before-transition-cancels
else show "$ev"; fail sleep-wake-before-transition-cancels "an early wake did not cancel the platform transition"; fi
stop_sup

# ---- console input wakes the sleeping guest ----------------------------------------------------------
platform 60000 "sleep_at=3"
wait_grep "$ev" '"event":"sleep_delayed"' 100
{ sleep 0.3; printf 'x\n'; sleep 1; } | timeout 5 "$L" console "$sock" user >/dev/null 2>&1
wait_grep "$ev" '"event":"sleep_cancelled"' 50
if grep -q '"event":"partition_resumed","partition":"user","by":"console"' "$ev" &&
   grep -q '"event":"sleep_cancelled","partition":"user","by":"console"' "$ev" &&
   wait_grep "$TMP/user.log" "ticker: woke from S3 (WAK_STS)" 30; then
	pass sleep-wake-by-console-input
else show "$ev"; fail sleep-wake-by-console-input "typing on the sleeping partition's console did not wake it"; fi

# ---- refusals: wake of an awake partition, busy of a user partition ----------------------------------------
"$L" ctl "$sock" wake other >"$TMP/r1" 2>&1; r1=$?
"$L" ctl "$sock" busy user >"$TMP/r2" 2>&1; r2=$?
code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$sock" -X POST http://localhost/v1/partitions/other/wake)
if [ $r1 -eq 1 ] && grep -q "not asleep" "$TMP/r1" && [ $r2 -eq 1 ] && grep -q "not a service partition" "$TMP/r2" &&
   [ "$code" = 409 ]; then
	pass sleep-refusals
else cat "$TMP/r1" "$TMP/r2" >&2; echo "http $code" >&2; fail sleep-refusals "wake of an awake partition or busy of a user partition was not refused (409/400)"; fi
stop_sup

# ---- the hook is bounded (the service is busy for 1.5 s: the follower is in place before) ----------------
platform 1500 "sleep_at=2"
on_sleep --timeout-ms 300 /usr/bin/sleep 60
wait_grep "$TMP/hook.out" '^sleep_hook_exit' 100
if grep -q '^sleep_hook hook=/usr/bin/sleep pid=[0-9]* partition=user$' "$TMP/hook.out" &&
   grep -q '^sleep_hook_exit pid=[0-9]* signal=9 after_ms=\([3-9][0-9][0-9]\|1[0-9][0-9][0-9]\)$' "$TMP/hook.out" &&
   ! grep -q '"event":"sleep_hook' "$ev"; then
	pass sleep-hook-runs-bounded
else show "$ev"; cat "$TMP/hook.out" >&2; fail sleep-hook-runs-bounded "a hook past --timeout-ms was not killed and reported by lvmm ctl on-sleep"; fi
stop_sup

# ---- S5 ends the partition ----------------------------------------------------------------------------------
platform 0 "sleep_at=2 sleep_state=5"
wait_grep "$ev" '"event":"partition_exit","partition":"user"' 50
if grep -q '"event":"partition_exit","partition":"user","reason":"poweroff","status":0' "$ev" &&
   contains "$TMP/user.log" "ticker: entering S5" && ! contains "$TMP/user.log" "woke" &&
   ! grep -q '"event":"sleep_request"' "$ev" && [ "$(state_of other)" = running ]; then
	pass sleep-s5-ends-partition
else show "$ev"; fail sleep-s5-ends-partition "an S5 write did not power the partition off (alone)"; fi
stop_sup

# ---- a hook in the platform file is refused with where it went; on-sleep wants an absolute program ----------
cat >"$TMP/bad.yaml" <<YAML
sleep: { hook: [ /usr/bin/touch, x ] }
partitions:
  - { name: user, kernel: $TICKER }
YAML
"$L" check "$TMP/bad.yaml" >"$TMP/chk" 2>&1; crc=$?
"$L" ctl "$TMP/none.sock" on-sleep touch x >"$TMP/chk2" 2>&1; crc2=$?
if [ $crc -ne 0 ] && grep -q "bad.yaml:1: lvmm runs no host hook when the platform sleeps any more: run 'lvmm ctl SOCKET on-sleep" "$TMP/chk" &&
   [ $crc2 -eq 2 ] && grep -q "on-sleep: 'touch' is not an executable file given by its absolute path" "$TMP/chk2"; then
	pass sleep-hook-checked
else cat "$TMP/chk" "$TMP/chk2" >&2; fail sleep-hook-checked "a platform file's hook was not refused with file:line and the way out, or on-sleep took a relative program"; fi
