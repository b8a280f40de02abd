#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Mandatory access control end to end: a forbidden link never appears in the
# guest, a conflicting partition does not start while its rival runs, a reload
# that would break a running link is refused, control operations and policy
# uploads are mediated and audited.
. "$(dirname "$0")/../lib.sh"
CASES="acm-forbidden-link-never-appears acm-chinese-wall-blocks-rival acm-chinese-wall-admits-after-stop
       acm-reload-breaking-running-link-refused acm-reload-compatible-accepted acm-control-op-denied
       acm-policy-manager-loads-policy acm-other-partition-upload-denied acm-check-names-violations
       acm-invalid-upload-reported"
skip_all_without_kvm $CASES
L=$LVMM
sock=$TMP/ctl.sock
ev=$TMP/ev.jsonl
out=$TMP/out
cat >"$TMP/p.yaml" <<YAML
control: $sock
events: $ev
policy:
  name: t1
  ste_types: [net_t, mgmt_t]
  chinese_wall:
    types: [cw_a, cw_b]
    conflict_sets: [ { name: rivals, types: [cw_a, cw_b] } ]
  labels:
    - { name: svc, ste: [net_t, mgmt_t] }
    - { name: usr, ste: [net_t], cw: [cw_a] }
    - { name: rival, ste: [mgmt_t], cw: [cw_b] }
    - { name: admin, ste: [net_t, mgmt_t] }
  clients:
    - { uid: 0, label: admin, operations: [list, status, start, stop, policy-load, acm] }
partitions:
  - name: a
    label: svc
    kernel: $PWD/$GUESTS/net.elf
    cmdline: "ip=10.0.3.1 net_serve_ms=60000"
    memory: 16M
    devices: [ { type: net, link: ab } ]
  - name: b
    label: usr
    kernel: $PWD/$GUESTS/net.elf
    cmdline: "ip=10.0.3.2 net_serve_ms=60000"
    memory: 16M
    devices: [ { type: net, link: ab }, { type: net, link: bc } ]
  - name: c
    label: rival
    autostart: false
    kernel: $PWD/$GUESTS/net.elf
    cmdline: "ip=10.0.3.3 peer=10.0.3.2"
    memory: 16M
    devices: [ { type: net, link: bc } ]
links:
  - { name: ab, ends: [a, b] }
  - { name: bc, ends: [b, c] }
YAML

run_lvmm 10 "$out" check "$TMP/p.yaml"
if [ $rc -eq 120 ] && grep -q "p.yaml:28: partition 'b' may not use device net1: ste" "$out" &&
   grep -q "p.yaml:35: partition 'c' may not use device net0: ste" "$out"; then pass acm-check-names-violations
else show "$out"; fail acm-check-names-violations "rc=$rc"; fi

timeout 90 "$L" run "$TMP/p.yaml" </dev/null >"$out" 2>&1 &
sup=$!
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
sleep 0.5
"$L" ctl --json "$sock" start c >"$TMP/r1"
ok1=$?
"$L" ctl --json "$sock" pause a >"$TMP/r2"
ok2=$?
"$L" ctl --json "$sock" stop b >/dev/null
for _ in $(seq 50); do grep -q '"partition":"b","reason":"stopped"' "$ev" && break; sleep 0.1; done
"$L" ctl --json "$sock" start c >"$TMP/r3"
ok3=$?
for _ in $(seq 100); do grep -q '"partition":"c","reason":"poweroff"' "$ev" && break; sleep 0.1; done
"$L" ctl --json "$sock" start b >/dev/null
sleep 0.5
cat >"$TMP/bad.yaml" <<'YAML'
name: breaks-ab
ste_types: [net_t, mgmt_t, storage_t]
labels:
  - { name: svc, ste: [net_t, mgmt_t] }
  - { name: usr, ste: [storage_t] }
  - { name: rival, ste: [mgmt_t] }
  - { name: admin, ste: [net_t, mgmt_t, storage_t] }
YAML
cat >"$TMP/good.yaml" <<'YAML'
name: t2
ste_types: [net_t, mgmt_t]
labels:
  - { name: svc, ste: [net_t, mgmt_t] }
  - { name: usr, ste: [net_t, mgmt_t] }
  - { name: rival, ste: [mgmt_t] }
  - { name: admin, ste: [net_t, mgmt_t] }
YAML
"$L" ctl --json "$sock" policy-load "$TMP/bad.yaml" >"$TMP/r4"; ok4=$?
# Not a policy at all: the front-end's compiler finds it, the supervisor reports it (and audits).
printf 'name: t9\nste_types: [x_t]\nlabels:\n  - { name: l, ste: [x_t], colour: red }\n' >"$TMP/syntax.yaml"
"$L" ctl --json "$sock" policy-load "$TMP/syntax.yaml" >"$TMP/r8"; ok8=$?
"$L" ctl --json "$sock" acm >"$TMP/r5"
"$L" ctl --json "$sock" policy-load "$TMP/good.yaml" >"$TMP/r6"; ok6=$?
"$L" ctl --json "$sock" acm >"$TMP/r7"
"$L" ctl --json "$sock" stop a >/dev/null; "$L" ctl --json "$sock" stop b >/dev/null
wait $sup

if contains "$out" "[c] net: no virtio-net device" &&
   grep -q '"event":"acm_deny","subject":"b","object":"bc","operation":"link"' "$ev" &&
   ! contains "$out" "[b] net: answered ping from 10.0.3.3"; then pass acm-forbidden-link-never-appears
else show "$out"; fail acm-forbidden-link-never-appears "c saw a NIC or b was reached through the forbidden link"; fi
if [ $ok1 -eq 1 ] && grep -q "Chinese Wall: its type 'cw_b' conflicts with running partition 'b'" "$TMP/r1" &&
   grep -q '"event":"acm_deny","subject":"c","object":"b","operation":"partition-start","rule":"chinese-wall"' "$ev"; then
	pass acm-chinese-wall-blocks-rival
else cat "$TMP/r1" >&2; fail acm-chinese-wall-blocks-rival "c started next to b"; fi
if [ $ok3 -eq 0 ] && grep -q '"event":"partition_start","partition":"c"' "$ev"; then pass acm-chinese-wall-admits-after-stop
else cat "$TMP/r3" >&2; fail acm-chinese-wall-admits-after-stop "c did not start after b stopped"; fi
if [ $ok4 -eq 1 ] && grep -q "refused: running partition 'a' holds device net0" "$TMP/r4" &&
   grep -q '"policy":"t1"' "$TMP/r5" && grep -q '"event":"policy_rejected","policy":"breaks-ab"' "$ev"; then
	pass acm-reload-breaking-running-link-refused
else cat "$TMP/r4" "$TMP/r5" >&2; fail acm-reload-breaking-running-link-refused "the reload was not refused, or the policy changed"; fi
if [ $ok8 -eq 1 ] && grep -q '"ok":false,"error":"the new policy is invalid: <policy-load>:4: ' "$TMP/r8" &&
   grep -q '"event":"policy_rejected","reason":"<policy-load>:4: ' "$ev" && ! grep -q '"policy":"t9"' "$ev"; then
	pass acm-invalid-upload-reported
else cat "$TMP/r8" >&2; grep policy_rejected "$ev" >&2; fail acm-invalid-upload-reported "an invalid policy was not reported with the parser's line"; fi
if [ $ok6 -eq 0 ] && grep -q '"policy":"t2"' "$TMP/r7" && grep -q '"event":"policy_loaded","policy":"t2"' "$ev"; then
	pass acm-reload-compatible-accepted
else cat "$TMP/r6" "$TMP/r7" >&2; fail acm-reload-compatible-accepted "a compatible policy was not loaded"; fi
if [ $ok2 -eq 1 ] && grep -q "denied by policy 't1': uid:0 may not pause a" "$TMP/r2" &&
   grep -q '"event":"acm_deny","subject":"uid:0","object":"a","operation":"pause","rule":"clients: operation not granted"' "$ev"; then
	pass acm-control-op-denied
else cat "$TMP/r2" >&2; fail acm-control-op-denied "pause was not refused and audited"; fi

# The policy-manager partition loads a policy over its agent channel; another may not.
cat >"$TMP/pm2.yaml" <<'YAML'
name: pm-v2
ste_types: [mgmt_t]
labels:
  - { name: mgr_l, ste: [mgmt_t] }
  - { name: other_l, ste: [mgmt_t] }
clients:
  - { partition: mgr, label: mgr_l, operations: [list, policy-load] }
  - { partition: rogue, label: other_l, operations: [list, policy-load] }
policy_manager: mgr
YAML
cat >"$TMP/pm.yaml" <<YAML
events: $TMP/pm.jsonl
policy:
  name: pm-v1
  ste_types: [mgmt_t]
  labels:
    - { name: mgr_l, ste: [mgmt_t] }
    - { name: other_l, ste: [mgmt_t] }
  clients:
    - { partition: mgr, label: mgr_l, operations: [list, policy-load] }
    - { partition: rogue, label: other_l, operations: [list, policy-load] }
  policy_manager: mgr
partitions:
  - name: mgr
    label: mgr_l
    kernel: $PWD/$GUESTS/agent.elf
    initrd: $TMP/pm2.yaml
    cmdline: "upload=module"
    memory: 16M
    devices: [ { type: stream, control: true } ]
  - name: rogue
    label: other_l
    kernel: $PWD/$GUESTS/agent.elf
    initrd: $TMP/pm2.yaml
    cmdline: "upload=module"
    memory: 16M
    devices: [ { type: stream, control: true } ]
YAML
run_lvmm 60 "$out" run "$TMP/pm.yaml"
if grep -q '"event":"policy_loaded","partition":"mgr","policy":"pm-v2"' "$TMP/pm.jsonl" &&
   contains "$out" '[mgr] agent: reply {"ok":true,"policy":"pm-v2"}'; then pass acm-policy-manager-loads-policy
else show "$out"; fail acm-policy-manager-loads-policy "the policy manager could not load a policy"; fi
if grep -q '"event":"acm_deny","subject":"partition:rogue","object":"platform","operation":"policy-load","rule":"policy_manager"' "$TMP/pm.jsonl" &&
   contains "$out" '[rogue] agent: reply {"ok":false,"error":"denied by policy'; then pass acm-other-partition-upload-denied
else show "$out"; fail acm-other-partition-upload-denied "a partition other than the manager was not denied"; fi
