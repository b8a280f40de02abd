#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# int3 and fwait at CPL0, which this host's KVM emulator rejects (DESIGN.md
# §5) and lvmm completes (src/vmm/insn_fixup.c, vcpu.c): the emul test guest
# executes each at CPL0 through a service call, with a #BP handler that
# checks the return address; fwait with an unmasked x87 exception pending
# must still be reported as an emulation failure (lvmm completes only the
# exact, unambiguous case); the per-instruction log lines are rate-limited
# and the totals counted. Unit tests of the decision: test_insn_fixup.
. "$(dirname "$0")/../lib.sh"
CASES="emul-int3-and-fwait-at-cpl0 emul-fwait-pending-exception-reported emul-log-rate-limited-and-counted"
skip_all_without_kvm $CASES

out=$TMP/emul.out
run_lvmm 60 "$out" -v run --no-stdin --kernel "$GUESTS/emul.elf" --cmdline "int3=3 fwait=3"
tr -d '\r' <"$out" >"$out.txt"
if [ $rc -eq 0 ] && grep -qx "emul: int3 at CPL0: #BP handler ran with the return address after it (3/3)" "$out.txt" &&
   grep -qx "emul: fwait at CPL0: survived (3/3)" "$out.txt" && grep -qx "emul: done" "$out.txt"; then
	pass emul-int3-and-fwait-at-cpl0
else show "$out.txt"; fail emul-int3-and-fwait-at-cpl0 "rc=$rc (122: KVM's emulation failure reported instead of completed; 123: sandbox)"; fi

out=$TMP/pending.out
run_lvmm 60 "$out" run --no-stdin --kernel "$GUESTS/emul.elf" --cmdline "int3=0 fwait=0 fwait_pending=1"
tr -d '\r' <"$out" >"$out.txt"
if [ $rc -eq 122 ] && grep -q "^emul: fwait with an x87 exception pending" "$out.txt" &&
   ! grep -q "RETURNED" "$out.txt" &&
   grep -q "guest crashed: KVM internal error, suberror 1 (instruction emulation failed) (vCPU 0, rip 0x[0-9a-f]*, instruction bytes 9b" "$out.txt"; then
	pass emul-fwait-pending-exception-reported
else show "$out.txt"; fail emul-fwait-pending-exception-reported "rc=$rc: fwait with an x87 exception pending was completed or not reported with its bytes"; fi

# A guest can execute int3 in a loop: a few lines, then the total once.
out=$TMP/many.out
run_lvmm 120 "$out" -v run --no-stdin --kernel "$GUESTS/emul.elf" --cmdline "int3=300 fwait=100"
tr -d '\r' <"$out" >"$out.txt"
lines=$(grep -c "completed int3 at CPL0\|completed fwait at CPL0" "$out.txt")
if [ $rc -eq 0 ] && grep -qx "emul: int3 at CPL0: #BP handler ran with the return address after it (300/300)" "$out.txt" &&
   grep -q "vcpu0: completed 300 int3 and 100 fwait at CPL0" "$out.txt" && [ "$lines" -ge 1 ] && [ "$lines" -le 40 ]; then
	pass emul-log-rate-limited-and-counted
	echo "# 400 completions, $lines log lines"
else show "$out.txt"; fail emul-log-rate-limited-and-counted "rc=$rc, $lines per-instruction lines (want 1-40) or no total"; fi
