# SPDX-License-Identifier: MIT
# Helpers for integration tests (sourced). Each test case reports exactly one of
#   ok - NAME | not ok - NAME: why | skip - NAME: why
set -u
: "${BUILD:=build}" "${LVMM:=$BUILD/lvmm}"
TMP=$(mktemp -d "${LVMM_TEST_TMP:-/tmp}/t.XXXXXX")
GUESTS=$BUILD/guests

pass() { echo "ok - $1"; }
fail() { echo "not ok - $1: $2"; }
skip() { echo "skip - $1: $2"; }

# have_kvm: true if /dev/kvm can be opened read-write.
have_kvm() { [ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; }

# skip_all_without_kvm NAME...: report every named case skipped and exit if no KVM.
# The names are the file's cases: tests/run fails any of them it never reports.
skip_all_without_kvm() {
	[ -n "${LVMM_TEST_DECLARED:-}" ] && printf '%s\n' "$@" >"$LVMM_TEST_DECLARED"
	if ! have_kvm; then
		for n in "$@"; do skip "$n" "/dev/kvm is not available"; done
		exit 0
	fi
}

# run_lvmm SECONDS OUTFILE ARGS...: run lvmm with a time bound; sets $rc.
# stdout and stderr both go to OUTFILE. rc 124 means it timed out.
run_lvmm() {
	local secs=$1 out=$2; shift 2
	timeout --kill-after=5 "$secs" "$LVMM" "$@" </dev/null >"$out" 2>&1
	rc=$?
}

# san_build: lvmm is the sanitizer build (make SAN=1): no address-space bound
# there (ASan's shadow memory reserves terabytes; shared/memlimit.h).
san_build() { readelf -d "$LVMM" 2>/dev/null | grep -q libasan; }

# as_room PID: how far PID's address-space limit (RLIMIT_AS, soft) is above
# what it maps now, in MiB; "unlimited" without one, "" if PID is gone.
as_room() {
	local lim size
	lim=$(awk '/^Max address space/ { print $4 }' "/proc/$1/limits" 2>/dev/null)
	size=$(awk '/^VmSize:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
	[ -n "$lim" ] && [ -n "$size" ] || return 0
	if [ "$lim" = unlimited ]; then echo unlimited; else echo $(((lim - size * 1024) >> 20)); fi
}
# as_bounded PID: PID's address space is bounded at most 256 MiB above what
# it maps (SANDBOX_AS_HEADROOM, shared/memlimit.h); sets $room (MiB) for the
# failure message. Always true in the sanitizer build, which has no bound.
as_bounded() {
	if san_build; then room="none (sanitizer build)"; return 0; fi
	room=$(as_room "$1")
	[[ "$room" =~ ^[0-9]+$ ]] && [ "$room" -le 256 ]
}

# How busy the host was with work other than this script's: others_begin,
# then (after the runs to look at) others_end sets $others_pct, the CPU that
# everything else took meanwhile, in percent of one CPU: host CPU time spent
# busy (/proc/stat: user, nice, system, irq, softirq and steal, the time the
# hypervisor gave to other machines) less the CPU of this shell's children
# (lvmm, waited for through timeout). For a case that needs a host CPU of
# its own besides lvmm's (a poll window): on this 2-CPU host, 20-35% idle,
# 75-85% beside a busy loop, 110-115% beside two.
others_cpu_() { # sets others_busy_ and others_kids_ (centiseconds)
	times >"$TMP/.times"
	others_kids_=$(awk 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) { split($i, b, "m"); s += b[1] * 60 + b[2] } printf "%d", s * 100 }' "$TMP/.times")
	others_busy_=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat)
}
others_begin() { others_cpu_; others_b0_=$others_busy_ others_k0_=$others_kids_ others_t0_=$(date +%s%N); }
others_end() {
	local wall=$((($(date +%s%N) - others_t0_) / 10000000))
	others_cpu_
	others_pct=$(((others_busy_ - others_b0_ - (others_kids_ - others_k0_)) * 100 / (wall > 0 ? wall : 1)))
}

# expect NAME CONDITION-DESCRIPTION COMMAND...: pass if COMMAND succeeds.
expect() {
	local name=$1 why=$2; shift 2
	if "$@"; then pass "$name"; else fail "$name" "$why"; fi
}

# contains FILE STRING: fixed-string search.
contains() { grep -qF -- "$2" "$1"; }

# show FILE: print a file's tail to stderr (kept by tests/run on failure).
show() { echo "== $1 ==" >&2; tail -n 40 "$1" >&2; }

cleanup_tmp() { rm -rf "$TMP"; }
trap cleanup_tmp EXIT

# Supervisors a case runs in the background. start_bg OUT ARGS...: `lvmm ARGS`
# with no stdin, its output in OUT; sets $sup and adds it to $BG (a script's
# exit trap kills what is left there). stop_sup: SIGTERM to $sup, SIGKILL
# after 10 s, reaped.
BG=""
start_bg() {
	local o=$1; shift
	"$LVMM" "$@" </dev/null >"$o" 2>&1 &
	sup=$!
	BG="$BG $sup"
}
stop_sup() { sigpid TERM "$sup" 2>/dev/null; for _ in $(seq 100); do kill -0 "$sup" 2>/dev/null || break; sleep 0.1; done; sigpid KILL "$sup" 2>/dev/null; wait "$sup" 2>/dev/null; }

# sigpid SIG PID...: send SIG to each process. Refuses an empty, 0 or negative
# pid: `kill -STOP 0` (a partition whose pid read as 0) would stop the test's
# own process group, `timeout` included, and hang the whole suite.
sigpid() {
	local sig=$1 p r=0; shift
	[ $# -gt 0 ] || { echo "# sigpid $sig: no pid" >&2; return 1; }
	for p in "$@"; do
		case "$p" in
		''|0|-*|*[!0-9]*) echo "# sigpid: refusing to send $sig to pid '$p'" >&2; r=1 ;;
		*) kill "-$sig" "$p" 2>/dev/null || r=1 ;;
		esac
	done
	return $r
}

# wait_grep FILE PATTERN N: until FILE has a line matching PATTERN (grep regex), up to N tenths of a second.
wait_grep() { for _ in $(seq "$3"); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
# restart_delays EVENTS PARTITION: "DELAY_MS:RESTARTS " for each partition_restart_scheduled
# event of PARTITION in the JSONL file EVENTS, in order.
restart_delays() {
	sed -n "s/.*\"partition_restart_scheduled\",\"partition\":\"$2\",\"delay_ms\":\([0-9]*\),\"restarts\":\([0-9]*\).*/\1:\2/p" \
		"$1" 2>/dev/null | tr '\n' ' '
}
# wait_sock PATH [N]: until PATH is a socket, up to N tenths of a second (100).
wait_sock() { for _ in $(seq "${2:-100}"); do [ -S "$1" ] && return 0; sleep 0.1; done; return 1; }
