#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The partition process's sandbox (docs/sandbox.md), seen from outside: its
# identity and fds in /proc, what the test-only probe port (0xf0) makes it try
# (forbidden ioctls, signalling another partition), and that it never outlives
# its supervisor, whatever state it is in.
. "$(dirname "$0")/../lib.sh"

CASES="partition-identity-and-fds partition-stdin-is-not-the-terminal forbidden-ioctl-kills-partition kvm-create-vm-kills-partition
       log-hole-punch-kills-partition log-positional-write-kills-partition console-rewind-kills-partition
       gigabyte-mapping-refused
       partition-cannot-signal-another dies-with-supervisor-running dies-with-supervisor-paused
       dies-with-supervisor-stopped"
skip_all_without_kvm $CASES
out=$TMP/out
L=$LVMM
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do sigpid KILL "$p" 2>/dev/null; done
	cleanup_tmp
}
trap cleanup EXIT

# part_pid SUPERVISOR: the pid of its (first) partition process, once it exists
# (by command line: the supervisor's API front-end is a child too).
part_pid() {
	local p i
	for i in $(seq 100); do
		p=$(pgrep -P "$1" -f '^lvmm __partition ' | head -n 1)
		[ -n "$p" ] && { echo "$p"; return 0; }
		sleep 0.1
	done
	return 1
}

# ended PID: every thread of PID has exited (zombies hold no fds or locks; a
# zombie leader may still have threads tearing down, so look at each one).
ended() {
	local st
	[ -d "/proc/$1" ] || return 0
	for st in /proc/"$1"/task/*/status; do
		[ -e "$st" ] || continue
		[ "$(awk '/^State:/ { print $2 }' "$st" 2>/dev/null)" = Z ] || return 1
	done
	return 0
}
# gone PID: true once PID has ended, within 1 s.
gone() {
	local i
	for i in $(seq 10); do
		ended "$1" && return 0
		sleep 0.1
	done
	ended "$1"
}

# -- Who a running partition is, and what it holds.
"$L" run --no-stdin --kernel "$GUESTS/ticker.elf" --cmdline "tick_ms=100" --memory 16 >"$out" 2>&1 &
sup=$!; pids+=("$sup")
pp=$(part_pid "$sup")
for _ in $(seq 100); do contains "$out" "tick 2" && break; sleep 0.1; done
ok=1 why=""
if [ -n "$pp" ]; then
	uid=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$pp/status")
	gid=$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "/proc/$pp/status")
	cap=$(awk '/^CapEff:/ { print $2 }' "/proc/$pp/status")
	nnp=$(awk '/^NoNewPrivs:/ { print $2 }' "/proc/$pp/status")
	seccomp=$(awk '/^Seccomp:/ { print $2 }' "/proc/$pp/status")
	fds=$(ls -l "/proc/$pp/fd" 2>/dev/null)
	if [ "$(id -u)" = 0 ]; then
		# Its own identity from the default range (docs/platform-file.md, identities).
		set -- $uid
		[ "$uid" = "$1 $1 $1 $1" ] && [ "$gid" = "$uid" ] && [ "$1" -ge 1879048192 ] &&
			[ "$1" -lt $((1879048192 + 65536)) ] || { ok=0; why="uid '$uid' gid '$gid'"; }
		[ "$cap" = 0000000000000000 ] || { ok=0; why="$why capabilities $cap"; }
	fi
	[ "$nnp" = 1 ] && [ "$seccomp" = 2 ] || { ok=0; why="$why no_new_privs=$nnp seccomp=$seccomp"; }
	# An address-space bound: what it mapped at setup plus 256 MiB (shared/memlimit.h).
	as_bounded "$pp" || { ok=0; why="$why address-space room '$room' MiB (want <= 256)"; }
	grep -q "/dev/kvm" <<<"$fds" && { ok=0; why="$why /dev/kvm still open"; }
	grep -q "ticker.elf" <<<"$fds" && { ok=0; why="$why the kernel image still open"; }
else ok=0 why="no partition process"; fi
sigpid TERM "$sup" 2>/dev/null; wait "$sup" 2>/dev/null
[ $ok = 1 ] && pass partition-identity-and-fds || { echo "$fds" >&2; fail partition-identity-and-fds "$why"; }

# -- stdin: a partition never holds the supervisor's fd 0 (keys typed for another
# partition's console); one with the stdin console reads it through a listed fd.
echo "typed keys" >"$TMP/stdin.txt"
ok=1
for con in stdin no-stdin; do
	opt=(); [ $con = no-stdin ] && opt=(--no-stdin)
	"$L" run "${opt[@]}" --kernel "$GUESTS/ticker.elf" --cmdline "tick_ms=100" --memory 16 \
		<"$TMP/stdin.txt" >"$out" 2>&1 &
	sup=$!; pids+=("$sup")
	pp=$(part_pid "$sup")
	for _ in $(seq 100); do contains "$out" "tick 2" && break; sleep 0.1; done
	fd0=$(readlink "/proc/$pp/fd/0" 2>/dev/null)
	held=$(ls -l "/proc/$pp/fd" 2>/dev/null | grep -c "$TMP/stdin.txt")
	sigpid TERM "$sup" 2>/dev/null; wait "$sup" 2>/dev/null
	want=1; [ $con = no-stdin ] && want=0
	if [ -n "$pp" ] && [ "$fd0" = /dev/null ] && [ "$held" = $want ]; then :
	else ok=0; fail partition-stdin-is-not-the-terminal "$con: fd 0 is '$fd0', the supervisor's stdin held $held times (want $want)"; break; fi
done
[ "$ok" = 1 ] && pass partition-stdin-is-not-the-terminal

# -- ioctls: only the requests the run time uses, on any fd; /dev/kvm is closed.
# Positional writes and fallocate: on the writable images only, not on the
# supervisor's stderr (here $out, whose first lines would be zeroed). lseek: only
# to the end of the console's output (its size, console_limit), never back.
for c in "0x5b forbidden-ioctl-kills-partition" "0x5c kvm-create-vm-kills-partition" \
	"0x5d log-hole-punch-kills-partition" "0x5e log-positional-write-kills-partition" \
	"0x60 console-rewind-kills-partition"; do
	set -- $c
	run_lvmm 30 "$out" run --no-stdin --kernel "$GUESTS/hello.elf" --test-device \
		--cmdline "outb=0xf0:$1 readback=0xf0" --events "$TMP/ioctl.jsonl"
	if [ $rc -eq 123 ] && contains "$out" "hello: outb 0xf0 <- $1" && ! contains "$out" "hello: outb done" &&
	   grep -q '"reason":"killed".*sandbox violation.*"signal":31' "$TMP/ioctl.jsonl"; then
		pass "$2"
	else show "$out"; fail "$2" "rc=$rc: the probe's ioctl was allowed (readback 1) or did not kill with SIGSYS"; fi
	rm -f "$TMP/ioctl.jsonl"
done

# -- Memory: the filter allows mmap (glibc's allocator), the address-space bound
# keeps a compromised process from the host's memory: a 1 GiB mapping fails
# (readback 2) and the partition goes on (the guest prints "outb done").
run_lvmm 30 "$out" run --no-stdin --kernel "$GUESTS/hello.elf" --test-device \
	--cmdline "outb=0xf0:0x5f readback=0xf0"
if san_build; then
	skip gigabyte-mapping-refused "sanitizer build: no address-space bound there"
elif [ $rc -eq 0 ] && contains "$out" "hello: outb done" && contains "$out" "hello: readback 0xf0 = 0x02"; then
	pass gigabyte-mapping-refused
else show "$out"; fail gigabyte-mapping-refused "rc=$rc: a 1 GiB mapping was not refused (readback 1), or the partition did not go on"; fi

# -- Signals: a partition cannot kill another partition's process (same uid here).
"$L" run --no-stdin --kernel "$GUESTS/ticker.elf" --cmdline "tick_ms=100" --memory 16 >"$TMP/target" 2>&1 &
sup=$!; pids+=("$sup")
target=$(part_pid "$sup")
for _ in $(seq 100); do contains "$TMP/target" "tick 2" && break; sleep 0.1; done
run_lvmm 30 "$out" run --no-stdin --kernel "$GUESTS/hello.elf" --test-device \
	--cmdline "outl=0xf0:${target:-0} readback=0xf0" --events "$TMP/kill.jsonl"
before=$(grep -c "^tick" "$TMP/target")
sleep 0.5
after=$(grep -c "^tick" "$TMP/target")
if [ -n "$target" ] && [ $rc -eq 123 ] && ! contains "$out" "hello: outl done" &&
   grep -q '"reason":"killed".*sandbox violation.*"signal":31' "$TMP/kill.jsonl" &&
   ! ended "$target" && [ "$after" -gt "$before" ]; then
	pass partition-cannot-signal-another
else show "$out"; show "$TMP/target"
	fail partition-cannot-signal-another "rc=$rc target=${target:-none} alive=$(ended "$target" && echo no || echo yes) ticks $before -> $after"; fi
sigpid TERM "$sup" 2>/dev/null; wait "$sup" 2>/dev/null

# -- kill -9 of the supervisor ends its partition in every state, and the disk
# lock goes with it: a new run gets the same image at once.
truncate -s 4M "$TMP/disk.img"
for state in running paused stopped; do
	sock=$TMP/ctl-$state.sock
	cat >"$TMP/held.yaml" <<YAML
control: $sock
partitions:
  - name: held
    kernel: $PWD/$GUESTS/blk.elf
    cmdline: "sectors=1 blk_hold=1"
    memory: 16M
    devices: [ { type: blk, path: $TMP/disk.img } ]
YAML
	"$L" run "$TMP/held.yaml" </dev/null >"$out" 2>&1 &
	sup=$!; pids+=("$sup")
	pp=$(part_pid "$sup")
	for _ in $(seq 100); do contains "$out" "blk: ok" && break; sleep 0.1; done
	case $state in
	paused) "$L" ctl --json "$sock" pause held >/dev/null ;;
	stopped) [ -n "$pp" ] && sigpid STOP "$pp" ;;
	esac
	sigpid KILL "$sup"; wait "$sup" 2>/dev/null
	ok=1 why=""
	[ -n "$pp" ] || { ok=0; why="no partition process"; }
	if [ -n "$pp" ] && ! gone "$pp"; then
		ok=0; why="partition $pp ($(awk '/^State:/ { print $2 }' "/proc/$pp/status" 2>/dev/null)) outlived its supervisor"
		sigpid KILL "$pp" 2>/dev/null
	fi
	run_lvmm 30 "$TMP/again" run --no-stdin --kernel "$GUESTS/blk.elf" --disk "$TMP/disk.img" --cmdline "sectors=2"
	[ $rc -eq 0 ] && contains "$TMP/again" "blk: ok" || { ok=0; why="$why; the next run did not get the disk (rc=$rc)"; }
	[ $ok = 1 ] && pass dies-with-supervisor-$state || { show "$TMP/again"; fail dies-with-supervisor-$state "$why"; }
	rm -f "$sock"
done
