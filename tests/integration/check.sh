#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `lvmm check` (and the load phase of `lvmm run`) on hostile and careless input:
# bounded time, memory and output; every problem of every stage reported; what
# `run` would refuse refused up front; warnings for CPUID masks KVM ignores.
. "$(dirname "$0")/../lib.sh"

K=$PWD/$GUESTS/hello.elf
out=$TMP/out

# Bound memory with ulimit -v, except under ASan (it reserves terabytes of address space).
if ldd "$LVMM" 2>/dev/null | grep -q libasan; then VLIMIT=unlimited; else VLIMIT=262144; fi # KiB

# bounded SECONDS FILE ARGS...: lvmm under a CPU, memory and wall-clock bound; sets $rc and $secs.
bounded() {
	local s=$1 o=$2 t0 t1
	shift 2
	t0=$(date +%s%N)
	(ulimit -v $VLIMIT; ulimit -t "$s"; timeout --kill-after=2 "$s" "$LVMM" "$@") </dev/null >"$o" 2>&1
	rc=$?
	t1=$(date +%s%N)
	secs=$(( (t1 - t0) / 1000000000 ))
}

# A 200 KB file nested 100,000 deep took 77 s of CPU (libyaml's scanner is quadratic in depth).
python3 -c "import sys; n=100000; sys.stdout.write('partitions:\n  - name: a\n    kernel: ' + '['*n + ']'*n + '\n')" >"$TMP/deep.yaml"
bounded 10 "$out" check "$TMP/deep.yaml"
if [ $rc -eq 120 ] && grep -q "deep.yaml:3: lists and mappings nested more than 32 deep (the limit)" "$out" &&
   [ "$(wc -l <"$out")" -le 3 ] && [ $secs -le 3 ]; then pass check-bounded-depth
else show "$out"; fail check-bounded-depth "rc=$rc after ${secs}s (want 120 at once, naming the limit and line 3)"; fi

# "Billion laughs": 3,000 aliases of a 3,000-entry list: 9 million values for libcyaml, and
# one error line per unknown type (it printed 128,000 lines with 2,000 x 2,000).
python3 - "$TMP/laughs.yaml" <<'PY'
import sys
n = 3000
s = 'partitions: [{name: a, kernel: /etc/hostname, label: l0}]\npolicy:\n  ste_types: [t]\n  labels:\n'
s += '    - {name: l0, ste: &A [' + ', '.join(['u'] * n) + ']}\n'
s += ''.join('    - {name: m%d, ste: *A}\n' % i for i in range(n))
open(sys.argv[1], 'w').write(s)
PY
bounded 10 "$out" check "$TMP/laughs.yaml"
if [ $rc -eq 120 ] && grep -q "laughs.yaml:21: the document holds more than 50000 values once aliases (\*name) are expanded (the limit)" "$out" &&
   [ "$(wc -l <"$out")" -le 3 ] && [ $secs -le 3 ]; then pass check-bounded-aliases
else head -c 2000 "$out" >&2; fail check-bounded-aliases "rc=$rc after ${secs}s, $(wc -l <"$out") lines"; fi

# Size: a 2 MB stream (a pipe has no size to look at first) is cut at 1 MiB.
bounded 10 "$out" check <(head -c 2000000 /dev/zero | tr '\0' '#')
if [ $rc -eq 120 ] && contains "$out" "is larger than 1048576 bytes (1 MiB), the limit for configuration files"; then
	pass check-bounded-size
else show "$out"; fail check-bounded-size "rc=$rc"; fi

# The same bounds apply to a policy file of its own.
python3 -c "import sys; n=100000; sys.stdout.write('labels: ' + '['*n + ']'*n + '\n')" >"$TMP/deep-policy.yaml"
printf 'policy_file: deep-policy.yaml\npartitions:\n  - name: a\n    kernel: %s\n' "$K" >"$TMP/pf.yaml"
bounded 10 "$out" check "$TMP/pf.yaml"
if [ $rc -eq 120 ] && grep -q "deep-policy.yaml:1: lists and mappings nested more than 32 deep (the limit)" "$out" &&
   [ $secs -le 3 ]; then pass check-bounded-policy-file
else show "$out"; fail check-bounded-policy-file "rc=$rc after ${secs}s"; fi

# A policy uploaded at run time (it may come from a partition) meets the same limits in
# the sandboxed compiler: an alias bomb under the 64 KiB upload cap is refused by name.
if have_kvm; then
	python3 - "$TMP/bomb.yaml" <<'PY'
import sys
n = 2000
s = 'ste_types: &A [' + ', '.join(['t'] * n) + ']\nlabels:\n'
s += ''.join('  - {name: l%d, ste: *A}\n' % i for i in range(n))
open(sys.argv[1], 'w').write(s)
PY
	printf 'control: %s\npartitions:\n  - name: a\n    kernel: %s\n    cmdline: "hold_ms=20000"\n    console: none\n' \
		"$TMP/ctl.sock" "$K" >"$TMP/up.yaml"
	timeout 40 "$LVMM" run "$TMP/up.yaml" </dev/null >"$TMP/up.out" 2>&1 &
	sup=$!
	for _ in $(seq 50); do [ -S "$TMP/ctl.sock" ] && break; sleep 0.1; done
	t0=$(date +%s)
	"$LVMM" ctl --json "$TMP/ctl.sock" policy-load "$TMP/bomb.yaml" >"$out" 2>&1
	t1=$(date +%s)
	"$LVMM" ctl --json "$TMP/ctl.sock" list >"$TMP/list" 2>&1; lrc=$?
	"$LVMM" ctl --json "$TMP/ctl.sock" stop a >/dev/null 2>&1
	wait $sup
	if grep -q '"ok":false' "$out" && contains "$out" "(the limit)" && [ $((t1 - t0)) -le 3 ] && [ $lrc -eq 0 ]; then
		pass check-bounded-policy-upload
	else show "$out"; show "$TMP/up.out"; fail check-bounded-policy-upload "the upload was not refused by name within 3 s"; fi
else
	skip check-bounded-policy-upload "/dev/kvm is not available"
fi

# Many distinct problems (no aliases): the first 50 lines, then how many more, then the count.
python3 - "$TMP/many.yaml" "$K" <<'PY'
import sys
s = 'partitions: [{name: a, kernel: %s, label: l0}]\npolicy:\n  ste_types: [t]\n  labels:\n' % sys.argv[2]
s += ''.join('    - {name: m%d, ste: [u%d, v%d]}\n' % (i, i, i) for i in range(60))
open(sys.argv[1], 'w').write(s)
PY
bounded 10 "$out" check "$TMP/many.yaml"
if [ $rc -eq 120 ] && [ "$(grep -c "unknown STE type" "$out")" -eq 50 ] &&
   grep -q "^lvmm: ... and 70 more problem lines not shown (the first 50 are)$" "$out" &&
   tail -n 1 "$out" | grep -q "many.yaml: 120 problems"; then pass check-error-lines-capped
else show "$out"; fail check-error-lines-capped "rc=$rc, $(wc -l <"$out") lines"; fi

# One problem at every stage: a value, an unbootable image, a policy violation, a TAP in a
# user partition. Every one is reported (the image and policy checks used to run only
# when nothing else was wrong).
cat >"$TMP/stages.yaml" <<YAML
policy:
  ste_types: [a_t, b_t]
  labels: [ { name: la, ste: [a_t] }, { name: lb, ste: [b_t] } ]
partitions:
  - name: a
    label: la
    memory: 64Q
    kernel: $K
    devices: [ { type: net, link: ab } ]
  - name: b
    label: lb
    kernel: /etc/hostname
    devices: [ { type: net, link: ab }, { type: net, tap: lvmmt9 } ]
links:
  - { name: ab, ends: [a, b] }
YAML
bounded 10 "$out" check "$TMP/stages.yaml"
if [ $rc -eq 120 ] && contains "$out" "stages.yaml:7: memory '64Q' is not a size" &&
   contains "$out" "stages.yaml:10: partition 'b': kernel '/etc/hostname': not a kernel lvmm can boot" &&
   contains "$out" "stages.yaml:13: TAP device 'lvmmt9' in partition 'b' (role user)" &&
   contains "$out" "stages.yaml:9: partition 'a' may not use device net0: ste" &&
   tail -n 1 "$out" | grep -q "stages.yaml: 6 problems"; then pass check-reports-every-stage
else show "$out"; fail check-reports-every-stage "rc=$rc: a stage's problems are missing"; fi

# Numbers are decimal: 010 is ten vCPUs, not octal eight; 065 is out of range, not 53.
printf 'partitions:\n  - name: a\n    kernel: %s\n    vcpus: 010\n' "$K" >"$TMP/oct.yaml"
bounded 10 "$out" check "$TMP/oct.yaml"
ok=1
[ $rc -eq 0 ] && grep -qE "^  a +user +10 vCPU" "$out" || ok=0
bounded 10 "$TMP/out2" run --no-stdin --kernel "$K" --vcpus 065
[ $rc -eq 120 ] && grep -q -- "--vcpus: '065' is not a number from 1 to 64" "$TMP/out2" || ok=0
[ $ok = 1 ] && pass check-numbers-are-decimal || { show "$out"; show "$TMP/out2"; fail check-numbers-are-decimal "010 or 065 read as octal"; }

# Paths run would fail on only when the partition starts: console file, sockets.
long=$TMP/$(printf 'x%.0s' $(seq 120)).sock
cat >"$TMP/paths.yaml" <<YAML
partitions:
  - name: a
    kernel: $K
    console: file:$TMP/no/such/dir/console.log
    devices:
      - { type: stream, socket: $long, listen: true }
YAML
bounded 10 "$out" check "$TMP/paths.yaml"
ok=1
[ $rc -eq 120 ] && contains "$out" "paths.yaml:4: console file '$TMP/no/such/dir/console.log': directory '$TMP/no/such/dir': No such file" &&
	contains "$out" "paths.yaml:6: stream socket path '$long' is" &&
	contains "$out" "a Unix socket path has at most 107" || ok=0
bounded 10 "$TMP/out2" run "$TMP/paths.yaml"
[ $rc -eq 120 ] && contains "$TMP/out2" "nothing was started" || ok=0
[ $ok = 1 ] && pass check-console-and-socket-paths || { show "$out"; show "$TMP/out2"; fail check-console-and-socket-paths "rc=$rc"; }

# One agent slot per partition at run time: check refuses a second control channel.
printf 'partitions:\n  - name: a\n    kernel: %s\n    devices:\n      - { type: stream, control: true }\n      - { type: stream, control: true }\n' "$K" >"$TMP/ctl2.yaml"
bounded 10 "$out" check "$TMP/ctl2.yaml"
if [ $rc -eq 120 ] && contains "$out" "ctl2.yaml:6: partition 'a' already has a control channel (device stream0): at most one"; then
	pass check-one-control-channel-per-partition
else show "$out"; fail check-one-control-channel-per-partition "rc=$rc"; fi

# Partition identities: a range in the system accounts or over nobody is refused.
printf 'identities: { uid_base: 65000, count: 1000 }\npartitions:\n  - name: a\n    kernel: %s\n' "$K" >"$TMP/ids.yaml"
bounded 10 "$out" check "$TMP/ids.yaml"
if [ $rc -eq 120 ] && contains "$out" "ids.yaml:1: the identity range 65000-65999 includes 65534/65535"; then
	pass check-identity-range
else show "$out"; fail check-identity-range "rc=$rc"; fi

# cpuid_disable masks KVM puts back are named. On this host (kvm_pvm) only bits KVM owns
# (cx16, x2apic, tsc-deadline) can be hidden; popcnt comes back.
printf 'partitions:\n  - name: a\n    kernel: %s\n    cpuid_disable: [popcnt, cx16]\n' "$K" >"$TMP/cpuid.yaml"
bounded 20 "$out" check "$TMP/cpuid.yaml"
if ! have_kvm; then
	if [ $rc -eq 0 ] && contains "$out" "could not check whether KVM hides the cpuid_disable features"; then
		pass check-cpuid-mask-not-taken
	else show "$out"; fail check-cpuid-mask-not-taken "no note that the check was not possible"; fi
elif [ ! -d /sys/module/kvm_pvm ]; then
	# Elsewhere KVM hides both; what must hold is that cx16 is never named.
	if [ $rc -eq 0 ] && ! grep -q "does not hide.*cx16" "$out"; then
		skip check-cpuid-mask-not-taken "not a kvm_pvm host: popcnt is hidden here"
	else show "$out"; fail check-cpuid-mask-not-taken "cx16 reported as not hidden"; fi
elif [ $rc -eq 0 ] && contains "$out" "cpuid.yaml:2: warning: partition 'a': KVM on this host does not hide popcnt (cpuid_disable)" &&
     ! grep -q "does not hide.*cx16" "$out"; then
	pass check-cpuid-mask-not-taken
else show "$out"; fail check-cpuid-mask-not-taken "rc=$rc: want a warning naming popcnt and not cx16"; fi

# docs/cli.md sends readers to `lvmm help run` for the feature names: they must be there.
if "$LVMM" help run | grep -q "popcnt" && "$LVMM" run --help | grep -q "tsc-deadline"; then
	pass help-run-lists-cpu-features
else fail help-run-lists-cpu-features "lvmm help run does not list the --cpuid-disable names"; fi

# The test runner itself: a pattern that matches nothing is an error, not "0 failed".
mkdir -p "$TMP/runner" # its own scratch directory: tests/run removes it when done
BUILD=$BUILD LVMM=$LVMM LVMM_TEST_TMP=$TMP/runner tests/run no-test-is-called-this >"$out" 2>&1
r=$?
if [ $r -ne 0 ] && contains "$out" "no test file matches 'no-test-is-called-this'"; then pass tests-run-unknown-pattern
else show "$out"; fail tests-run-unknown-pattern "tests/run exited $r"; fi
