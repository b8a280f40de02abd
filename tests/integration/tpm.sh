#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The guest's TPM: the partition's CRB device and its event log, driven by
# the tpm test guest (tests/guests/tpm.c) from CPL3.
#
# Most cases run the partition process through tests/tools/tpm_peer, which
# plays the supervisor and the partition's trust process (canned TPM
# answers; --measure: the event log and PCRs lvmm's measurement code
# produces for this boot set), so they test the partition side alone:
# the CRB registers, the channel to the trust process, the event log in
# guest memory, the ACPI TPM2 table, malformed commands and START floods,
# a trust process that goes away, config refusals.
#
# The cases at the end need the supervisor's trust wiring (a platform file
# `{ type: tpm, state: DIR }`, `lvmm measure`): they are skipped until that
# exists, then check the guest's PCRs, read through the CRB from the real
# vTPM, against `lvmm measure`'s prediction.
. "$(dirname "$0")/../lib.sh"
FAKE_CASES="tpm-guest-reads-measured-pcrs tpm-eventlog-in-guest-memory tpm-acpi-tpm2-table
 tpm-malformed-commands-answered tpm-start-flood-not-stuck tpm-locality-1-refused
 tpm-trust-process-gone tpm-no-device-no-table tpm-config-refused tpm-bare-swtpm-startup"
REAL_CASES="tpm-pcrs-equal-lvmm-measure tpm-guest-eventlog-equals-measure"
skip_all_without_kvm $FAKE_CASES $REAL_CASES
PEER=$BUILD/tests/tools/tpm_peer
if [ ! -x "$PEER" ] || [ ! -f "$GUESTS/tpm.elf" ]; then
	for n in $FAKE_CASES $REAL_CASES; do fail $n "$PEER or $GUESTS/tpm.elf not built (make)"; done
	exit 0
fi
export LVMM

# --- the partition side, against the fake trust process -------------------------------
out=$TMP/measured.out
"$PEER" --measure --timeout 60 "$GUESTS/tpm.elf" "flood=1000 events=6" >"$out" 2>"$TMP/measured.err"
rc=$?
tr -d '\r' <"$out" >"$out.txt"
same=1
for p in 17 18 19 20 21 22; do
	want=$(sed -n "s/^tpm_peer: predicted pcr$p=//p" "$out.txt")
	got=$(sed -n "s/^tpm: pcr$p=//p" "$out.txt")
	if [ -z "$want" ] || [ "$want" != "$got" ]; then same=0; echo "# pcr$p: predicted '$want', guest read '$got'" >&2; fi
done
if [ $rc -eq 0 ] && [ $same = 1 ] && grep -qx "tpm: done" "$out.txt" &&
   grep -qx "tpm: locality 0 granted" "$out.txt"; then
	pass tpm-guest-reads-measured-pcrs
else show "$out.txt"; cat "$TMP/measured.err" >&2; fail tpm-guest-reads-measured-pcrs "rc=$rc; the guest's PCRs 17-22 are not the measured ones"; fi

# The event log the trust process wrote, where the TPM2 table says, as a guest parses it.
size=$(sed -n 's/^tpm_peer: eventlog \([0-9]*\) bytes$/\1/p' "$out.txt")
if [ -n "$size" ] && grep -qx "tpm: eventlog $size bytes, 6 events, \"Spec ID Event03\" algs 1 sha256" "$out.txt" &&
   grep -q '^tpm: event 1: pcr 17 type 0xc sha256 [0-9a-f]\{64\} data "lvmm launch tpmtest"$' "$out.txt" &&
   grep -q '^tpm: event 3: pcr 18 type 0xc sha256 [0-9a-f]\{64\} data "kernel tpm.elf"$' "$out.txt" &&
   grep -q '^tpm: event 5: pcr 20 type 0xc sha256 [0-9a-f]\{64\} data "flood=1000 events=6"$' "$out.txt"; then
	pass tpm-eventlog-in-guest-memory
else show "$out.txt"; fail tpm-eventlog-in-guest-memory "the guest did not find the 6-event log at 0xf0000"; fi
# The kernel's digest in the log is the file's.
k=$(sha256sum "$GUESTS/tpm.elf" | cut -d' ' -f1)
if grep -qx "tpm: acpi TPM2 start 7 control 0xfed40040 laml 65536 lasa 0xf0000" "$out.txt" &&
   grep -q "^tpm: event 3: pcr 18 type 0xc sha256 $k " "$out.txt"; then
	pass tpm-acpi-tpm2-table
else show "$out.txt"; fail tpm-acpi-tpm2-table "no TPM2 table naming the CRB and the log, or a wrong kernel digest"; fi

# Malformed commands get TPM error codes from the device itself: the trust
# process saw only the two well-formed commands (PCR_Read, GetRandom).
if grep -qx "tpm: malformed bad-tag rc=0x01e" "$out.txt" && grep -qx "tpm: malformed short rc=0x142" "$out.txt" &&
   grep -qx "tpm: malformed vendor rc=0x143" "$out.txt" && grep -qx "tpm_peer: commands 2: 0x17e 0x17b" "$out.txt"; then
	pass tpm-malformed-commands-answered
else show "$out.txt"; fail tpm-malformed-commands-answered "wrong error codes, or a malformed command reached the trust process"; fi

# START written again and again while the (100 ms late) answer is out: one
# command reaches the trust process, the device ignores the STARTs and
# comes back with an answer: the command's own (rc 0, 20 bytes), or, when
# the guest's last START raced with the answer, that START's own
# TPM_RC_COMMAND_SIZE (nothing new was written). Then 1000 empty STARTs,
# each answered at once.
busy=$(sed -n 's/^tpm: flood \([0-9]*\) starts while busy, answer rc=0x\(000 len 20\|142 len 10\)$/\1/p' "$out.txt")
ign=$(sed -n 's/^tpm_peer: device tpm0 commands 2 errors [0-9]* ignored-starts \([0-9]*\)$/\1/p' "$out.txt")
if [ -n "$busy" ] && [ "$busy" -gt 0 ] && [ -n "$ign" ] && [ "$ign" -ge $((busy - 1)) ] && [ "$ign" -le "$busy" ] &&
   grep -qx "tpm: flood 1000 empty starts, all rc=0x142" "$out.txt"; then
	pass tpm-start-flood-not-stuck
	echo "# $busy STARTs while busy were ignored, 1000 empty STARTs answered 0x142"
else show "$out.txt"; fail tpm-start-flood-not-stuck "busy=$busy ignored=$ign"; fi

if grep -qx "tpm: locality 1 refused" "$out.txt" && grep -q "write to locality 1's registers refused" "$TMP/measured.err"; then
	pass tpm-locality-1-refused
else show "$out.txt"; fail tpm-locality-1-refused "locality 1 was granted, or the refusal was not logged"; fi

# The trust process closes the channel with the first command unanswered:
# the guest gets TPM_RC_FAILURE (never a stuck START), later commands too,
# and the partition runs on to its normal end.
out=$TMP/gone.out
"$PEER" --close-after 1 --timeout 60 "$GUESTS/tpm.elf" "flood=10" >"$out" 2>"$TMP/gone.err"
rc=$?
tr -d '\r' <"$out" >"$out.txt"
if [ $rc -eq 1 ] && grep -qx "tpm: pcr_read rc=0x101" "$out.txt" &&
   grep -qx "tpm: flood 0 starts while busy, answer rc=0x101 len 10" "$out.txt" &&
   grep -qx "tpm: done" "$out.txt" && grep -q "^tpm_peer: exit reason 1 status 1:" "$out.txt" &&
   grep -q "vTPM channel closed by the trust process" "$TMP/gone.err"; then
	pass tpm-trust-process-gone
else show "$out.txt"; cat "$TMP/gone.err" >&2; fail tpm-trust-process-gone "rc=$rc (want 1: the guest's PCR read failed, nothing stuck)"; fi

# Without a TPM device: no CRB behind the address and no TPM2 table.
out=$TMP/none.out
run_lvmm 30 "$out" run --no-stdin --kernel "$GUESTS/tpm.elf"
tr -d '\r' <"$out" >"$out.txt"
if [ $rc -eq 4 ] && grep -qx "tpm: acpi no TPM2 table" "$out.txt" && grep -qx "tpm: no CRB TPM at 0xfed40000" "$out.txt"; then
	pass tpm-no-device-no-table
else show "$out.txt"; fail tpm-no-device-no-table "rc=$rc"; fi

# A channel that is not SEQPACKET, or a second TPM: refused before the guest runs.
"$PEER" --stream-channel --timeout 20 "$GUESTS/tpm.elf" >"$TMP/bad1.out" 2>&1; rc1=$?
"$PEER" --two-tpms --timeout 20 "$GUESTS/tpm.elf" >"$TMP/bad2.out" 2>&1; rc2=$?
if [ $rc1 -eq 106 ] && grep -q "^tpm_peer: exit reason 6 .*config: device tpm0: fd\[0\] is not a SEQPACKET socket" "$TMP/bad1.out" &&
   [ $rc2 -eq 106 ] && grep -q "^tpm_peer: exit reason 6 .*config: device tpm1: a second TPM" "$TMP/bad2.out" &&
   ! grep -q "^tpm: " "$TMP/bad1.out" "$TMP/bad2.out"; then
	pass tpm-config-refused
else show "$TMP/bad1.out"; show "$TMP/bad2.out"; fail tpm-config-refused "rc=$rc1/$rc2 (want 106: setup refused)"; fi

# A real TPM behind the device (tpm_peer relays to a bare swtpm that nobody
# started): the guest's PCR read gets TPM_RC_INITIALIZE, it sends
# TPM2_Startup(CLEAR), and then reads PCRs 17-22 as a fresh TPM 2.0 has
# them at locality 0 (all ones, until a DRTM launch resets them).
if command -v swtpm >/dev/null; then
	sw=$TMP/swtpm
	mkdir -p "$sw/state"
	swtpm socket --tpm2 --tpmstate dir="$sw/state" --server type=unixio,path="$sw/data" \
		--ctrl type=unixio,path="$sw/ctrl" --flags not-need-init --terminate \
		--pid file="$sw/pid" --daemon >"$sw/log" 2>&1
	for _ in $(seq 50); do [ -S "$sw/data" ] && break; sleep 0.1; done
	out=$TMP/bare.out
	"$PEER" --swtpm "$sw/data" --timeout 60 "$GUESTS/tpm.elf" "flood=50" >"$out" 2>"$TMP/bare.err"
	rc=$?
	[ -s "$sw/pid" ] && sigpid KILL "$(cat "$sw/pid")" 2>/dev/null
	tr -d '\r' <"$out" >"$out.txt"
	ones=ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff
	if [ $rc -eq 0 ] && grep -qx "tpm: TPM not started (rc=0x100): sending TPM2_Startup(CLEAR)" "$out.txt" &&
	   grep -qx "tpm: startup rc=0x000" "$out.txt" && grep -qx "tpm: pcr17=$ones" "$out.txt" &&
	   grep -qx "tpm: pcr22=$ones" "$out.txt" && grep -qx "tpm: malformed vendor rc=0x143" "$out.txt" &&
	   grep -q "^tpm_peer: commands 4: 0x17e 0x144 0x17e 0x17b$" "$out.txt"; then
		pass tpm-bare-swtpm-startup
	else show "$out.txt"; cat "$sw/log" >&2; fail tpm-bare-swtpm-startup "rc=$rc: no Startup, or PCRs 17-22 not all ones"; fi
else
	skip tpm-bare-swtpm-startup "swtpm is not installed (make deps)"
fi

# --- with the supervisor's trust wiring (lvmm measure, type: tpm) ---------------------
if "$LVMM" measure 2>&1 | grep -q "unknown command 'measure'" || ! command -v swtpm >/dev/null; then
	for n in $REAL_CASES; do skip $n "needs the supervisor's vTPM wiring (lvmm measure, { type: tpm }) and swtpm"; done
	exit 0
fi
mkdir -p "$TMP/state"
cat >"$TMP/tpm.yaml" <<YAML
partitions:
  - name: guest
    kernel: $PWD/$GUESTS/tpm.elf
    cmdline: "flood=100 events=6"
    memory: 32M
    devices:
      - { type: tpm, state: $TMP/state }
YAML
out=$TMP/real.out
run_lvmm 120 "$out" run "$TMP/tpm.yaml"
tr -d '\r' <"$out" >"$out.txt"
"$LVMM" measure "$TMP/tpm.yaml" guest --eventlog "$TMP/measure.log" >"$TMP/measure.out" 2>&1
mrc=$?
same=1
for p in 17 18 19 20 21 22; do
	got=$(sed -n "s/^tpm: pcr$p=//p" "$out.txt")
	# lvmm measure names each PCR with its value (a line with the number and 64 hex digits);
	# the number not within hex digits: another PCR's hash may hold "22" (as in "f22e").
	want=$(grep -E "(^|[^0-9a-f])$p([^0-9a-f]|$)" "$TMP/measure.out" | grep -oE '[0-9a-f]{64}' | head -1)
	if [ -z "$got" ] || [ "$want" != "$got" ]; then same=0; echo "# pcr$p: measure '$want', guest '$got'" >&2; fi
done
if [ $rc -eq 0 ] && [ $mrc -eq 0 ] && [ $same = 1 ]; then
	pass tpm-pcrs-equal-lvmm-measure
else show "$out.txt"; cat "$TMP/measure.out" >&2; fail tpm-pcrs-equal-lvmm-measure "rc=$rc measure rc=$mrc: the PCRs the guest read are not lvmm measure's"; fi
size=$(stat -c %s "$TMP/measure.log" 2>/dev/null || echo 0)
if grep -qx "tpm: eventlog $size bytes, 6 events, \"Spec ID Event03\" algs 1 sha256" "$out.txt" &&
   grep -q '^tpm: event 1: pcr 17 type 0xc sha256 [0-9a-f]\{64\} data "lvmm launch guest"$' "$out.txt"; then
	pass tpm-guest-eventlog-equals-measure
else show "$out.txt"; fail tpm-guest-eventlog-equals-measure "the guest's event log is not lvmm measure's ($size bytes)"; fi
