#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The chaos test: three partitions at work (two net guests pinging each other
# over a link, a blk guest appending flushed records to its disk) while a
# random, seeded sequence of operations runs against them for CHAOS_SECS
# (default 60) seconds: kill -9 and SIGSTOP/SIGCONT of partition processes,
# and over the control socket stop, start, restart, pause, resume, link-down,
# link-up and policy reloads (good, broken, and one that would cut a running
# partition off). Then, deterministically: `stop` and `restart` of a
# SIGSTOPped partition must end it within the stop grace; everything is
# brought back and must work again with the same supervisor fds as before
# the chaos; after SIGTERM (with one partition SIGSTOPped) the supervisor
# must exit and leave no partition process and no socket file; after kill -9
# of a second supervisor (again with a partition SIGSTOPped) no partition
# process may live on; the disk must be free for the next lvmm, and every
# record the guest reported flushed must be in the image.
#
#   CHAOS_SEED=N tests/run chaos    replays the same operation sequence
#   CHAOS_SECS=N                    another duration
# The seed and how many operations of each kind ran are printed as "# chaos:"
# lines, and after the first case's name.
. "$(dirname "$0")/../lib.sh"
CASES="chaos-supervisor-answers-throughout chaos-stop-escalates-on-sigstopped
       chaos-restart-escalates-on-sigstopped chaos-platform-recovers chaos-no-leaked-fds
       chaos-supervisor-exits-on-sigterm chaos-no-orphan-processes chaos-no-leftover-sockets
       chaos-killed-supervisor-leaves-no-orphans chaos-flushed-records-on-disk
       chaos-disk-free-after-killed-supervisor chaos-policy-reloads-accepted"
skip_all_without_kvm $CASES

SEED=${CHAOS_SEED:-$(( $(date +%s%N) / 1000 % 1000000 ))}
SECS=${CHAOS_SECS:-60}
RANDOM=$SEED
echo "# chaos: seed $SEED (CHAOS_SEED=$SEED replays the operation sequence), $SECS s"
L=$LVMM
sock=$TMP/ctl.sock
ssock=$TMP/agent.sock
ev=$TMP/ev.jsonl
img=$TMP/log.img
# Unique names: another lvmm on this host (another test run) must never be
# taken for ours when looking for orphans.
A=cha$$-a B=cha$$-b D=cha$$-d K=cha$$-keep
PARTS="$A $B $D"
truncate -s 4M "$img"

policy() { # NAME [breaking]: a policy for this platform (breaking: drops the net label)
	echo "name: $1"
	echo "ste_types: [net_t, disk_t]"
	echo "labels:"
	[ "${2:-}" = breaking ] || echo "  - { name: net_l, ste: [net_t] }"
	echo "  - { name: disk_l, ste: [disk_t] }"
	echo "  - { name: admin_l, ste: [net_t, disk_t] }"
	echo "resources:"
	echo "  - { disk: $img, label: disk_l }"
	echo "  - { socket: $ssock, label: $([ "${2:-}" = breaking ] && echo admin_l || echo net_l) }"
	echo "clients:"
	echo "  - { uid: 0, label: admin_l, operations: [all] }"
}
policy chaos-p1 >"$TMP/p1.yaml"
policy chaos-p2 >"$TMP/p2.yaml"
policy chaos-breaking breaking >"$TMP/breaking.yaml"
printf 'name: chaos-invalid\nste_types: [net_t]\nlabels:\n  - { name: x, ste: [no_such_t] }\n' >"$TMP/invalid.yaml"

# The keeper (autostart: false, never started) keeps the platform up when
# the chaos has every other partition stopped, as documented.
cat >"$TMP/chaos.yaml" <<YAML
control: $sock
events: $ev
policy:
$(sed 's/^/  /' "$TMP/p1.yaml")
partitions:
  - name: $A
    label: net_l
    kernel: $PWD/$GUESTS/net.elf
    cmdline: "ip=10.0.3.1 net_quiet=1"
    memory: 16M
    console: file:$TMP/a.log
    restart: on-crash
    restart_limit: 5
    restart_delay_ms: 100
    devices:
      - { type: net, link: l0 }
      - { type: stream, socket: $ssock, listen: true }
  - name: $B
    label: net_l
    kernel: $PWD/$GUESTS/net.elf
    cmdline: "ip=10.0.3.2 peer=10.0.3.1 net_ping_count=4096 net_ping_interval_ms=100"
    memory: 16M
    console: file:$TMP/b.log
    restart: always
    restart_limit: 5
    restart_delay_ms: 100
    devices: [ { type: net, link: l0 } ]
  - name: $D
    label: disk_l
    kernel: $PWD/$GUESTS/blk.elf
    cmdline: "blk_log=1 log_interval_ms=20"
    memory: 16M
    console: file:$TMP/d.log
    restart: on-crash
    restart_limit: 5
    restart_delay_ms: 100
    devices: [ { type: blk, path: $img } ]
  - name: $K
    label: net_l
    autostart: false
    kernel: $PWD/$GUESTS/hello.elf
    memory: 16M
    console: none
links:
  - { name: l0, ends: [$A, $B] }
YAML
if ! "$L" check "$TMP/chaos.yaml" >"$TMP/check.out" 2>&1; then
	show "$TMP/check.out"
	for n in $CASES; do fail "$n" "the chaos platform does not pass lvmm check"; done
	exit 0
fi

"$L" run "$TMP/chaos.yaml" </dev/null >"$TMP/run.out" 2>&1 &
sup=$!
known_pids=() # every partition pid the event log reported (for the count)
cleanup() {
	# Leave nothing behind whatever happened: continue and kill what is ours.
	local p
	for p in $(ours_alive); do sigpid KILL "$p" 2>/dev/null; done
	sigpid KILL "$sup" 2>/dev/null
	cleanup_tmp
}
trap cleanup EXIT

# ---- helpers -------------------------------------------------------------------

# ctl OP ARGS...: one request; the answer in $TMP/r, its status in $crc; both
# also go to $TMP/ops.log with the time (shown when a case fails).
ctl() {
	timeout 15 "$L" ctl --json "$sock" "$@" >"$TMP/r" 2>&1
	crc=$?
	echo "$SECONDS $* -> $crc $(head -c 200 "$TMP/r")" >>"$TMP/ops.log"
}
# state NAME / pid NAME: from the last `ctl list` answer in $TMP/list.
list() { timeout 15 "$L" ctl --json "$sock" list >"$TMP/list" 2>&1; }
state() { grep -o "\"name\":\"$1\",\"state\":\"[a-z]*\"" "$TMP/list" | sed 's/.*"state":"//; s/"//'; }
pid_of() { grep -o "\"name\":\"$1\"[^}]*" "$TMP/list" | grep -o '"pid":[0-9]*' | grep -o '[0-9]*$'; }
# is_ours PID [NAME]: PID is one of our partition processes (by its command line).
is_ours() {
	local c
	c=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") || return 1
	case "$c" in "lvmm __partition ${2:-cha$$-}"*) return 0 ;; *) return 1 ;; esac
}
# ours_alive: pids of our partition processes that still exist (by command line:
# "lvmm __partition NAME", NAME one of ours).
ours_alive() {
	local f p
	for f in /proc/[0-9]*/cmdline; do
		p=${f#/proc/}
		p=${p%/cmdline}
		is_ours "$p" && echo "$p"
	done | sort -u
}
note_pids() {
	local p
	for p in $(grep -o '"event":"partition_start","partition":"[^"]*","pid":[0-9]*' "$ev" 2>/dev/null |
		   grep -o '[0-9]*$'); do
		case " ${known_pids[*]} " in *" $p "*) ;; *) known_pids+=("$p") ;; esac
	done
}
# all_running: every partition of $PARTS is running (per a fresh list).
all_running() {
	local n
	list || return 1
	for n in $PARTS; do [ "$(state "$n")" = running ] || return 1; done
}
wait_until() { # SECONDS COMMAND...
	local end=$((SECONDS + $1))
	shift
	until "$@"; do [ $SECONDS -ge $end ] && return 1; sleep 0.1; done
}
sup_alive() { kill -0 "$sup" 2>/dev/null; }
# fds: the supervisor's open fds, one "target" per line, sorted; stable reads
# only (a control connection that is closing would count once and then not).
fds() {
	local a b i
	for i in 1 2 3 4 5; do
		a=$(for f in /proc/"$sup"/fd/*; do readlink "$f"; done | sed 's/\[[0-9]*\]/[]/; s/ (deleted)//' | sort)
		sleep 0.3
		b=$(for f in /proc/"$sup"/fd/*; do readlink "$f"; done | sed 's/\[[0-9]*\]/[]/; s/ (deleted)//' | sort)
		[ "$a" = "$b" ] && break
	done
	echo "$b"
}
uids=()
note_uids() { # the real uids our running partitions have dropped to
	local n p u
	for n in $PARTS; do
		p=$(pid_of "$n")
		[ -n "$p" ] && [ "$p" != 0 ] && is_ours "$p" "$n" || continue
		u=$(awk '/^Uid:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
		[ -n "$u" ] && [ "$u" != 0 ] && case " ${uids[*]} " in *" $u "*) ;; *) uids+=("$u") ;; esac
	done
}

# ---- start: everything running, the baseline ------------------------------------

if ! wait_until 30 all_running; then
	show "$TMP/run.out"
	cat "$TMP/list" >&2
	for n in $CASES; do fail "$n" "the platform did not come up"; done
	exit 0
fi
wait_until 10 grep -q "blk: flushed record" "$TMP/d.log"
wait_until 10 grep -q "net: ping reply" "$TMP/b.log"
base_fds=$(fds)
note_uids

# ---- the chaos -----------------------------------------------------------------

declare -A n_op n_ok n_refused
no_answer=0
no_answer_what=""
stopped=() # pids we SIGSTOPped and have not continued
OPS=(kill9 kill9 sigstop sigcont sigcont stop stop start start start restart restart
     pause pause resume resume link-down link-up policy-good policy-invalid policy-breaking)
record() { # OP: count the answer of the last ctl call
	n_op[$1]=$(( ${n_op[$1]:-0} + 1 ))
	case $crc in
	0) n_ok[$1]=$(( ${n_ok[$1]:-0} + 1 )) ;;
	1) n_refused[$1]=$(( ${n_refused[$1]:-0} + 1 )) ;;
	*) no_answer=$((no_answer + 1)); no_answer_what+=" $1($(head -c 120 "$TMP/r" | tr '\n' ' '))" ;;
	esac
}
signal_op() { # OP SIGNAL NAME
	local p
	list
	p=$(pid_of "$3")
	n_op[$1]=$(( ${n_op[$1]:-0} + 1 ))
	if [ -n "$p" ] && [ "$p" != 0 ] && is_ours "$p" "$3" && kill -"$2" "$p" 2>/dev/null; then
		n_ok[$1]=$(( ${n_ok[$1]:-0} + 1 ))
		[ "$2" = STOP ] && stopped+=("$p")
	else
		n_refused[$1]=$(( ${n_refused[$1]:-0} + 1 ))
	fi
	echo "$SECONDS $1 $3 pid ${p:-none}" >>"$TMP/ops.log"
}
good=1
end=$((SECONDS + SECS))
while [ $SECONDS -lt $end ] && sup_alive; do
	op=${OPS[$((RANDOM % ${#OPS[@]}))]}
	set -- $PARTS
	shift $((RANDOM % 3))
	name=$1
	case $op in
	kill9) signal_op kill9 KILL "$name" ;;
	sigstop) signal_op sigstop STOP "$name" ;;
	sigcont)
		n_op[sigcont]=$(( ${n_op[sigcont]:-0} + 1 ))
		if [ ${#stopped[@]} -gt 0 ]; then
			i=$((RANDOM % ${#stopped[@]}))
			sigpid CONT "${stopped[$i]}" 2>/dev/null
			unset "stopped[$i]"
			stopped=("${stopped[@]}")
			n_ok[sigcont]=$(( ${n_ok[sigcont]:-0} + 1 ))
		else
			n_refused[sigcont]=$(( ${n_refused[sigcont]:-0} + 1 ))
		fi ;;
	link-down | link-up) ctl "$op" l0; record "$op" ;;
	policy-good)
		good=$((3 - good))
		ctl policy-load "$TMP/p$good.yaml"; record policy-load ;;
	policy-invalid) ctl policy-load "$TMP/invalid.yaml"; record policy-load
		[ $crc = 0 ] && no_answer=$((no_answer + 1)) &&
			no_answer_what+=" policy-load(an invalid policy was accepted)" ;;
	policy-breaking) ctl policy-load "$TMP/breaking.yaml"; record policy-load ;;
	*) ctl "$op" "$name"; record "$op" ;;
	esac
	note_pids
	sleep "0.$((RANDOM % 4))"
done
note_pids
summary=""
total=0
for op in kill9 sigstop sigcont stop start restart pause resume link-down link-up policy-load; do
	summary+=" $op ${n_op[$op]:-0} (${n_ok[$op]:-0} ok, ${n_refused[$op]:-0} refused);"
	total=$((total + ${n_op[$op]:-0}))
done
echo "# chaos: $total operations in $SECS s:$summary"
echo "# chaos: partition processes started: ${#known_pids[@]}"
if sup_alive && list && [ $no_answer -eq 0 ] && grep -q "\"name\":\"$D\"" "$TMP/list"; then
	echo "ok - chaos-supervisor-answers-throughout # seed $SEED, $total operations:$summary"
else
	sup_alive || show "$TMP/run.out"
	show "$TMP/ops.log"
	fail chaos-supervisor-answers-throughout "seed $SEED: supervisor $(sup_alive && echo alive || echo gone); $no_answer requests without a proper answer:$no_answer_what"
fi

# ---- stop and restart of a SIGSTOPped partition escalate -------------------------

for p in "${stopped[@]}"; do sigpid CONT "$p" 2>/dev/null; done
stopped=()
# A good policy is accepted (whatever the chaos left loaded), and takes effect.
pl_ok=1 pl_why=""
for n in 2 1; do
	ctl policy-load "$TMP/p$n.yaml"
	[ $crc = 0 ] || { pl_ok=0; pl_why+=" p$n: $(head -c 150 "$TMP/r" | tr -d '\n');"; }
	ctl acm
	grep -q "\"policy\":\"chaos-p$n\"" "$TMP/r" || { pl_ok=0; pl_why+=" acm after p$n: $(head -c 80 "$TMP/r" | tr -d '\n');"; }
done
if [ $pl_ok = 1 ]; then pass chaos-policy-reloads-accepted
else fail chaos-policy-reloads-accepted "${n_ok[policy-load]:-0} loads accepted during the chaos; then:$pl_why"; fi
ctl link-up l0
# bring_up NAME: get NAME running (resume, start; waits out a restart back-off).
bring_up() {
	local s
	list || return 1
	s=$(state "$1")
	case $s in
	running) return 0 ;;
	paused) ctl resume "$1" ;;
	stopped | exited) ctl start "$1" ;;
	esac
	return 1
}
# escalation OP NAME CASE: SIGSTOP NAME, ask OP; the process must be gone within
# the documented 3 s grace (+5 s slack), and for restart a new one must run.
escalation() {
	local op=$1 n=$2 case=$3 p p2="" gone=0 t0
	if ! wait_until 20 bring_up "$n"; then
		fail "$case" "$n did not get back to running before the check (state $(state "$n"))"
		return
	fi
	list
	p=$(pid_of "$n")
	sigpid STOP "$p"
	t0=$SECONDS
	ctl "$op" "$n"
	cp "$TMP/r" "$TMP/r.$op"
	wait_until 8 eval '! is_ours "$p" "$n"' && gone=1
	if [ $op = restart ] && [ $gone = 1 ]; then
		wait_until 10 eval 'list && [ "$(state "$n")" = running ]'
		p2=$(pid_of "$n")
	fi
	if [ $gone = 1 ] && { [ $op = stop ] || { [ -n "$p2" ] && [ "$p2" != "$p" ]; }; }; then
		pass "$case"
	else
		fail "$case" "ctl $op $n (pid $p, SIGSTOPped) answered '$(head -c 100 "$TMP/r.$op" | tr -d '\n')' (rc $crc); after $((SECONDS - t0)) s the process is $(is_ours "$p" "$n" && echo "still there ($(awk '/^State:/ {print $2}' /proc/"$p"/status))" || echo gone)${p2:+, new pid $p2}"
		sigpid CONT "$p" 2>/dev/null
	fi
}
escalation stop "$D" chaos-stop-escalates-on-sigstopped
escalation restart "$A" chaos-restart-escalates-on-sigstopped

# ---- everything back: it works again, with the same supervisor fds ---------------

wait_until 30 eval 'for n in $PARTS; do bring_up $n; done; all_running'
up=$?
note_pids
note_uids
b_before=$(grep -c "net: ping reply" "$TMP/b.log")
d_before=$(grep -c "blk: flushed record" "$TMP/d.log")
wait_until 15 eval '[ $(grep -c "net: ping reply" "$TMP/b.log") -ge $((b_before + 5)) ] &&
	[ $(grep -c "blk: flushed record" "$TMP/d.log") -ge $((d_before + 5)) ]'
traffic=$?
if [ $up = 0 ] && [ $traffic = 0 ]; then pass chaos-platform-recovers
else
	cat "$TMP/list" >&2
	fail chaos-platform-recovers "all running: $([ $up = 0 ] && echo yes || echo no); new ping replies $(( $(grep -c "net: ping reply" "$TMP/b.log") - b_before )), new flushed records $(( $(grep -c "blk: flushed record" "$TMP/d.log") - d_before )) in 15 s"
fi
after_fds=$(fds)
echo "# chaos: supervisor fds with $PARTS running: $(echo "$base_fds" | wc -l) before the chaos, $(echo "$after_fds" | wc -l) after"
if [ $up = 0 ] && [ "$base_fds" = "$after_fds" ]; then pass chaos-no-leaked-fds
else
	fail chaos-no-leaked-fds "supervisor fds with the same partitions running: $(echo "$base_fds" | wc -l) before, $(echo "$after_fds" | wc -l) after; diff:$(diff <(echo "$base_fds") <(echo "$after_fds") | grep '^[<>]' | sort | uniq -c | tr '\n' ';' | tr -s ' ')"
fi

# ---- SIGTERM with one partition SIGSTOPped ---------------------------------------

# orphans: our partition processes that still exist, and anything else running
# as one of the uids our partitions had (another platform's partition, named
# differently, is not ours). "" when there are none.
orphans() {
	local o="" p u c pp
	for p in $(ours_alive); do
		o+=" $p($(tr '\0' ' ' 2>/dev/null </proc/"$p"/cmdline)state $(awk '/^State:/ {print $2}' /proc/"$p"/status 2>/dev/null))"
	done
	for u in "${uids[@]}"; do
		for p in $(ps -eo pid=,uid= | awk -v u="$u" '$2 == u { print $1 }'); do
			c=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline")
			case "$c" in "lvmm __partition cha$$-"*) ;; "lvmm __partition "*) continue ;; esac
			# A uid is free again once our supervisor is gone: another live platform
			# (a parallel run) may have it now. Ours were reparented; theirs were not.
			pp=$(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
			case "$c" in "lvmm __partition cha$$-"*) ;; *) [ -n "$pp" ] && [ "$pp" != 1 ] && [ "$pp" != "$sup" ] && continue ;; esac
			case "$o" in *" $p("*) ;; *) o+=" $p(uid $u: $c)" ;; esac
		done
	done
	echo "$o"
}
# kill_ours: remove what is left, so that it cannot disturb what follows (the disk lock).
kill_ours() {
	local p
	for p in $(ours_alive); do sigpid KILL "$p"; done
	wait_until 5 eval '[ -z "$(ours_alive)" ]'
}

list
pd=$(pid_of "$D")
[ -n "$pd" ] && is_ours "$pd" "$D" && sigpid STOP "$pd"
sigpid TERM "$sup"
# Documented: partitions are asked to stop, then killed after 3 s.
if wait_until 10 eval '! sup_alive'; then
	wait "$sup"
	src=$?
	killed=""
	pass chaos-supervisor-exits-on-sigterm
else
	list
	fail chaos-supervisor-exits-on-sigterm "still running 10 s after SIGTERM ($D was SIGSTOPped); its list then: $(grep -o '"name":"[^"]*","state":"[a-z]*"' "$TMP/list" | sed 's/"name"://; s/,"state":/=/' | tr -d '"' | tr '\n' ' ')"
	sigpid KILL "$sup"
	wait "$sup"
	src=$?
	killed=" (the supervisor had to be killed with SIGKILL)"
fi
echo "# chaos: supervisor exit status $src$killed"
sleep 0.5
note_pids
o=$(orphans)
if [ -z "$o" ]; then pass chaos-no-orphan-processes
else fail chaos-no-orphan-processes "after the supervisor exited$killed:$o"; fi
kill_ours

left=""
for f in "$sock" "$ssock"; do [ -e "$f" ] && left+=" $f"; done
if [ -z "$left" ]; then pass chaos-no-leftover-sockets
else fail chaos-no-leftover-sockets "left behind$killed:$left"; fi

# ---- kill -9 of the supervisor with one partition SIGSTOPped -----------------------

# disk_free_check: the disk is free for the next lvmm (its lock went with the
# partitions of the killed supervisor), and the log goes on after the last
# record it reported.
disk_free_check() {
	local last next
	last=$(grep -o "blk: flushed record [0-9]*" "$TMP/d.log" | grep -o "[0-9]*$" | sort -n | tail -1)
	run_lvmm 30 "$TMP/again.out" run --no-stdin --kernel "$GUESTS/blk.elf" --disk "$img" \
		--cmdline "blk_log=1 log_max=1 log_interval_ms=0"
	next=$(grep -o "blk: log resumes at record [0-9]*" "$TMP/again.out" | grep -o "[0-9]*$")
	if [ $rc -eq 0 ] && [ -n "$next" ] && [ -n "$last" ] && [ "$next" -gt "$last" ] &&
	   contains "$TMP/again.out" "blk: flushed record $next"; then pass chaos-disk-free-after-killed-supervisor
	else show "$TMP/again.out"; fail chaos-disk-free-after-killed-supervisor "rc=$rc; resumed at ${next:-?}, last flushed ${last:-?}: $(grep -m1 -i "error" "$TMP/again.out")"; fi
}

"$L" run "$TMP/chaos.yaml" </dev/null >"$TMP/run2.out" 2>&1 &
sup=$!
d_before=$(grep -c "blk: flushed record" "$TMP/d.log")
if wait_until 30 all_running && wait_until 10 eval '[ $(grep -c "blk: flushed record" "$TMP/d.log") -gt $d_before ]'; then
	note_pids
	note_uids
	pd=$(pid_of "$D")
	sigpid STOP "$pd"
	sigpid KILL "$sup"
	wait "$sup" 2>/dev/null
	# Each partition must die with its supervisor, whatever its state.
	wait_until 5 eval '[ -z "$(orphans)" ]'
	o=$(orphans)
	if [ -z "$o" ]; then pass chaos-killed-supervisor-leaves-no-orphans
	else fail chaos-killed-supervisor-leaves-no-orphans "5 s after kill -9 of the supervisor ($D SIGSTOPped):$o"; fi
	disk_free_check
else
	show "$TMP/run2.out"
	fail chaos-killed-supervisor-leaves-no-orphans "the platform did not come up a second time"
	fail chaos-disk-free-after-killed-supervisor "the platform did not come up a second time"
	sigpid KILL "$sup"
	wait "$sup" 2>/dev/null
fi
kill_ours

# Every record the guest reported flushed (complete console lines only) is in
# the image, with the content of the boot that wrote it.
python3 - "$TMP/d.log" "$img" >"$TMP/verify" 2>&1 <<'PY'
import re, sys
log, img = sys.argv[1], sys.argv[2]
data = open(img, "rb").read()
seen, bad = {}, []
for line in open(log, "rb").read().decode("latin-1").splitlines():
    m = re.fullmatch(r"\[[^\]]*\] blk: flushed record (\d+) boot ([0-9a-f]{8})\r?", line)
    if not m:
        continue
    k, boot = int(m.group(1)), m.group(2)
    if k in seen:
        bad.append("record %d reported twice (boots %s and %s)" % (k, seen[k], boot))
    seen[k] = boot
    text = ("lvmm blk log record %08d boot %s" % (k, boot)).ljust(63) + "\n"
    want = text.encode() * 8
    got = data[k * 512:(k + 1) * 512]
    if got != want:
        bad.append("record %d (boot %s): sector holds %r" % (k, boot, got[:64]))
print("records %d boots %d bad %d" % (len(seen), len(set(seen.values())), len(bad)))
for b in bad[:5]:
    print(b)
sys.exit(1 if bad or len(seen) < 10 else 0)
PY
vrc=$?
echo "# chaos: flushed $(head -1 "$TMP/verify")"
if [ $vrc = 0 ]; then pass chaos-flushed-records-on-disk
else show "$TMP/verify"; fail chaos-flushed-records-on-disk "$(head -3 "$TMP/verify" | tr '\n' ';')"; fi

