#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The supervisor as the owner of its partitions' lives: signals end a run in
# order whatever state the partitions are in, a stop escalates, no partition
# outlives its supervisor, partitions get nothing they were not given (fds,
# identities), and the control socket cannot be stolen, starved or confused.
. "$(dirname "$0")/../lib.sh"

CASES="sigterm-ends-run-with-unstarted-partition sigint-ends-run-with-unstarted-partition
       group-sigterm-stops-partitions-in-order group-sighup-stops-partitions-in-order
       ctl-stop-of-sigstopped-partition-escalates ctl-restart-of-sigstopped-partition-escalates
       supervisor-kill9-leaves-no-partition new-run-gets-disk-after-kill9
       partition-inherits-no-stray-fd partitions-have-distinct-uids partition-keeps-uid-across-restart
       second-run-refuses-live-control-socket second-run-refuses-live-stream-socket
       ctl-overlong-request-answered ctl-request-without-newline-answered
       ctl-agent-pool-separate-from-host-clients ctl-per-uid-limit ctl-idle-client-closed
       ctl-without-operation-exits-nonzero policy-load-into-unpoliced-platform-covers-running
       pause-resume-and-link-events events-on-stderr-are-logfmt ctl-start-resets-reset-loop-back-off"
skip_all_without_kvm $CASES
L=$LVMM
sock=$TMP/ctl.sock
out=$TMP/out
BG=""

# Every background supervisor is killed at exit, whatever happened.
cleanup() {
	local p
	for p in $BG; do sigpid KILL "$p" 2>/dev/null; done
	cleanup_tmp
}
trap cleanup EXIT

# wait_gone PID TENTHS: until PID has exited; false if it still runs.
wait_gone() { for _ in $(seq "$2"); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; ! kill -0 "$1" 2>/dev/null; }
# wait_grep FILE PATTERN TENTHS
# pid_of PARTITION: its pid from `lvmm ctl list`.
pid_of() { "$L" ctl --json "$sock" list | grep -o "\"name\":\"$1\",\"state\":\"[a-z]*\",\"role\":\"[a-z]*\",[^}]*\"pid\":[0-9]*" | grep -o '[0-9]*$'; }
# wait_state PARTITION STATE: until `lvmm ctl list` shows it (5 s).
wait_state() { for _ in $(seq 50); do "$L" ctl --json "$sock" list 2>/dev/null | grep -q "\"name\":\"$1\",\"state\":\"$2\"" && return 0; sleep 0.1; done; return 1; }
# reap PID: wait for a background supervisor and set $rc (kills it after 10 s).
reap() { wait_gone "$1" 100 || sigpid KILL "$1" 2>/dev/null; wait "$1" 2>/dev/null; rc=$?; }
uid_of() { awk '/^Uid:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

TICKER=$PWD/$GUESTS/ticker.elf

# ---- signals -------------------------------------------------------------------

# A stopped autostart:false partition and a control socket: SIGTERM/SIGINT still end the run.
for sig in TERM INT; do
	name=sig$(echo $sig | tr A-Z a-z)-ends-run-with-unstarted-partition
	cat >"$TMP/s.yaml" <<YAML
control: $sock
events: $TMP/s.jsonl
partitions:
  - { name: a, kernel: $TICKER, memory: 16M }
  - { name: b, kernel: $TICKER, memory: 16M, autostart: false }
YAML
	rm -f "$TMP/s.jsonl"
	start_bg "$out" run "$TMP/s.yaml"
	wait_sock "$sock" && wait_state a running
	kill -$sig $sup
	if wait_gone $sup 80; then
		reap $sup
		if [ $rc -eq 0 ] && grep -q '"event":"shutdown"' "$TMP/s.jsonl" &&
		   grep -q '"partition":"a","reason":"stopped"' "$TMP/s.jsonl"; then pass "$name"
		else show "$out"; fail "$name" "rc=$rc"; fi
	else
		sigpid KILL $sup; wait $sup 2>/dev/null
		fail "$name" "lvmm run still running 8 s after SIG$sig"
	fi
done

# A signal to the whole process group (timeout, kill -- -PGID, a terminal): the
# partitions do not die of it; the supervisor stops them, status 0.
for sig in TERM HUP; do
	name=group-sig$(echo $sig | tr A-Z a-z)-stops-partitions-in-order
	cat >"$TMP/g.yaml" <<YAML
control: $sock
events: $TMP/g.jsonl
partitions:
  - { name: a, kernel: $TICKER, memory: 16M }
  - { name: b, kernel: $TICKER, memory: 16M }
YAML
	rm -f "$TMP/g.jsonl"
	setsid "$L" run "$TMP/g.yaml" </dev/null >"$out" 2>&1 &
	sup=$!
	BG="$BG $sup"
	wait_sock "$sock" && wait_state a running && wait_state b running
	kill -$sig -- -$sup
	reap $sup
	if [ $rc -eq 0 ] && [ "$(grep -c '"event":"partition_exit".*"reason":"stopped"' "$TMP/g.jsonl")" -eq 2 ] &&
	   ! grep -q '"reason":"killed"' "$TMP/g.jsonl"; then pass "$name"
	else show "$out"; cat "$TMP/g.jsonl" >&2; fail "$name" "rc=$rc (partitions killed by the group's signal?)"; fi
done

# ---- stop escalation --------------------------------------------------------------

cat >"$TMP/e.yaml" <<YAML
control: $sock
events: $TMP/e.jsonl
partitions:
  - { name: a, kernel: $TICKER, memory: 16M }
  - { name: keep, kernel: $TICKER, memory: 16M }
YAML
start_bg "$out" run "$TMP/e.yaml"
wait_sock "$sock" && wait_state a running
pa=$(pid_of a)
sigpid STOP "$pa"
"$L" ctl --json "$sock" stop a >"$TMP/r1"
if grep -q '"ok":true' "$TMP/r1" && grep -q '"kill_after_ms":3000' "$TMP/r1" && wait_gone "$pa" 60 &&
   wait_grep "$TMP/e.jsonl" '"event":"partition_kill","partition":"a"' 20 && wait_state a exited; then
	pass ctl-stop-of-sigstopped-partition-escalates
else cat "$TMP/r1" >&2; sigpid CONT "$pa" 2>/dev/null; fail ctl-stop-of-sigstopped-partition-escalates "a SIGSTOPped partition was not killed after the grace"; fi
"$L" ctl --json "$sock" start a >/dev/null
wait_state a running
pa=$(pid_of a)
sigpid STOP "$pa"
"$L" ctl --json "$sock" restart a >"$TMP/r2"
pa2=""
for _ in $(seq 60); do pa2=$(pid_of a); [ -n "$pa2" ] && [ "$pa2" != 0 ] && [ "$pa2" != "$pa" ] && break; sleep 0.1; done
if grep -q '"kill_after_ms":3000' "$TMP/r2" && [ -n "$pa2" ] && [ "$pa2" != "$pa" ] && [ "$pa2" != 0 ] &&
   wait_state a running && ! kill -0 "$pa" 2>/dev/null; then pass ctl-restart-of-sigstopped-partition-escalates
else cat "$TMP/r2" >&2; sigpid CONT "$pa" 2>/dev/null; fail ctl-restart-of-sigstopped-partition-escalates "pid $pa -> ${pa2:-none}"; fi
sigpid TERM $sup
reap $sup

# ---- a reset loop's back-off, and an operator's start -----------------------------

# reboot: true with a guest that resets at once: each start waits longer (1 s, 2 s, ...:
# boot.sh reboot-loop-backs-off); stopping it and starting it again by hand begins the
# back-off again at restart_delay_ms, as a start begins a new restart budget.
cat >"$TMP/loop.yaml" <<YAML
control: $sock
events: $TMP/loop.jsonl
partitions:
  - { name: loop, kernel: $PWD/$GUESTS/hello.elf, memory: 16M, cmdline: "reset=kbd", reboot: true }
  - { name: keep, kernel: $TICKER, memory: 16M }
YAML
start_bg "$out" run "$TMP/loop.yaml"
ok=1
wait_sock "$sock" || ok=0
wait_grep "$TMP/loop.jsonl" '"partition_restart_scheduled","partition":"loop","delay_ms":2000' 60 || ok=0
"$L" ctl --json "$sock" stop loop >/dev/null && wait_state loop exited || ok=0
"$L" ctl --json "$sock" start loop >/dev/null || ok=0
for _ in $(seq 60); do [ "$(restart_delays "$TMP/loop.jsonl" loop | wc -w)" -ge 3 ] && break; sleep 0.1; done
d=$(restart_delays "$TMP/loop.jsonl" loop)
stop_sup
if [ $ok = 1 ] && [ "$d" = "1000:0 2000:0 1000:0 " ]; then pass ctl-start-resets-reset-loop-back-off
else show "$out"; fail ctl-start-resets-reset-loop-back-off "delays '$d' (want 1000:0 2000:0 1000:0: the operator's start begins again)"; fi

# ---- no orphans ----------------------------------------------------------------------

# kill -9 of the supervisor with a running, a paused and a SIGSTOPped partition
# (the last holding a disk): none survives, and a new run gets the disk.
dd if=/dev/zero of="$TMP/disk.img" bs=1M count=1 status=none
cat >"$TMP/k.yaml" <<YAML
control: $sock
partitions:
  - { name: run, kernel: $TICKER, memory: 16M }
  - { name: paused, kernel: $TICKER, memory: 16M }
  - name: frozen
    kernel: $PWD/$GUESTS/blk.elf
    cmdline: "blk_hold=1"
    memory: 16M
    devices: [ { type: blk, path: $TMP/disk.img } ]
YAML
start_bg "$out" run "$TMP/k.yaml"
wait_sock "$sock" && wait_state run running && wait_state paused running && wait_grep "$out" "\[frozen\] blk: ok" 100
"$L" ctl --json "$sock" pause paused >/dev/null
pids="$(pid_of run) $(pid_of paused) $(pid_of frozen)"
sigpid STOP "$(pid_of frozen)"
sigpid KILL $sup
wait $sup 2>/dev/null
left=""
for p in $pids; do wait_gone "$p" 20 || left="$left $p"; done
if [ "$(echo $pids | wc -w)" -eq 3 ] && [ -z "$left" ]; then pass supervisor-kill9-leaves-no-partition
else
	fail supervisor-kill9-leaves-no-partition "partition processes [$pids] still alive: [$left]"
	for p in $left; do sigpid KILL "$p" 2>/dev/null; done
fi
run_lvmm 30 "$TMP/out2" run --kernel "$GUESTS/blk.elf" --memory 16 --disk "$TMP/disk.img"
if [ $rc -eq 0 ] && contains "$TMP/out2" "blk: ok"; then pass new-run-gets-disk-after-kill9
else show "$TMP/out2"; fail new-run-gets-disk-after-kill9 "rc=$rc"; fi

# ---- what a partition gets ---------------------------------------------------------------

echo "not for partitions" >"$TMP/secret"
cat >"$TMP/u.yaml" <<YAML
control: $sock
partitions:
  - { name: a, kernel: $TICKER, memory: 16M }
  - { name: b, kernel: $TICKER, memory: 16M }
YAML
"$L" run "$TMP/u.yaml" </dev/null >"$out" 2>&1 7<"$TMP/secret" &
sup=$!
BG="$BG $sup"
wait_sock "$sock" && wait_state a running && wait_state b running
pa=$(pid_of a); pb=$(pid_of b)
leaked=$(ls -l "/proc/$pa/fd/" 2>/dev/null | grep -c "$TMP/secret")
sup_has=$(ls -l "/proc/$sup/fd/" 2>/dev/null | grep -c "$TMP/secret")
nfd=$(ls "/proc/$pa/fd" 2>/dev/null | wc -l)
if [ -n "$pa" ] && [ "$sup_has" -eq 1 ] && [ "$leaked" -eq 0 ] && [ "$nfd" -gt 3 ]; then pass partition-inherits-no-stray-fd
else ls -l "/proc/$pa/fd/" >&2; fail partition-inherits-no-stray-fd "partition $pa holds the invoker's fd 7 (supervisor has it: $sup_has)"; fi
ua=$(uid_of "$pa"); ub=$(uid_of "$pb")
base=1879048192
if [ "$(id -u)" != 0 ]; then
	skip partitions-have-distinct-uids "needs root (without it partitions run as the invoking user)"
elif [ -n "$ua" ] && [ -n "$ub" ] && [ "$ua" != "$ub" ] && [ "$ua" -ge $base ] && [ "$ub" -ge $base ] &&
   [ "$ua" -lt $((base + 65536)) ] && [ "$ub" -lt $((base + 65536)) ]; then pass partitions-have-distinct-uids
else fail partitions-have-distinct-uids "uids a=$ua b=$ub"; fi
"$L" ctl --json "$sock" restart a >/dev/null
pa2=""
for _ in $(seq 50); do pa2=$(pid_of a); [ -n "$pa2" ] && [ "$pa2" != 0 ] && [ "$pa2" != "$pa" ] && break; sleep 0.1; done
wait_state a running
ua2=$(uid_of "$pa2")
if [ "$(id -u)" != 0 ]; then skip partition-keeps-uid-across-restart "needs root"
elif [ -n "$ua" ] && [ "$ua" -ge $base ] && [ "$ua2" = "$ua" ]; then pass partition-keeps-uid-across-restart
else fail partition-keeps-uid-across-restart "uid $ua before the restart, ${ua2:-none} after (pid $pa -> ${pa2:-none})"; fi

# ---- the control socket -------------------------------------------------------------------

# A second run with the same control path is refused; the first keeps its socket.
run_lvmm 10 "$TMP/out2" run --kernel "$TICKER" --memory 16 --control "$sock"
if [ $rc -ne 0 ] && contains "$TMP/out2" "in use" && "$L" ctl --json "$sock" list | grep -q '"name":"a"'; then
	pass second-run-refuses-live-control-socket
else show "$TMP/out2"; fail second-run-refuses-live-control-socket "rc=$rc; the first run lost its socket"; fi

# An over-long request (far more than a socket buffer) is answered, not dropped
# (libmicrohttpd: 414/431, its own plain body), and a client that half-closes
# after its request still gets the answer.
python3 - "$sock" >"$TMP/r3" 2>&1 <<'PY'
import socket, sys
def conv(data):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
    except OSError as e:
        print("send:", e)
    out = b""
    s.settimeout(10)
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except OSError as e:
        print("recv:", e)
    return out.decode(errors="replace")
print("long:", conv(b"GET /v1/partitions HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * 300000 + b"\r\n\r\n").splitlines()[0])
print("eof:", conv(b"GET /v1/partitions HTTP/1.0\r\n\r\n").splitlines()[-1])
PY
if grep -q '^long: HTTP/1.1 4[0-9][0-9] ' "$TMP/r3"; then pass ctl-overlong-request-answered
else cat "$TMP/r3" >&2; fail ctl-overlong-request-answered "no 4xx answer"; fi
if grep -q '^eof: {"ok":true,"partitions"' "$TMP/r3"; then pass ctl-request-without-newline-answered
else cat "$TMP/r3" >&2; fail ctl-request-without-newline-answered "no answer"; fi

"$L" ctl --json "$sock" >"$TMP/r5" 2>&1
rc=$?
if [ $rc -eq 2 ] && grep -q "Usage: lvmm ctl" "$TMP/r5"; then pass ctl-without-operation-exits-nonzero
else fail ctl-without-operation-exits-nonzero "rc=$rc"; fi
sigpid TERM $sup
reap $sup

# A listening stream socket that is in use is not taken over either.
cat >"$TMP/st.yaml" <<YAML
control: $sock
partitions:
  - name: a
    kernel: $PWD/$GUESTS/console.elf
    cmdline: "console_timeout_ms=60000"
    memory: 16M
    devices: [ { type: stream, socket: $TMP/st.sock, listen: true } ]
YAML
start_bg "$out" run "$TMP/st.yaml"
wait_sock "$sock" && wait_state a running
run_lvmm 10 "$TMP/out2" run --kernel "$GUESTS/console.elf" --memory 16 --stream "socket=$TMP/st.sock,listen"
echo hello-first | socat -t 3 - "UNIX-CONNECT:$TMP/st.sock" >"$TMP/r6" 2>&1
if [ $rc -ne 0 ] && contains "$TMP/out2" "in use" && grep -q "hello-first" "$TMP/r6"; then
	pass second-run-refuses-live-stream-socket
else show "$TMP/out2"; cat "$TMP/r6" >&2; fail second-run-refuses-live-stream-socket "rc=$rc; the first run's socket was taken"; fi
sigpid TERM $sup
reap $sup

# Idle host clients neither lock out an agent partition nor stay forever;
# one uid cannot take every host connection (docs/api.md, limits).
cat >"$TMP/ag.yaml" <<YAML
control: $sock
events: $TMP/ag.jsonl
partitions:
  - { name: a, kernel: $TICKER, memory: 16M }
  - name: agent
    autostart: false
    kernel: $PWD/$GUESTS/agent.elf
    cmdline: "cmd=list"
    memory: 16M
    devices: [ { type: stream, control: true } ]
YAML
start_bg "$out" run "$TMP/ag.yaml"
wait_sock "$sock" && wait_state a running
python3 - "$sock" "$L" >"$TMP/r7" 2>&1 <<'PY'
import socket, subprocess, sys, time
path, lvmm = sys.argv[1], sys.argv[2]
PER_UID = 24  # API_CONN_PER_UID (src/api/api.h)
idle = []
def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    idle.append(s)
for i in range(PER_UID - 1):
    connect()
time.sleep(0.3)
r = subprocess.run([lvmm, "ctl", "--json", path, "start", "agent"], capture_output=True, text=True)
print("start:", r.returncode, r.stdout.strip())
connect()
r = subprocess.run([lvmm, "ctl", "--json", path, "list"], capture_output=True, text=True)
print("over:", r.returncode, r.stdout.strip())
t0 = time.time()
s = idle[0]
s.settimeout(20)
data = b""
try:
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
except OSError as e:
    print("idle recv:", e)
print("idle: %.1f s '%s'" % (time.time() - t0, data.decode(errors="replace").strip()))
ok = None
for _ in range(50):
    r = subprocess.run([lvmm, "ctl", "--json", path, "list"], capture_output=True, text=True)
    if r.returncode == 0:
        ok = r.stdout.strip()
        break
    time.sleep(0.1)
print("after:", ok)
PY
wait_grep "$out" "\[agent\] agent: reply" 50
if grep -q '^start: 0 ' "$TMP/r7" && contains "$out" '[agent] agent: reply {"ok":true'; then
	pass ctl-agent-pool-separate-from-host-clients
else cat "$TMP/r7" >&2; show "$out"; fail ctl-agent-pool-separate-from-host-clients "the agent partition could not start with the host slots taken"; fi
if grep -q '^over: 1 .*too many control clients of uid 0' "$TMP/r7"; then pass ctl-per-uid-limit
else cat "$TMP/r7" >&2; fail ctl-per-uid-limit "a client over the per-uid limit was not refused"; fi
# libmicrohttpd closes a connection idle for API_IDLE_S (10 s) without an answer.
if grep -q "^idle: \(9\|1[0-2]\)\.[0-9] s ''" "$TMP/r7" && grep -q '^after: {"ok":true' "$TMP/r7"; then
	pass ctl-idle-client-closed
else cat "$TMP/r7" >&2; fail ctl-idle-client-closed "an idle client was not closed"; fi
sigpid TERM $sup
reap $sup

# ---- the first policy-load into a platform started without a policy ------------------------
cat >"$TMP/np.yaml" <<YAML
control: $sock
events: $TMP/np.jsonl
partitions:
  - { name: a, label: svc, kernel: $TICKER, memory: 16M }
  - { name: b, label: usr, kernel: $TICKER, memory: 16M }
YAML
cat >"$TMP/p1.yaml" <<'YAML'
name: only-svc
ste_types: [net_t]
labels:
  - { name: svc, ste: [net_t] }
YAML
cat >"$TMP/p2.yaml" <<'YAML'
name: both
ste_types: [net_t]
chinese_wall:
  types: [cw_a, cw_b]
  conflict_sets: [ { name: rivals, types: [cw_a, cw_b] } ]
labels:
  - { name: svc, ste: [net_t], cw: [cw_a] }
  - { name: usr, ste: [net_t] }
YAML
cat >"$TMP/p3.yaml" <<'YAML'
name: conflict
ste_types: [net_t]
chinese_wall:
  types: [cw_a, cw_b]
  conflict_sets: [ { name: rivals, types: [cw_a, cw_b] } ]
labels:
  - { name: svc, ste: [net_t], cw: [cw_a] }
  - { name: usr, ste: [net_t], cw: [cw_b] }
YAML
start_bg "$out" run "$TMP/np.yaml"
wait_sock "$sock" && wait_state a running && wait_state b running
"$L" ctl --json "$sock" policy-load "$TMP/p1.yaml" >"$TMP/r8"; ok8=$?
"$L" ctl --json "$sock" policy-load "$TMP/p3.yaml" >"$TMP/r9"; ok9=$?
"$L" ctl --json "$sock" policy-load "$TMP/p2.yaml" >"$TMP/r10"; ok10=$?
"$L" ctl --json "$sock" restart b >/dev/null
wait_grep "$TMP/np.jsonl" '"event":"partition_start","partition":"b","pid":[0-9]*,.*"restart"\|"event":"partition_start_failed","partition":"b"' 50
sleep 0.3
"$L" ctl --json "$sock" list >"$TMP/r11"
sigpid TERM $sup
reap $sup
if [ $ok8 -eq 1 ] && grep -q "running partition 'b' has no label in the new policy" "$TMP/r8" &&
   [ $ok9 -eq 1 ] && grep -q "running partition 'b' would violate the Chinese Wall" "$TMP/r9" &&
   [ $ok10 -eq 0 ] && grep -q '"name":"b","state":"running"' "$TMP/r11" && [ $rc -eq 0 ]; then
	pass policy-load-into-unpoliced-platform-covers-running
else cat "$TMP/r8" "$TMP/r9" "$TMP/r10" "$TMP/r11" >&2; fail policy-load-into-unpoliced-platform-covers-running "p1=$ok8 p3=$ok9 p2=$ok10 rc=$rc"; fi

# ---- events ---------------------------------------------------------------------------------
cat >"$TMP/ev.yaml" <<YAML
control: $sock
events: $TMP/ev.jsonl
partitions:
  - name: a
    kernel: $PWD/$GUESTS/net.elf
    cmdline: "ip=10.0.3.1 net_serve_ms=60000"
    memory: 16M
    devices: [ { type: net, link: l0 } ]
  - name: b
    kernel: $PWD/$GUESTS/net.elf
    cmdline: "ip=10.0.3.2 net_serve_ms=60000"
    memory: 16M
    devices: [ { type: net, link: l0 } ]
links:
  - { name: l0, ends: [a, b] }
YAML
"$L" -v run "$TMP/ev.yaml" </dev/null >"$out" 2>"$TMP/err" &
sup=$!
BG="$BG $sup"
wait_sock "$sock" && wait_state a running && wait_state b running
"$L" ctl --json "$sock" pause a >/dev/null
"$L" ctl --json "$sock" resume a >/dev/null
"$L" ctl --json "$sock" link-down l0 >/dev/null
"$L" ctl --json "$sock" link-down l0 >"$TMP/r12"
"$L" ctl --json "$sock" stop b >/dev/null
sigpid TERM $sup
reap $sup
if grep -q '"event":"partition_paused","partition":"a"' "$TMP/ev.jsonl" &&
   grep -q '"event":"partition_resumed","partition":"a"' "$TMP/ev.jsonl" &&
   [ "$(grep -c '"event":"link_down"' "$TMP/ev.jsonl")" -eq 1 ] && grep -q '"ok":true' "$TMP/r12"; then
	pass pause-resume-and-link-events
else cat "$TMP/ev.jsonl" >&2; fail pause-resume-and-link-events "missing pause/resume events or a repeated link_down"; fi
# Every event line on stderr is logfmt: key=value pairs, values with spaces quoted.
python3 - "$TMP/err" >"$TMP/r13" 2>&1 <<'PY'
import re, sys
pair = re.compile(r'\s*([^\s="]+)(?:=("(?:[^"\\]|\\.)*"|[^\s"=]*))?')
n = bad = 0
for line in open(sys.argv[1], errors="replace"):
    if not line.startswith("lvmm: event="):
        continue
    n += 1
    rest, pos = line.rstrip("\n"), 0
    while pos < len(rest):
        m = pair.match(rest, pos)
        if not m or m.end() == pos:
            bad += 1
            print("bad:", line.rstrip())
            break
        pos = m.end()
print("events", n, "bad", bad)
PY
if grep -q '^events [1-9][0-9]* bad 0$' "$TMP/r13" && grep -q 'detail="stopped by the supervisor"' "$TMP/err"; then
	pass events-on-stderr-are-logfmt
else cat "$TMP/r13" >&2; grep "lvmm: event" "$TMP/err" | head -5 >&2; fail events-on-stderr-are-logfmt "unquoted or malformed values"; fi
