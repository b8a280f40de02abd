#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Console attach (docs/cli.md, "lvmm console"): every partition's serial
# console is kept in a 64 KiB ring and served on a socket next to the
# control socket; `lvmm console SOCK NAME` shows the recent output, then
# live output, sends what is typed to the guest, detaches on Ctrl-] (or the
# end of its input), as often as wanted while the partition runs. A client
# that does not read loses output (counted, and told) and never holds up
# the guest.
. "$(dirname "$0")/../lib.sh"

CASES="console-attach-recent-then-live-input-detach console-attach-again console-two-clients-at-once
       console-reattach-after-restart console-stalled-client-loses-output-guest-runs-on
       console-refusals console-sockets-private-and-removed console-and-top-by-name
       console-file-limit-stops-a-flood console-file-full-at-start console-limit-on-redirected-stdout
       console-file-emptied-output-resumes console-limit-holds-for-a-shared-stdout
       console-file-lock-held-elsewhere-output-goes-on"
skip_all_without_kvm $CASES
L=$LVMM
sock=$TMP/run/lvmm.sock
cdir=$TMP/run/lvmm.console
ev=$TMP/ev.jsonl
out=$TMP/out
mkdir -p "$TMP/run"

wait_for() { # FIXED-STRING FILE [TENTHS]
	local t=0
	while [ $t -lt "${3:-100}" ]; do contains "$2" "$1" 2>/dev/null && return 0; sleep 0.1; t=$((t + 1)); done
	return 1
}

# attach NAME OUT: `lvmm console` in the background, its input on fd 3 (a FIFO); $cpid.
attach() {
	rm -f "$TMP/in.$1"
	mkfifo "$TMP/in.$1"
	"$L" console "$sock" "$1" <"$TMP/in.$1" >"$2" 2>"$2.err" &
	cpid=$!
	exec 3>"$TMP/in.$1"
}
# detach: Ctrl-] on its input; the client's exit status in $crc.
detach() {
	printf '\035' >&3
	exec 3>&-
	wait "$cpid"; crc=$?
}

cat >"$TMP/p.yaml" <<YAML
control: $sock
events: $ev
partitions:
  - name: c
    kernel: $PWD/$GUESTS/console.elf
    cmdline: "port=uart console_timeout_ms=0"
    memory: 16M
    console: file:$TMP/c.log
  - name: t
    kernel: $PWD/$GUESTS/ticker.elf
    cmdline: "tick_ms=100"
    memory: 16M
    console: none
  - name: f
    kernel: $PWD/$GUESTS/hello.elf
    autostart: false
    cmdline: "flood=120000 hold_ms=600000"
    memory: 16M
    console: file:$TMP/f.log
YAML
timeout 240 "$L" run "$TMP/p.yaml" </dev/null >"$out" 2>&1 &
sup=$!
for _ in $(seq 100); do [ -S "$cdir/c" ] && [ -S "$cdir/t" ] && break; sleep 0.05; done
wait_for "console: uart ready" "$TMP/c.log"

# 1: recent output (written before we attached), then input, echo, detach.
attach c "$TMP/a1"
wait_for "console: uart ready" "$TMP/a1" 50
printf 'hello there\n' >&3
wait_for "console: got hello there" "$TMP/a1" 100
detach
if [ $crc -eq 0 ] && contains "$TMP/a1" "console: uart ready" && contains "$TMP/a1" "console: got hello there" &&
   contains "$TMP/c.log" "[c] console: got hello there" && contains "$TMP/a1.err" "detached from 'c'" &&
   "$L" ctl --json "$sock" list | grep -q '"name":"c","state":"running"'; then
	pass console-attach-recent-then-live-input-detach
else cat "$TMP/a1" "$TMP/a1.err" >&2; show "$TMP/c.log"; fail console-attach-recent-then-live-input-detach "crc=$crc"; fi

# 2: again: the history now has the first session's line; the end of input detaches too.
"$L" console "$sock" c >"$TMP/a2" 2>"$TMP/a2.err" < <(sleep 0.5; printf 'second\r'; sleep 2); crc=$?
if [ $crc -eq 0 ] && contains "$TMP/a2" "console: got hello there" && contains "$TMP/a2" "console: got second" &&
   contains "$TMP/c.log" "[c] console: got second"; then
	pass console-attach-again
else cat "$TMP/a2" "$TMP/a2.err" >&2; fail console-attach-again "crc=$crc"; fi

# 3: two clients of the ticker at once both follow it, and the ticker's counter moves.
attach t "$TMP/b1"; p1=$cpid; exec 4>&3
attach t "$TMP/b2"; p2=$cpid
sleep 1.5
printf '\035' >&3; printf '\035' >&4; exec 3>&- 4>&-
wait $p1; r1=$?; wait $p2; r2=$?
n1=$(grep -o 'tick [0-9]*' "$TMP/b1" | tail -1 | cut -d' ' -f2)
n2=$(grep -o 'tick [0-9]*' "$TMP/b2" | tail -1 | cut -d' ' -f2)
first=$(grep -o 'tick [0-9]*' "$TMP/b1" | head -1 | cut -d' ' -f2)
if [ $r1 -eq 0 ] && [ $r2 -eq 0 ] && contains "$TMP/b1" "ticker: every 100 ms" && contains "$TMP/b2" "ticker: every 100 ms" &&
   [ -n "$n1" ] && [ -n "$n2" ] && [ "$first" = 1 ] && [ "$n1" -gt 3 ] && [ "$n2" -gt 3 ]; then
	pass console-two-clients-at-once
else head -3 "$TMP/b1" "$TMP/b2" >&2; fail console-two-clients-at-once "r=$r1/$r2 last ticks ${n1:-none}/${n2:-none}"; fi

# 4: the socket outlives a restart; a client of the old process sees the console close (status 1).
attach c "$TMP/d1"
wait_for "console: uart ready" "$TMP/d1" 50
"$L" ctl "$sock" restart c >/dev/null
wait "$cpid"; r1=$?
exec 3>&-
for _ in $(seq 50); do [ "$(grep -c '"event":"partition_start","partition":"c"' "$ev")" -ge 2 ] && break; sleep 0.1; done
"$L" console "$sock" c >"$TMP/d2" 2>&1 < <(sleep 1; printf 'after restart\n'; sleep 2); r2=$?
if [ $r1 -eq 1 ] && contains "$TMP/d1.err" "closed (the partition ended or restarted)" && [ $r2 -eq 0 ] &&
   contains "$TMP/d2" "console: got after restart"; then
	pass console-reattach-after-restart
else cat "$TMP/d1.err" "$TMP/d2" >&2; fail console-reattach-after-restart "old client rc=$r1, new rc=$r2"; fi

# 5: a client that never reads, on a guest that writes 120,000 bytes as fast as it can: the
# guest is not held up (it finishes its output and goes on to the next step), the client's
# loss is counted in the partition's status and told to it when it reads again.
"$L" ctl "$sock" start f >/dev/null
python3 - "$cdir/f" "$TMP/stall" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
for _ in range(100):
    try:
        s.connect(sys.argv[1]); break
    except OSError:
        time.sleep(0.05)
open(sys.argv[2] + ".connected", "w").close()
while not __import__("os").path.exists(sys.argv[2] + ".go"):
    time.sleep(0.1)
s.settimeout(2)
data = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
except OSError:
    pass
open(sys.argv[2], "wb").write(data)
PY
stall=$!
wait_for "hello: flooded 120000 bytes" "$TMP/f.log" 900
st=$("$L" ctl --json "$sock" status f)
drops=$(grep -o '"id":"uart"[^}]*' <<<"$st" | grep -o '"drops":[0-9]*' | cut -d: -f2)
tx=$(grep -o '"id":"uart"[^}]*' <<<"$st" | grep -o '"tx_bytes":[0-9]*' | cut -d: -f2)
touch "$TMP/stall.go"
wait $stall
if [ -f "$TMP/stall.connected" ] && contains "$TMP/f.log" "hello: flooded 120000 bytes" &&
   contains "$TMP/f.log" "hello: holding 600000 ms" && [ "${drops:-0}" -gt 0 ] && [ "${tx:-0}" -gt 120000 ] &&
   grep -q "\[lvmm: $drops bytes of console output lost: not read in time\]" "$TMP/stall" &&
   contains "$TMP/stall" "hello: flooded 120000 bytes"; then
	pass console-stalled-client-loses-output-guest-runs-on
	echo "# stalled client: $drops of $tx bytes lost, $(wc -c <"$TMP/stall") received"
else echo "$st" >&2; tail -c 300 "$TMP/stall" >&2; fail console-stalled-client-loses-output-guest-runs-on "drops=${drops:-none} tx=${tx:-none}"; fi
"$L" ctl "$sock" stop f >/dev/null

# 6: refusals: unknown partition, usage, the fifth client at once.
ok=1
"$L" console "$sock" nosuch </dev/null >/dev/null 2>"$TMP/r"; [ $? -eq 2 ] && grep -q "cannot attach to $cdir/nosuch: No such file or directory" "$TMP/r" || ok=0
"$L" console "$sock" </dev/null >/dev/null 2>"$TMP/r"; [ $? -eq 2 ] && grep -q "Usage: lvmm console SOCKET|NAME PARTITION" "$TMP/r" || ok=0
"$L" console "$sock" ../x </dev/null >/dev/null 2>&1; [ $? -eq 2 ] || ok=0
pids=""
for i in 5 6 7 8; do
	mkfifo "$TMP/busy.$i"
	"$L" console "$sock" t <"$TMP/busy.$i" >/dev/null 2>&1 &
	pids="$pids $!"
	eval "exec $i>\"\$TMP/busy.$i\""
done
sleep 1
timeout 5 "$L" console "$sock" t < <(sleep 2) >"$TMP/busy" 2>/dev/null; brc=$?
grep -q "lvmm: console busy: too many clients attached" "$TMP/busy" && [ $brc -eq 1 ] || ok=0
exec 5>&- 6>&- 7>&- 8>&- # end of input: the four detach
for p in $pids; do wait "$p" || ok=0; done
[ $ok = 1 ] && pass console-refusals || { cat "$TMP/r" "$TMP/busy" >&2; fail console-refusals "a bad attach was not refused clearly (busy rc=$brc)"; }

# 7: the sockets are the supervisor's alone (0600 in a 0700 directory) and go with the run.
perm_dir=$(stat -c %a "$cdir"); perm_sock=$(stat -c %a "$cdir/c")
"$L" ctl "$sock" stop c >/dev/null; "$L" ctl "$sock" stop t >/dev/null
wait $sup; rc=$?
if [ "$perm_dir" = 700 ] && [ "$perm_sock" = 600 ] && [ ! -e "$cdir" ] && [ $rc -eq 0 ]; then
	pass console-sockets-private-and-removed
else ls -la "$TMP/run" >&2; fail console-sockets-private-and-removed "dir $perm_dir, socket $perm_sock, rc=$rc, left: $(ls "$cdir" 2>&1)"; fi

# 8: a bare NAME means /run/lvmm/NAME.sock for console and top as for lvmm ctl (docs/api.md).
name=contest$$
timeout 60 "$L" run --kernel "$GUESTS/ticker.elf" --cmdline "tick_ms=50" --memory 16 --no-stdin \
	--console none --control "$name" </dev/null >"$TMP/n.out" 2>&1 &
nsup=$!
for _ in $(seq 100); do [ -S "/run/lvmm/$name.console/guest" ] && break; sleep 0.05; done
sleep 0.3
timeout 10 "$L" console "$name" guest < <(sleep 0.5) >"$TMP/n.con" 2>"$TMP/n.err"; nrc=$?
timeout 10 "$L" top "$name" -b -n 1 -d 0.2 >"$TMP/n.top" 2>&1; trc=$?
"$L" ctl "$name" stop guest >/dev/null 2>&1
wait $nsup
if [ $nrc -eq 0 ] && contains "$TMP/n.con" "tick 1" && contains "$TMP/n.err" "detached from 'guest'" &&
   [ $trc -eq 0 ] && grep -q '^guest  *running  *1 ' "$TMP/n.top" && [ ! -e "/run/lvmm/$name.console" ]; then
	pass console-and-top-by-name
else cat "$TMP/n.con" "$TMP/n.err" "$TMP/n.top" >&2; show "$TMP/n.out"
	fail console-and-top-by-name "console rc=$nrc, top rc=$trc"; fi
rm -f "/run/lvmm/$name.sock"; rmdir "/run/lvmm/$name.console" 2>/dev/null || true

# 9: console output to a regular file stops at console_limit (docs/platform-file.md): a
# guest writing without end cannot fill the host's disk. The guest is not held up
# (it finishes, exit 0); output fills the file to 160 bytes short of the limit (cut
# mid-line), then a marker line; lvmm's log says why; the uart counts the rest as drops.
marker() { echo "[lvmm: console file reached its limit of $1 bytes (console_limit); further output dropped]"; }
m=$(marker 4096)
printf 'before\n' >"$TMP/flood.txt"
cat >"$TMP/flood.yaml" <<YAML
partitions:
  - { name: f, kernel: $PWD/$GUESTS/hello.elf, memory: 16M, cmdline: "flood=20000",
      console: "file:$TMP/flood.txt", console_limit: 4K }
YAML
run_lvmm 60 "$out" run "$TMP/flood.yaml"
size=$(stat -c %s "$TMP/flood.txt")
tx=$(sed -n 's/.*device=uart .* tx_bytes=\([0-9]*\) drops=\([0-9]*\).*/\1 \2/p' "$out")
if [ $rc -eq 0 ] && [ "$size" -eq $((4096 - 160 + ${#m} + 2)) ] && [ "$(head -1 "$TMP/flood.txt")" = before ] &&
   contains "$TMP/flood.txt" "hello: flood line 00000000" && [ "$(tail -1 "$TMP/flood.txt")" = "$m" ] &&
   ! contains "$TMP/flood.txt" "hello: flooded" && [ -n "$tx" ] && [ "${tx#* }" -eq $((${tx% *} - (4096 - 160 - 7))) ] &&
   contains "$out" "console output to the file dropped from here: it is 3936 bytes" && contains "$out" "exit_code=0"; then
	pass console-file-limit-stops-a-flood
else show "$out"; tail -3 "$TMP/flood.txt" >&2; fail console-file-limit-stops-a-flood "rc=$rc, file $size bytes (limit 4096), uart tx/drops $tx"; fi

# A file within 160 bytes of its limit when the partition starts (this one, with its
# marker) gets nothing more, not even a second marker, and lvmm's log says so.
cp "$TMP/flood.txt" "$TMP/flood.before"
run_lvmm 60 "$out" run "$TMP/flood.yaml"
if [ $rc -eq 0 ] && cmp -s "$TMP/flood.txt" "$TMP/flood.before" &&
   grep -q "console output to the file dropped from here: it is $size bytes, its limit (console_limit) is 4096" "$out"; then
	pass console-file-full-at-start
else show "$out"; fail console-file-full-at-start "rc=$rc, file $(stat -c %s "$TMP/flood.txt") bytes (was $size)"; fi

# The same bound for a console on stdout when stdout is a regular file (`lvmm run > log`).
timeout 60 "$L" run --no-stdin --kernel "$GUESTS/hello.elf" --memory 16 --cmdline "flood=20000" \
	--console-limit 8K </dev/null >"$TMP/stdout.txt" 2>"$TMP/stdout.err"; rc=$?
size=$(stat -c %s "$TMP/stdout.txt")
m=$(marker 8192)
if [ $rc -eq 0 ] && [ "$size" -eq $((8192 - 160 + ${#m} + 2)) ] && contains "$TMP/stdout.txt" "hello from lvmm guest" &&
   [ "$(tail -1 "$TMP/stdout.txt")" = "$m" ] &&
   contains "$TMP/stdout.err" "console output to the file dropped from here"; then
	pass console-limit-on-redirected-stdout
else show "$TMP/stdout.err"; tail -3 "$TMP/stdout.txt" >&2; fail console-limit-on-redirected-stdout "rc=$rc, stdout $size bytes (limit 8192)"; fi

# A console file rotated by logrotate (copytruncate: copied to .1, then emptied) while
# the partition runs takes output again: the UART looks the file's size up per write.
head -c 3899 /dev/zero | tr '\0' x >"$TMP/rot.txt"; echo >>"$TMP/rot.txt"
cat >"$TMP/rot.yaml" <<YAML
partitions:
  - { name: r, kernel: $PWD/$GUESTS/ticker.elf, memory: 16M, cmdline: "tick_ms=20 ticks=150",
      console: "file:$TMP/rot.txt", console_limit: 4K }
YAML
timeout 60 "$L" run "$TMP/rot.yaml" </dev/null >"$out" 2>&1 &
rpid=$!
emptied=no
printf '%s {\n  copytruncate\n  rotate 1\n}\n' "$TMP/rot.txt" >"$TMP/rot.conf"
wait_for "$(marker 4096)" "$TMP/rot.txt" 100 &&
	logrotate -f -s "$TMP/rot.state" "$TMP/rot.conf" 2>"$TMP/rot.err" && emptied=yes
wait $rpid; rc=$?
size=$(stat -c %s "$TMP/rot.txt")
if [ $rc -eq 0 ] && [ $emptied = yes ] && grep -q $'^tick 150\r$' "$TMP/rot.txt" && [ "$size" -le 4096 ] &&
   [ "$(tail -1 "$TMP/rot.txt.1")" = "$(marker 4096)" ] && contains "$TMP/rot.txt.1" "xxx" &&
   ! contains "$TMP/rot.txt" "xxx" && [ "$(grep -c "dropped from here" "$out")" -eq 1 ]; then
	pass console-file-emptied-output-resumes
else show "$out"; cat "$TMP/rot.err" >&2; head -3 "$TMP/rot.txt" >&2; fail console-file-emptied-output-resumes "rc=$rc, emptied: $emptied, file $size bytes, last line '$(tail -1 "$TMP/rot.txt")'"; fi

# Two partitions flooding one redirected stdout (prefixed lines): the limit holds for
# the file, not per partition; one marker, written by whichever filled it.
cat >"$TMP/two.yaml" <<YAML
partitions:
  - { name: a, kernel: $PWD/$GUESTS/hello.elf, memory: 16M, cmdline: "flood=20000", console_limit: 8K }
  - { name: b, kernel: $PWD/$GUESTS/hello.elf, memory: 16M, cmdline: "flood=20000", console_limit: 8K }
YAML
timeout 60 "$L" run "$TMP/two.yaml" </dev/null >"$TMP/two.txt" 2>"$TMP/two.err"; rc=$?
size=$(stat -c %s "$TMP/two.txt")
if [ $rc -eq 0 ] && [ "$size" -le 8192 ] && [ "$size" -ge $((8192 - 160)) ] &&
   [ "$(grep -c "^$(marker 8192 | sed 's/[][]/\\&/g')\$" "$TMP/two.txt")" -eq 1 ] &&
   grep -q '^\[a\] hello: flood line' "$TMP/two.txt" && grep -q '^\[b\] hello: flood line' "$TMP/two.txt" &&
   [ "$(grep -c "dropped from here" "$TMP/two.err")" -eq 2 ]; then
	pass console-limit-holds-for-a-shared-stdout
else show "$TMP/two.err"; tail -3 "$TMP/two.txt" >&2; fail console-limit-holds-for-a-shared-stdout "rc=$rc, stdout $size bytes (limit 8192), $(grep -c 'lvmm: console file reached' "$TMP/two.txt") markers"; fi

# The shared file's turn-taking is a POSIX record lock. Another process holding it
# (here python's lockf, all along) does not hold the guest up: after its tries the
# UART writes without it and the log says so.
: >"$TMP/held.txt"
python3 - "$TMP/held.txt" "$TMP/held.ready" <<'PY' &
import fcntl, sys, time
f = open(sys.argv[1], "a")
fcntl.lockf(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(120)
PY
lpid=$!
t=0; while [ ! -e "$TMP/held.ready" ] && [ $t -lt 100 ]; do sleep 0.1; t=$((t + 1)); done
cat >"$TMP/held.yaml" <<YAML
partitions:
  - { name: h, kernel: $PWD/$GUESTS/hello.elf, memory: 16M, cmdline: "flood=4096", console: "file:$TMP/held.txt" }
YAML
timeout 60 "$L" run "$TMP/held.yaml" </dev/null >"$out" 2>&1; rc=$?
kill $lpid 2>/dev/null; wait $lpid 2>/dev/null
if [ $rc -eq 0 ] && [ -e "$TMP/held.ready" ] && grep -q '^hello: flooded 4096 bytes' "$TMP/held.txt" &&
   contains "$out" "console file busy: writing without its lock"; then
	pass console-file-lock-held-elsewhere-output-goes-on
else show "$out"; fail console-file-lock-held-elsewhere-output-goes-on "rc=$rc, $(wc -c <"$TMP/held.txt") bytes in the file"; fi
