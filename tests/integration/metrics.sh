#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Metrics (docs/metrics.md): GET /metrics in Prometheus' text format, checked
# by promtool on a live platform's output, and GET /v1/metrics in JSON; the
# values move with what happens (restarts, guest disk I/O, pause, the rate
# limiter, CPU time); a partition that does not answer is reported stale
# without holding the scrape; the policy decides whose metrics a client sees.
. "$(dirname "$0")/../lib.sh"

CASES="metrics-promtool-check metrics-json-and-text-agree metrics-restarts-counted metrics-blk-reads-grow
       metrics-state-gauge-on-pause metrics-throttled-and-cpu metrics-stale-partition-not-waited-for
       metrics-filtered-by-policy metrics-agent-channel-asks-one-at-a-time metrics-twelve-devices-and-the-uart"
skip_all_without_kvm $CASES
L=$LVMM
sock=$TMP/ctl.sock
out=$TMP/out
BG="" STOPPED=""
cleanup() {
	local p
	for p in $STOPPED; do sigpid CONT "$p" 2>/dev/null; done
	for p in $BG; do sigpid KILL "$p" 2>/dev/null; done
	cleanup_tmp
}
trap cleanup EXIT
wait_state() { for _ in $(seq 100); do "$L" ctl --json "$sock" list 2>/dev/null | grep -q "\"name\":\"$1\",\"state\":\"$2\"" && return 0; sleep 0.1; done; return 1; }
scrape() { curl -s --max-time 10 --unix-socket "$sock" http://localhost/metrics >"$1"; }
# val FILE SERIES: the value of one series (name{labels} exactly as written), or nothing.
val() { awk -v s="$2" '$1 == s {print $2}' "$1"; }

truncate -s 4M "$TMP/disk.img"
cat >"$TMP/p.yaml" <<YAML
control: $sock
partitions:
  - { name: t, kernel: $PWD/$GUESTS/ticker.elf, cmdline: "tick_ms=20", memory: 16M, console: none }
  - name: a
    kernel: $PWD/$GUESTS/net.elf
    cmdline: "ip=10.0.8.1 peer=10.0.8.2 net_ping_count=4000 net_ping_interval_ms=5 net_quiet=1"
    memory: 32M
    console: none
    devices: [ { type: net, link: l0, rate_limit: { tx: { ops: 40, ops_burst: 4 } } } ]
  - { name: b, kernel: $PWD/$GUESTS/net.elf, cmdline: "ip=10.0.8.2 net_quiet=1", memory: 32M, console: none,
      devices: [ { type: net, link: l0 } ] }
  - name: d
    kernel: $PWD/$GUESTS/blk.elf
    cmdline: "sectors=0,1,2,3,4,5,6,7 blk_hold=1"
    memory: 16M
    autostart: false
    devices: [ { type: blk, path: $TMP/disk.img } ]
  - { name: crashy, kernel: $PWD/$GUESTS/fault.elf, memory: 16M, console: none, restart: always,
      restart_limit: 1000, restart_delay_ms: 100 }
links:
  - { name: l0, ends: [a, b] }
YAML
"$L" run "$TMP/p.yaml" </dev/null >"$out" 2>&1 &
sup=$!
BG="$sup"
if ! wait_sock "$sock" || ! wait_state t running || ! wait_state a running; then
	show "$out"
	for c in $CASES; do fail "$c" "the platform did not come up"; done
	exit 0
fi
sleep 1

# ---- the format -----------------------------------------------------------------------------

curl -s -i --max-time 10 --unix-socket "$sock" http://localhost/metrics >"$TMP/m.http"
sed '1,/^\r$/d' "$TMP/m.http" >"$TMP/m1"
if ! command -v promtool >/dev/null; then
	skip metrics-promtool-check "promtool is not installed (Debian's prometheus package: make deps)"
else
	promtool check metrics <"$TMP/m1" >"$TMP/promtool" 2>&1; prc=$?
	# promtool must be able to fail here: a counter without _total is a lint problem.
	printf '# HELP lvmm_x X.\n# TYPE lvmm_x counter\nlvmm_x 1\n' | promtool check metrics >/dev/null 2>&1; brc=$?
	if [ $prc -eq 0 ] && [ ! -s "$TMP/promtool" ] && [ $brc -ne 0 ] &&
	   grep -qi '^Content-Type: text/plain; version=0.0.4' "$TMP/m.http" &&
	   grep -q '^# TYPE lvmm_partition_exits_total counter$' "$TMP/m1" &&
	   grep -q '^lvmm_partition_exits_total{partition="t",reason="io"} [1-9]' "$TMP/m1" &&
	   grep -q '^lvmm_device_tx_packets_total{partition="a",device="net0"} [0-9]' "$TMP/m1" &&
	   grep -q '^lvmm_acm_decisions_total [0-9]' "$TMP/m1"; then
		pass metrics-promtool-check
	else head -n 20 "$TMP/m.http" >&2; show "$TMP/promtool"; fail metrics-promtool-check "promtool rc $prc (a bad input: rc $brc), or families missing"; fi
fi

# The JSON answer carries the same numbers (restarts and configured memory do not move).
curl -s --max-time 10 --unix-socket "$sock" http://localhost/v1/metrics >"$TMP/j1"
if python3 - "$TMP/j1" "$TMP/m1" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
text = {l.split()[0]: l.split()[1] for l in open(sys.argv[2]) if l.strip() and not l.startswith("#")}
assert j["ok"] is True and j["acm"]["policy"] == "none", j.get("acm")
parts = {p["name"]: p for p in j["partitions"]}
assert set(parts) == {"t", "a", "b", "d", "crashy"}, parts.keys()
t = parts["t"]
assert t["state"] == "running" and t["stale"] is False and t["cpu_seconds"] > 0 and t["resident_bytes"] > 0
assert text['lvmm_partition_memory_bytes{partition="a"}'] == str(parts["a"]["memory_bytes"]) == str(32 << 20)
assert text['lvmm_partition_vcpus{partition="t"}'] == "1"
assert parts["d"]["state"] == "stopped" and "exits" not in parts["d"] and "cpu_seconds" not in parts["d"]
assert [d["kind"] for d in parts["a"]["devices"]] == ["uart", "virtio-net-link"], parts["a"]["devices"]
PY
then pass metrics-json-and-text-agree
else cat "$TMP/j1" >&2; fail metrics-json-and-text-agree "the JSON answer does not match the text or the platform"; fi

# ---- values that move -------------------------------------------------------------------------

r1=$(val "$TMP/m1" 'lvmm_partition_restarts_total{partition="crashy"}')
sleep 1.5
scrape "$TMP/m2"
r2=$(val "$TMP/m2" 'lvmm_partition_restarts_total{partition="crashy"}')
if [ -n "$r1" ] && [ -n "$r2" ] && [ "$r2" -gt "$r1" ]; then
	pass metrics-restarts-counted
	echo "# metrics: crashy restarts $r1 -> $r2"
else fail metrics-restarts-counted "restarts ${r1:-none} -> ${r2:-none}"; fi

# d is stopped: no disk counters; started, it writes 8 sectors and reads them back.
rd1=$(val "$TMP/m2" 'lvmm_device_reads_total{partition="d",device="blk0"}')
"$L" ctl "$sock" start d >/dev/null 2>&1
wait_grep "$out" '\[d\] blk: ok' 100
scrape "$TMP/m3"
rd2=$(val "$TMP/m3" 'lvmm_device_reads_total{partition="d",device="blk0"}')
rb2=$(val "$TMP/m3" 'lvmm_device_read_bytes_total{partition="d",device="blk0"}')
wr2=$(val "$TMP/m3" 'lvmm_device_writes_total{partition="d",device="blk0"}')
if [ -z "$rd1" ] && [ -n "$rd2" ] && [ "$rd2" -ge 8 ] && [ "$rb2" -ge 4096 ] && [ "$wr2" -ge 8 ] &&
   ! grep -q 'lvmm_device_rx_packets_total{partition="d"' "$TMP/m3"; then
	pass metrics-blk-reads-grow
else show "$out"; grep 'partition="d"' "$TMP/m3" >&2; fail metrics-blk-reads-grow "reads ${rd1:-none} -> ${rd2:-none}, read bytes ${rb2:-none}, writes ${wr2:-none}"; fi

# Paused, the state gauge says so and its exits stop; resumed, back to running.
"$L" ctl "$sock" pause t >/dev/null
scrape "$TMP/m4"
sleep 0.5
scrape "$TMP/m5"
"$L" ctl "$sock" resume t >/dev/null
scrape "$TMP/m6"
ST='lvmm_partition_state{partition="t",state='
EX='lvmm_partition_exits_total{partition="t",reason="io"}'
if [ "$(val "$TMP/m3" "${ST}\"running\"}")" = 1 ] && [ "$(val "$TMP/m3" "${ST}\"paused\"}")" = 0 ] &&
   [ "$(val "$TMP/m4" "${ST}\"paused\"}")" = 1 ] && [ "$(val "$TMP/m4" "${ST}\"running\"}")" = 0 ] &&
   [ "$(val "$TMP/m4" "$EX")" = "$(val "$TMP/m5" "$EX")" ] &&
   [ "$(val "$TMP/m6" "${ST}\"running\"}")" = 1 ] && [ "$(val "$TMP/m6" "${ST}\"paused\"}")" = 0 ]; then
	pass metrics-state-gauge-on-pause
else grep "$ST" "$TMP/m3" "$TMP/m4" "$TMP/m6" >&2; fail metrics-state-gauge-on-pause "the state gauge did not follow pause/resume"; fi

# a's transmit rate limit (40 frames/s) holds back its pings; t's vCPU burns CPU time.
thr=$(val "$TMP/m6" 'lvmm_device_throttled_total{partition="a",device="net0"}')
thb=$(val "$TMP/m6" 'lvmm_device_throttled_total{partition="b",device="net0"}')
c1=$(val "$TMP/m1" 'lvmm_partition_vcpu_seconds_total{partition="t"}')
c6=$(val "$TMP/m6" 'lvmm_partition_vcpu_seconds_total{partition="t"}')
p6=$(val "$TMP/m6" 'lvmm_partition_cpu_seconds_total{partition="t"}')
if [ -n "$thr" ] && [ "$thr" -gt 0 ] && [ "$thb" = 0 ] &&
   awk -v a="$c1" -v b="$c6" -v p="$p6" 'BEGIN { exit !(b > a && a > 0 && p >= b) }'; then
	pass metrics-throttled-and-cpu
else fail metrics-throttled-and-cpu "throttled a=${thr:-none} b=${thb:-none}, vcpu seconds ${c1:-none} -> ${c6:-none} (process ${p6:-none})"; fi

# ---- a partition that does not answer -----------------------------------------------------------

# t's process is stopped (SIGSTOP): the scrape still comes within about a second,
# t marked stale with its last counters and /proc's figures; the others are fresh.
tpid=$(python3 -c 'import json,sys; print([p["pid"] for p in json.load(open(sys.argv[1]))["partitions"] if p["name"]=="t"][0])' "$TMP/j1")
t0=$(date +%s%N)
if sigpid STOP "$tpid"; then
	STOPPED=$tpid
	scrape "$TMP/m7"; rc=$?
	t1=$(date +%s%N)
	curl -s --max-time 10 --unix-socket "$sock" http://localhost/v1/metrics >"$TMP/j7"
	sigpid CONT "$tpid" && STOPPED=""
	ms=$(( (t1 - t0) / 1000000 ))
	if [ $rc -eq 0 ] && [ "$ms" -lt 2500 ] && [ "$(val "$TMP/m7" 'lvmm_partition_stale{partition="t"}')" = 1 ] &&
	   [ "$(val "$TMP/m7" 'lvmm_partition_stale{partition="a"}')" = 0 ] &&
	   [ -n "$(val "$TMP/m7" "$EX")" ] && [ -n "$(val "$TMP/m7" 'lvmm_partition_cpu_seconds_total{partition="t"}')" ] &&
	   grep -q '"name":"t","state":"running".*"stale":true' "$TMP/j7"; then
		pass metrics-stale-partition-not-waited-for
		echo "# metrics: scrape with a stopped partition took $ms ms"
	else grep 'partition="t"' "$TMP/m7" | head >&2; fail metrics-stale-partition-not-waited-for "rc $rc after $ms ms, or t not marked stale"; fi
else fail metrics-stale-partition-not-waited-for "no pid for t"; fi
stop_sup

# ---- the policy ---------------------------------------------------------------------------------

# uid 0 may see a (its label shares a type), not b, and so not the ACM's counters.
cat >"$TMP/pol.yaml" <<YAML
control: $sock
policy:
  name: m-v1
  ste_types: [x_t, y_t]
  labels:
    - { name: lx, ste: [x_t] }
    - { name: ly, ste: [y_t] }
  clients:
    - { uid: 0, label: lx, operations: [list, metrics, policy-load] }
partitions:
  - { name: a, label: lx, kernel: $PWD/$GUESTS/ticker.elf, cmdline: "tick_ms=1000", memory: 16M, console: none }
  - { name: b, label: ly, kernel: $PWD/$GUESTS/ticker.elf, cmdline: "tick_ms=1000", memory: 16M, console: none }
YAML
cat >"$TMP/pol2.yaml" <<'YAML'
name: m-v2
ste_types: [x_t, y_t]
labels:
  - { name: lx, ste: [x_t] }
  - { name: ly, ste: [y_t] }
clients:
  - { uid: 0, label: lx, operations: [list, policy-load] }
YAML
"$L" run "$TMP/pol.yaml" </dev/null >"$out" 2>&1 &
sup=$!
BG="$BG $sup"
ok=1
wait_sock "$sock" && wait_state a running && wait_state b running || ok=0
scrape "$TMP/p1"
"$L" ctl --json "$sock" policy-load "$TMP/pol2.yaml" >/dev/null 2>&1
curl -s -w ' %{http_code}' --max-time 10 --unix-socket "$sock" http://localhost/metrics >"$TMP/p2"
if [ $ok = 1 ] && grep -q '^lvmm_partition_state{partition="a",state="running"} 1$' "$TMP/p1" &&
   ! grep -q 'partition="b"' "$TMP/p1" && ! grep -q '^lvmm_acm_' "$TMP/p1" &&
   grep -q '"ok":false,"error":"denied by policy .m-v2.: uid:0 may not metrics.* 403$' "$TMP/p2"; then
	pass metrics-filtered-by-policy
else show "$TMP/p1"; cat "$TMP/p2" >&2; fail metrics-filtered-by-policy "uid 0 saw b or the ACM, or was not refused without metrics"; fi
stop_sup

# ---- a partition's agent channel ----------------------------------------------------------------

# An agent channel has one request in flight: the front-end asks its partitions
# one after another (a step refused as "one request at a time" is asked again),
# so both are fresh, with counters, the process figures and the ACM's counters.
cat >"$TMP/ag.yaml" <<YAML
control: $sock
policy:
  name: ag-v1
  ste_types: [m_t]
  labels:
    - { name: ml, ste: [m_t] }
  clients:
    - { uid: 0, label: ml, operations: [all] }
    - { partition: ag, label: ml, operations: [metrics] }
partitions:
  - { name: peer, label: ml, kernel: $PWD/$GUESTS/ticker.elf, cmdline: "tick_ms=100", memory: 16M, console: none }
  - name: ag
    label: ml
    autostart: false
    kernel: $PWD/$GUESTS/agent.elf
    cmdline: "cmd=metrics"
    memory: 16M
    devices: [ { type: stream, control: true } ]
YAML
"$L" run "$TMP/ag.yaml" </dev/null >"$out" 2>&1 &
sup=$!
BG="$BG $sup"
ok=1
wait_sock "$sock" && wait_state peer running || ok=0
"$L" ctl "$sock" start ag >/dev/null 2>&1
wait_grep "$out" "agent: done\|agent: timeout" 100
# (the console prefixes each of its lines: joined again)
line=$(grep -a '^\[ag\] ' "$out" | sed 's/^\[ag\] //' | tr -d '\n' | grep -o 'agent: reply .*agent: done')
if [ $ok = 1 ] && [[ $line == *'"acm":{"policy":"ag-v1"'* ]] &&
   [[ $line =~ \"name\":\"peer\",\"state\":\"running\"[^]]*\"stale\":false,\"cpu_seconds\":[0-9.]+.*\"exits\":\{\"io\":[1-9] ]] &&
   [[ $line =~ \"name\":\"ag\",\"state\":\"running\"[^]]*\"stale\":false ]]; then
	pass metrics-agent-channel-asks-one-at-a-time
else show "$out"; fail metrics-agent-channel-asks-one-at-a-time "the agent's metrics lacked a partition's counters, were stale, or lacked the ACM"; fi
stop_sup

# The most devices a partition may have (12) and its UART: every one has its
# counters (the table held 12, so the last configured device's were dropped).
devs=""
for i in $(seq 0 11); do truncate -s 1M "$TMP/d$i.img"; devs="$devs{ type: blk, path: $TMP/d$i.img }, "; done
cat >"$TMP/p12.yaml" <<YAML
control: $sock
partitions:
  - { name: full, kernel: $PWD/$GUESTS/ticker.elf, cmdline: "tick_ms=50", memory: 16M, console: none, devices: [ ${devs%, } ] }
YAML
start_bg "$out" run "$TMP/p12.yaml"
wait_state full running
"$L" ctl --json "$sock" status full >"$TMP/s12" 2>&1
scrape "$TMP/m12"
n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["devices"]))' "$TMP/s12" 2>/dev/null)
if [ "$n" = 13 ] && grep -q '"id":"uart"' "$TMP/s12" && grep -q '"id":"blk11"' "$TMP/s12" &&
   grep -q 'device="blk11"' "$TMP/m12"; then
	pass metrics-twelve-devices-and-the-uart
else show "$out"; cat "$TMP/s12" >&2; fail metrics-twelve-devices-and-the-uart "status listed ${n:-no} devices (want 13: uart and blk0-blk11), or /metrics lacks blk11"; fi
stop_sup
