#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Memory beside guest RAM (docs/design.md, "Memory"): the supervisor and a
# partition together, PSS minus shared memory (guest RAM is a memfd), stay
# within 2 MiB while a guest runs. lvmm links neither libcrypto nor ncurses
# (a static-pie process dirties every linked library's pointer tables); the
# commands that need them (check, measure, top, the trust process) are
# lvmm-tools, which lvmm execs from next to itself, and says so when it is missing.
. "$(dirname "$0")/../lib.sh"

CASES="startup-memory-within-2mib lvmm-links-no-libcrypto-or-ncurses commands-needing-tools-run-lvmm-tools
       missing-lvmm-tools-is-named"

# Pss - Pss_Shmem (KiB) of PID and its children, as bench/tools/vmmtime --rss counts it.
tree_kib() {
	local p sum=0 k
	for p in "$1" $(pgrep -P "$1"); do
		k=$(awk '/^Pss:/ { a = $2 } /^Pss_Shmem:/ { b = $2 } END { print a - b }' "/proc/$p/smaps_rollup") || return 1
		sum=$((sum + k))
	done
	echo "$sum"
}

if ! have_kvm; then
	skip startup-memory-within-2mib "/dev/kvm is not available"
elif san_build; then
	skip startup-memory-within-2mib "sanitizer build (ASan's shadow and quarantine are memory of their own)"
else
	out=$TMP/mem.out
	"$LVMM" run --no-stdin --kernel "$GUESTS/hello.elf" --memory 64 --cmdline hold_ms=3000 >"$out" 2>&1 &
	sup=$!
	kib=
	if wait_grep "$out" "hello from lvmm guest" 100; then
		sleep 0.3 # as bench/startup.sh: 300 ms after the first console byte
		kib=$(tree_kib "$sup")
		parts=$(pgrep -P "$sup" | wc -l)
	fi
	wait "$sup"
	rc=$?
	echo "# supervisor + $parts partition: $kib KiB (Pss - Pss_Shmem)" >&2
	if [ $rc -eq 0 ] && [ "${parts:-0}" = 1 ] && [ -n "$kib" ] && [ "$kib" -gt 0 ] && [ "$kib" -le 2048 ]; then
		pass startup-memory-within-2mib
	else show "$out"; fail startup-memory-within-2mib "rc=$rc, ${parts:-?} partition(s), ${kib:-no} KiB (goal <= 2048)"; fi
fi

# The symbols stand for the libraries (defined, or undefined in a sanitizer
# build, which links them dynamically): lvmm-tools has them, so the probe works.
probe='^[0-9a-f ]* [TDU] (EVP_DigestInit_ex|initscr)(@.*)?$'
nl=$(nm "$LVMM" 2>/dev/null | grep -cE "$probe")
nt=$(nm "$(dirname "$LVMM")/lvmm-tools" 2>/dev/null | grep -cE "$probe")
if [ "$nl" = 0 ] && [ "$nt" = 2 ]; then pass lvmm-links-no-libcrypto-or-ncurses
else fail lvmm-links-no-libcrypto-or-ncurses "lvmm has $nl of EVP_DigestInit_ex/initscr, lvmm-tools $nt of 2"; fi

cat >"$TMP/p.yaml" <<YAML
partitions:
  - name: a
    kernel: $PWD/$GUESTS/hello.elf
    memory: 64M
YAML
"$LVMM" check "$TMP/p.yaml" >"$TMP/check.out" 2>&1
crc=$?
"$LVMM" help top >"$TMP/top.out" 2>&1
trc=$?
if [ $crc -eq 0 ] && contains "$TMP/check.out" "ok: 1 partition" && [ $trc -eq 0 ] &&
   grep -q '^Usage: lvmm top' "$TMP/top.out"; then
	pass commands-needing-tools-run-lvmm-tools
else show "$TMP/check.out"; show "$TMP/top.out"
	fail commands-needing-tools-run-lvmm-tools "check rc=$crc, help top rc=$trc"; fi

# lvmm alone: check cannot run, and the message names what is missing and where it looked.
mkdir -p "$TMP/solo"
cp "$LVMM" "$TMP/solo/lvmm"
"$TMP/solo/lvmm" check "$TMP/p.yaml" >"$TMP/solo.out" 2>&1
src=$?
if [ $src = 120 ] && grep -q "'check' needs lvmm-tools, which cannot be run from $TMP/solo nor from" "$TMP/solo.out"; then
	pass missing-lvmm-tools-is-named
else show "$TMP/solo.out"; fail missing-lvmm-tools-is-named "rc=$src"; fi
