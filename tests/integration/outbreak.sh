#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Issue 9, end to end (examples/outbreak.yaml): the user partition writes into
# its own protected kernel text; the write is blocked (the guest reads its
# text back unchanged), lvmm reports an integrity_violation, the service
# partition receives it over its agent channel and isolates the user partition
# (its link goes down), and the event log shows every step in order.
. "$(dirname "$0")/../lib.sh"

CASES="outbreak-kernel-text-write-blocked outbreak-service-receives-violation
       outbreak-user-isolated-in-order"
skip_all_without_kvm $CASES
L=$LVMM
sock=$TMP/o.sock
ev=$TMP/ev.jsonl
out=$TMP/out
sup=""
cleanup() {
	[ -n "$sup" ] && sigpid KILL "$sup" 2>/dev/null
	cleanup_tmp
}
trap cleanup EXIT

# The example as shipped, with this build's guests and private socket and log.
sed -e "s|\.\./build/guests/|$PWD/$GUESTS/|" -e "s|^events: .*|events: $ev|" \
    -e "s|^control: .*|control: $sock|" examples/outbreak.yaml >"$TMP/o.yaml"
"$L" run "$TMP/o.yaml" </dev/null >"$out" 2>&1 &
sup=$!
if wait_grep "$out" '\[service\] service: reply {"ok":true,"following":true' 150; then
	"$L" ctl "$sock" start user >/dev/null 2>&1
	wait_grep "$out" '\[service\] service: reply {"ok":true,"partition":"user","links_down"' 150
fi

if grep -q '^\[user\] protect: write 0x[0-9a-f]*: before 0x[0-9a-f]* after 0x[0-9a-f]* unchanged' "$out" &&
   grep -q '"event":"integrity_violation","partition":"user","gpa":"0x[0-9a-f]*","len":8,"bytes":"1122334455667788","rip":"0x[0-9a-f]*","cr3":"0x[0-9a-f]*","action":"block"' "$ev"; then
	pass outbreak-kernel-text-write-blocked
else show "$out"; show "$ev"; fail outbreak-kernel-text-write-blocked "the write into the protected text was not blocked, or no integrity_violation with its bytes"; fi

if grep -q '^\[service\] service: event {.*"event":"integrity_violation","partition":"user"' "$out" &&
   contains "$out" '[service] service: contain isolate user (integrity_violation)'; then
	pass outbreak-service-receives-violation
else show "$out"; fail outbreak-service-receives-violation "the service console shows no integrity_violation of user, or no containment"; fi

"$L" ctl --json "$sock" list >"$TMP/list" 2>&1
if grep -q '"links":\[{"name":"uplink","ends":\["service","user"\],"up":false}\]' "$TMP/list" &&
   awk '/"event":"integrity_violation","partition":"user"/ && !v { v = NR }
	/"event":"link_down","link":"uplink","by":"partition:service"/ && !d { d = NR }
	END { exit !(v && d && v < d) }' "$ev"; then
	pass outbreak-user-isolated-in-order
else cat "$TMP/list" >&2; show "$ev"; fail outbreak-user-isolated-in-order "uplink not down, or no link_down by partition:service after the violation in the log"; fi

sigpid TERM "$sup" 2>/dev/null
for _ in $(seq 100); do kill -0 "$sup" 2>/dev/null || break; sleep 0.1; done
sigpid KILL "$sup" 2>/dev/null
wait "$sup" 2>/dev/null
sup=""
