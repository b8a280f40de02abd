#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The control API (docs/api.md): the spec linted and checked against a live
# platform, curl on the Unix socket, request ids in answers and audit
# events, the event stream (filtered by the policy, re-decided on reload,
# with a gap marker for a slow client that never slows the platform), the
# front-end's sandbox and its restart, the supervisor's own peer check,
# default socket names and lvmm ctl's readable output.
. "$(dirname "$0")/../lib.sh"

CASES="api-spec-lints api-spec-matches-routes api-spec-valid-requests-match api-spec-invalid-requests-4xx
       api-spec-supervisor-stays-up api-curl-unix-socket api-error-names-non-utf8-target api-request-id-in-audit-events
       api-events-stream-follows api-events-filtered-by-policy api-events-refiltered-on-reload
       api-events-slow-client-gets-gap api-agent-channel-follows-events api-frontend-sandboxed api-frontend-restarted-after-kill
       api-peer-uid-refused-by-supervisor api-peer-check-restores-modes ctl-readable-tables ctl-socket-by-name
       ctl-socket-of-another-run-left-alone"
skip_all_without_kvm $CASES
L=$LVMM
sock=$TMP/api.sock
ev=$TMP/ev.jsonl
out=$TMP/out
TICKER=$PWD/$GUESTS/ticker.elf
BG=""
cleanup() {
	local p
	for p in $BG; do sigpid KILL "$p" 2>/dev/null; done
	cleanup_tmp
}
trap cleanup EXIT
wait_state() { for _ in $(seq 100); do "$L" ctl --json "$sock" list 2>/dev/null | grep -q "\"name\":\"$1\",\"state\":\"$2\"" && return 0; sleep 0.1; done; return 1; }
api_pid() { pgrep -P "$sup" -x lvmm-api | head -n 1; }

# ---- the spec ------------------------------------------------------------------------

# Linted with a standard OpenAPI linter (make npm-tools puts a pinned
# @redocly/cli into $BUILD/node_modules; make test runs it).
REDOCLY=$BUILD/node_modules/.bin/redocly
if ! command -v node >/dev/null; then
	skip api-spec-lints "node is not installed (make deps; @redocly/cli needs it)"
elif [ ! -x "$REDOCLY" ]; then
	skip api-spec-lints "$REDOCLY is missing: run make npm-tools (npm install of @redocly/cli)"
else
	timeout 120 "$REDOCLY" lint --config docs/api/redocly.yaml docs/api/openapi.yaml >"$TMP/lint" 2>&1
	lrc=$?
	if [ $lrc -eq 0 ] && grep -q "Your API description is valid" "$TMP/lint" && ! grep -q "You have [0-9]* warning" "$TMP/lint"; then
		pass api-spec-lints
	else show "$TMP/lint"; fail api-spec-lints "redocly lint: rc $lrc, errors or warnings"; fi
fi

cat >"$TMP/p.yaml" <<YAML
control: $sock
events: $ev
partitions:
  - { name: a, kernel: $TICKER, cmdline: "tick_ms=1000", memory: 16M, console: none,
      devices: [ { type: net, link: l0 } ] }
  - { name: b, kernel: $TICKER, cmdline: "tick_ms=1000", memory: 16M, console: none,
      devices: [ { type: net, link: l0 } ] }
links:
  - { name: l0, ends: [a, b] }
YAML
cat >"$TMP/good.yaml" <<'YAML'
name: spec-v1
ste_types: [t]
labels:
  - { name: l, ste: [t] }
YAML
start_bg "$out" run "$TMP/p.yaml"
if ! wait_sock "$sock" || ! wait_state a running || ! wait_state b running; then
	show "$out"
	for c in $CASES; do case $c in api-spec-lints) ;; *) fail "$c" "the platform did not come up" ;; esac; done
	exit 0
fi

# Schema-driven requests, valid and invalid, every answer checked against the spec.
# The valid policy labels nothing: its PUT is refused (409, documented) and changes nothing.
# Debian's python3 with python3-jsonschema and python3-yaml (make deps), whatever
# else is first in PATH.
PY=/usr/bin/python3
SPEC_CASES="api-spec-matches-routes api-spec-valid-requests-match api-spec-invalid-requests-4xx api-spec-supervisor-stays-up"
if ! "$PY" -c 'import jsonschema, yaml' 2>/dev/null; then
	for c in $SPEC_CASES; do skip "$c" "Debian's python3-jsonschema or python3-yaml is missing (make deps)"; done
else
	timeout 300 "$PY" tests/integration/api_spec.py docs/api/openapi.yaml "$sock" a l0 "$TMP/good.yaml" "$sup" \
		>"$TMP/spec" 2>&1
	grep -E '^(ok|not ok) - ' "$TMP/spec"
	for c in $SPEC_CASES; do
		grep -q "^\(not \)\?ok - $c" "$TMP/spec" || { tail -n 20 "$TMP/spec" >&2; fail "$c" "the spec checker did not report it"; }
	done
fi

# The spec's valid requests change state (reboot, restart, ... stop last, and a stop
# cancels a restart in flight): start a again for what follows.
for _ in $(seq 50); do "$L" ctl --json "$sock" list | grep -q '"name":"a","state":"\(running\|exited\)"' && break; sleep 0.1; done
"$L" ctl "$sock" start a >/dev/null 2>&1
wait_state a running

# Firecracker-style: curl on the Unix socket; the request id comes back in the
# header and the body.
curl -s -i --unix-socket "$sock" -H 'X-Request-Id: curl-1' http://localhost/v1/partitions >"$TMP/curl" 2>&1
if grep -q '^HTTP/1.1 200' "$TMP/curl" && grep -qi '^X-Request-Id: curl-1' "$TMP/curl" &&
   grep -q '"partitions":\[{"name":"a","state":"running"' "$TMP/curl" && grep -q '"request_id":"curl-1"}' "$TMP/curl"; then
	pass api-curl-unix-socket
else cat "$TMP/curl" >&2; fail api-curl-unix-socket "curl --unix-socket did not get the list"; fi
# A target that is no UTF-8 still gets an answer that says what is wrong.
curl -s --unix-socket "$sock" http://localhost/v1/partitions/%ff%fe/status >"$TMP/curl8" 2>&1
if grep -q '"ok":false,"error":"no such path: /v1/partitions/??/status' "$TMP/curl8"; then
	pass api-error-names-non-utf8-target
else cat "$TMP/curl8" >&2; fail api-error-names-non-utf8-target "the answer has no error member"; fi
stop_sup

# ---- audit, events, filters -------------------------------------------------------------

# uid 0 may act on (and see the events of) a only: its label shares a type with a's.
cat >"$TMP/pol.yaml" <<YAML
control: $sock
events: $ev
policy:
  name: ev-v1
  ste_types: [x_t, y_t]
  labels:
    - { name: lx, ste: [x_t] }
    - { name: ly, ste: [y_t] }
  clients:
    - { uid: 0, label: lx, operations: [list, status, pause, resume, stop, start, events, policy-load, acm] }
partitions:
  - { name: a, label: lx, kernel: $TICKER, cmdline: "tick_ms=1000", memory: 16M, console: none }
  - { name: b, label: ly, kernel: $TICKER, cmdline: "tick_ms=200 ticks=15", memory: 16M, console: none }
YAML
rm -f "$ev"
start_bg "$out" run "$TMP/pol.yaml"
wait_sock "$sock" && wait_grep "$ev" '"event":"partition_ready","partition":"b"' 100
timeout 20 "$L" ctl --json "$sock" events >"$TMP/ev1" 2>&1 &
follower=$!
wait_grep "$TMP/ev1" '"event":"following"' 50
curl -s --unix-socket "$sock" -X POST -H 'X-Request-Id: audit-7' http://localhost/v1/partitions/b/pause >"$TMP/deny"
curl -s --unix-socket "$sock" -X POST -H 'X-Request-Id: pause-a' http://localhost/v1/partitions/a/pause >/dev/null
curl -s --unix-socket "$sock" -X POST http://localhost/v1/partitions/a/resume >/dev/null
wait_grep "$TMP/ev1" '"event":"partition_resumed","partition":"a"' 50
wait_grep "$ev" '"event":"partition_exit","partition":"b"' 100 # b ends by itself after 15 ticks
if grep -q '"ok":false,"error":"denied by policy .ev-v1.: uid:0 may not pause b' "$TMP/deny" &&
   grep -q '"request_id":"audit-7"' "$TMP/deny" &&
   grep -q '"event":"acm_deny","subject":"uid:0","object":"b","operation":"pause",.*"request_id":"audit-7"' "$ev"; then
	pass api-request-id-in-audit-events
else cat "$TMP/deny" >&2; show "$ev"; fail api-request-id-in-audit-events "the denial or its audit event lacks the request id"; fi
if grep -q '^{"ts":[0-9.]*,"event":"following","partitions":1,"platform":false' "$TMP/ev1" &&
   grep -q '"event":"partition_paused","partition":"a"' "$TMP/ev1" &&
   grep -q '"event":"partition_resumed","partition":"a"' "$TMP/ev1"; then
	pass api-events-stream-follows
else show "$TMP/ev1"; fail api-events-stream-follows "pause/resume of a were not in the stream"; fi
# b's life (its end) and the platform's audit events (the denial) are not shown.
if grep -q '"event":"partition_exit","partition":"b"' "$ev" && ! grep -q '"partition":"b"' "$TMP/ev1" &&
   ! grep -q '"event":"acm_deny"' "$TMP/ev1"; then
	pass api-events-filtered-by-policy
else show "$TMP/ev1"; show "$ev"; fail api-events-filtered-by-policy "the stream showed what the policy does not let uid 0 see"; fi
# A new policy that gives uid 0 a label with both types: b's events appear in the same stream.
cat >"$TMP/pol2.yaml" <<'YAML'
name: ev-v2
ste_types: [x_t, y_t]
labels:
  - { name: lx, ste: [x_t] }
  - { name: ly, ste: [y_t] }
  - { name: lxy, ste: [x_t, y_t] }
clients:
  - { uid: 0, label: lxy, operations: [list, status, pause, resume, stop, start, events, policy-load, acm] }
YAML
"$L" ctl --json "$sock" policy-load "$TMP/pol2.yaml" >"$TMP/load2" 2>&1
"$L" ctl --json "$sock" start b >/dev/null 2>&1
wait_grep "$TMP/ev1" '"event":"partition_ready","partition":"b"' 50
if grep -q '"ok":true,"policy":"ev-v2"' "$TMP/load2" && grep -q '"event":"partition_start","partition":"b"' "$TMP/ev1" &&
   grep -q '"event":"partition_ready","partition":"b"' "$TMP/ev1"; then
	pass api-events-refiltered-on-reload
else cat "$TMP/load2" >&2; show "$TMP/ev1"; fail api-events-refiltered-on-reload "b's events did not appear after the policy let uid 0 see them"; fi
kill "$follower" 2>/dev/null; wait "$follower" 2>/dev/null
stop_sup

# ---- a slow follower ----------------------------------------------------------------------

# A client that stops reading while thousands of events happen loses lines,
# gets one gap line saying how many, and then the events that follow; the
# operations that made the events were answered throughout.
start_bg "$out" run "$TMP/p.yaml"
wait_sock "$sock" && wait_state a running && wait_state b running
timeout 120 python3 - "$sock" >"$TMP/slow" 2>&1 <<'PY'
import json, socket, sys, time
path = sys.argv[1]
def request(method, url):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(("%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % (method, url)).encode())
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    return data
slow = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
slow.connect(path)
slow.sendall(b"GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
time.sleep(0.3)  # subscribed; from now on it reads nothing
t0 = time.time()
worst = 0.0
n = 0
while n < 3000 and time.time() - t0 < 60:
    t = time.time()
    r = request("POST", "/v1/links/l0/%s" % ("down" if n % 2 == 0 else "up"))
    worst = max(worst, time.time() - t)
    if b" 200 OK" not in r.split(b"\r\n")[0]:
        print("op failed:", r[:200])
        break
    n += 1
print("ops: %d in %.1f s, slowest %.3f s" % (n, time.time() - t0, worst))
request("POST", "/v1/partitions/a/pause")
slow.settimeout(5)
data = b""
try:
    while b'"partition_paused"' not in data:
        b = slow.recv(65536)
        if not b:
            break
        data += b
except OSError as e:
    print("recv:", e)
lines = [l for l in data.split(b"\n") if l.startswith(b"{")]
gaps = [json.loads(l) for l in lines if b'"event":"gap"' in l]
print("lines: %d, gaps: %s, last: %s" % (len(lines), [g["lost"] for g in gaps], lines[-1][:100] if lines else b""))
PY
if grep -q '^ops: 3000 in' "$TMP/slow" && grep -q '^lines: [0-9]*, gaps: \[[1-9][0-9]*\]' "$TMP/slow" &&
   grep -q 'last: b.{"ts":[0-9.]*,"event":"partition_paused","partition":"a"' "$TMP/slow" &&
   awk '/^ops:/ { exit !($NF + 0 < 2.0) }' "$TMP/slow"; then
	pass api-events-slow-client-gets-gap
else cat "$TMP/slow" >&2; fail api-events-slow-client-gets-gap "no single gap marker, lost events, or the operations stalled"; fi

stop_sup

# A partition follows events over its agent channel (issue 9's service partition):
# after its "events" request, event lines come between its answers. The agent
# pauses its peer; the next line it reads (for "acm") is that pause's event.
cat >"$TMP/ag.yaml" <<YAML
control: $sock
policy:
  name: ag-v1
  ste_types: [m_t]
  labels:
    - { name: ml, ste: [m_t] }
  clients:
    - { uid: 0, label: ml, operations: [all] }
    - { partition: ag, label: ml, operations: [events, pause, acm] }
partitions:
  - { name: peer, label: ml, kernel: $TICKER, cmdline: "tick_ms=1000", memory: 16M, console: none }
  - name: ag
    label: ml
    autostart: false
    kernel: $PWD/$GUESTS/agent.elf
    cmdline: "cmd=events cmd=pause+peer cmd=acm"
    memory: 16M
    devices: [ { type: stream, control: true } ]
YAML
start_bg "$out" run "$TMP/ag.yaml"
wait_sock "$sock" && wait_state peer running
"$L" ctl "$sock" start ag >/dev/null 2>&1
wait_grep "$out" "agent: done\|agent: timeout" 100
if contains "$out" '[ag] agent: reply {"ok":true,"following":true,"partitions":2,"platform":true}' &&
   contains "$out" '[ag] agent: reply {"ok":true,"partition":"peer","state":"paused"}' &&
   grep -q '^\[ag\] agent: reply {"ts":[0-9.]*,"event":"partition_paused","partition":"peer"}' "$out"; then
	pass api-agent-channel-follows-events
else show "$out"; fail api-agent-channel-follows-events "the agent did not get the event line after its answer"; fi
stop_sup
start_bg "$out" run "$TMP/p.yaml"
wait_sock "$sock" && wait_state a running

# ---- the front-end process -------------------------------------------------------------------

# Its own identity, no new privileges, seccomp, only sockets, its loop's fds and /proc's
# directory (metrics: partitions' stat and statm; Landlock confines opens beneath it).
ap=$(api_pid)
if [ -n "$ap" ]; then
	st=/proc/$ap/status
	fdl=$(for f in /proc/"$ap"/fd/*; do readlink "$f"; done | sed 's/\[[0-9]*\]//' | sort -u | tr '\n' ' ')
	if [ "$(awk '/^Uid:/ {print $2}' "$st")" != 0 ] && grep -q '^NoNewPrivs:[[:space:]]*1' "$st" &&
	   grep -q '^Seccomp:[[:space:]]*2' "$st" && ! grep -q '"event":"api_exit".*"signal":31' "$ev" &&
	   ! grep -qvE '^(socket:|anon_inode:\[(eventpoll|eventfd)\]|/proc$)' \
		<(for f in /proc/"$ap"/fd/*; do [ "${f##*/}" -gt 2 ] && readlink "$f"; done) &&
	   as_bounded "$ap"; then
		pass api-frontend-sandboxed
	else cat "$st" >&2; echo "fds: $fdl" >&2; fail api-frontend-sandboxed "uid, no_new_privs, seccomp, fds or address-space room (${room:-none} MiB, want <= 256)"; fi
else fail api-frontend-sandboxed "no lvmm-api child of the supervisor"; fi

# Killed, it is started again; requests work again, the partitions never noticed.
pa=$("$L" ctl --json "$sock" list | grep -o '"name":"a","state":"[a-z]*","role":"[a-z]*","pid":[0-9]*' | grep -o '[0-9]*$')
[ -n "$ap" ] && sigpid KILL "$ap"
ok=0
for _ in $(seq 50); do
	"$L" ctl --json "$sock" list >"$TMP/after" 2>/dev/null && { ok=1; break; }
	sleep 0.1
done
ap2=$(api_pid)
if [ $ok = 1 ] && [ -n "$ap2" ] && [ "$ap2" != "$ap" ] && grep -q "\"name\":\"a\",\"state\":\"[a-z]*\",\"role\":\"user\",\"pid\":$pa," "$TMP/after" &&
   grep -q '"event":"api_exit","pid":'"$ap"',"signal":9' "$ev"; then
	pass api-frontend-restarted-after-kill
else cat "$TMP/after" >&2; fail api-frontend-restarted-after-kill "old $ap new ${ap2:-none}, list ok=$ok"; fi

# The supervisor checks the peer itself: a uid that is neither root nor its own
# is refused (and audited) even when the socket's mode would let it connect.
if command -v setpriv >/dev/null; then
	# Only for this check: nobody may reach the socket (the test directories are 0700).
	# The modes are put back as they were: TMP's parent is /tmp when api.sh runs
	# alone, and a fixed 0700 there locked every other uid out of /tmp.
	modes=$(stat -c %a "$TMP" "$(dirname "$TMP")" | tr '\n' ' ')
	chmod 0711 "$TMP"; chmod o+x "$(dirname "$TMP")"
	chmod 0666 "$sock"
	setpriv --reuid 65534 --regid 65534 --clear-groups curl -s --unix-socket "$sock" \
		-w ' %{http_code}' http://localhost/v1/partitions >"$TMP/nobody.out" 2>&1
	chmod 0600 "$sock"
	chmod "${modes%% *}" "$TMP"; chmod "$(echo $modes | cut -d' ' -f2)" "$(dirname "$TMP")"
	if [ "$(stat -c %a "$TMP" "$(dirname "$TMP")" | tr '\n' ' ')" = "$modes" ]; then pass api-peer-check-restores-modes
	else fail api-peer-check-restores-modes "modes $modes became $(stat -c %a "$TMP" "$(dirname "$TMP")" | tr '\n' ' ')"; fi
	cp "$TMP/nobody.out" "$TMP/nobody"
	if grep -q '"ok":false,"error":"uid 65534 may not use this control socket".* 403$' "$TMP/nobody" &&
	   grep -q '"event":"control_denied","uid":65534' "$ev"; then pass api-peer-uid-refused-by-supervisor
	else cat "$TMP/nobody" >&2; fail api-peer-uid-refused-by-supervisor "uid 65534 was not refused with 403 and an event"; fi
else
	skip api-peer-uid-refused-by-supervisor "setpriv (util-linux) is not installed"
	skip api-peer-check-restores-modes "setpriv (util-linux) is not installed"
fi

# Readable tables by default.
"$L" ctl "$sock" list >"$TMP/table" 2>&1
if head -n 1 "$TMP/table" | grep -q '^PARTITION  STATE  *ROLE  *LABEL  *PID  *UID  *VCPUS  *MEMORY  *RESTARTS  *RESTART  *EXIT$' &&
   grep -q '^a  *[a-z]*  *user  *-  *[0-9][0-9]*  ' "$TMP/table" && grep -q '^l0  *a <-> b  *\(up\|down\)$' "$TMP/table"; then
	pass ctl-readable-tables
else cat "$TMP/table" >&2; fail ctl-readable-tables "no readable table"; fi
stop_sup

# A bare NAME is /run/lvmm/NAME.sock (root's runs), for lvmm run and lvmm ctl alike.
name=apitest$$
start_bg "$out" run --kernel "$TICKER" --memory 16 --no-stdin --cmdline "tick_ms=1000" --console none --control "$name"
if wait_sock "/run/lvmm/$name.sock" && [ "$(stat -c %a "/run/lvmm/$name.sock")" = 600 ] &&
   "$L" ctl --json "$name" list 2>/dev/null | grep -q '"name":"guest"'; then
	pass ctl-socket-by-name
else show "$out"; fail ctl-socket-by-name "no /run/lvmm/$name.sock, or lvmm ctl $name did not reach it"; fi
stop_sup
[ ! -e "/run/lvmm/$name.sock" ] || rm -f "/run/lvmm/$name.sock"

# A run that ends removes its socket file only if the path still names the
# socket it bound: here another run has taken the path over meanwhile.
start_bg "$out" run "$TMP/p.yaml"
first=$sup
wait_sock "$sock" && wait_state a running
mv "$sock" "$sock.first"
start_bg "$TMP/out2" run --kernel "$TICKER" --memory 16 --no-stdin --cmdline "tick_ms=1000" --console none --control "$sock"
wait_sock "$sock"
sup=$first
stop_sup
if [ -S "$sock" ] && "$L" ctl --json "$sock" list 2>/dev/null | grep -q '"name":"guest"'; then
	pass ctl-socket-of-another-run-left-alone
else show "$TMP/out2"; fail ctl-socket-of-another-run-left-alone "the first run's end removed the second run's socket"; fi
sup=$(pgrep -f -- "--control $sock" | head -n 1)
[ -n "$sup" ] && stop_sup
