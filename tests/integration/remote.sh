#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Remote management over mutually authenticated TLS (docs/api.md, "Remote
# management"): openssl makes a CA, a server certificate, an administrator's
# client certificate and one from another CA; curl --cert/--key/--cacert
# talks to the front-end's TLS listener on 127.0.0.1 (nothing leaves the
# machine). Off until the local user opens a window (`lvmm ctl remote enable
# --seconds N`, the short form of --minutes for tests), mediated by the
# policy entry of the certificate, refused without a certificate, with one
# from another CA, with TLS 1.2, before and after the window, and audited.
. "$(dirname "$0")/../lib.sh"

CASES="remote-check-validates remote-refused-before-enable remote-window-local-only
       remote-accepted-in-window remote-policy-refuses-ungranted remote-refused-without-cert
       remote-refused-other-ca remote-refused-tls12 remote-events-end-with-window
       remote-refused-after-window remote-held-connection-refused remote-disable-closes
       remote-window-survives-api-restart remote-audit-events remote-bad-key-keeps-local-api"
for t in openssl curl python3; do
	if ! command -v $t >/dev/null; then
		for c in $CASES; do skip "$c" "$t is not installed (make deps)"; done
		exit 0
	fi
done
skip_all_without_kvm $CASES
L=$LVMM
sock=$TMP/ctl.sock
ev=$TMP/ev.jsonl
out=$TMP/out
TICKER=$PWD/$GUESTS/ticker.elf
sup=""
cleanup() {
	[ -n "$sup" ] && sigpid KILL "$sup" 2>/dev/null
	cleanup_tmp
}
trap cleanup EXIT

# ---- certificates --------------------------------------------------------------------

cd "$TMP" || exit 1
self_signed() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
	-out "$1.pem" -days 2 -subj "/CN=lvmm test $1" 2>/dev/null; }
signed() { # NAME CA EXTENSIONS
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" \
		-subj "/CN=lvmm test $1" 2>/dev/null &&
	printf '%b\n' "$3" >"$1.ext" &&
	openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -out "$1.pem" -days 2 \
		-extfile "$1.ext" 2>/dev/null
}
if ! self_signed ca || ! self_signed otherca ||
   ! signed server ca "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth" ||
   ! signed admin ca "extendedKeyUsage=clientAuth" ||
   ! signed intruder otherca "extendedKeyUsage=clientAuth"; then
	for c in $CASES; do fail "$c" "openssl could not make the test certificates"; done
	exit 0
fi
cd - >/dev/null || exit 1
FP=$(openssl x509 -noout -fingerprint -sha256 -in "$TMP/admin.pem" | cut -d= -f2)
# A free port on 127.0.0.1 (the kernel's pick, released again).
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=https://127.0.0.1:$PORT

cat >"$TMP/p.yaml" <<YAML
control: $sock
events: $ev
remote: { listen: "127.0.0.1:$PORT", cert: server.pem, key: server.key, client_ca: ca.pem }
partitions:
  - { name: a, label: admin_l, kernel: $TICKER, cmdline: "tick_ms=1000", memory: 16M, console: none }
policy:
  name: remote-v1
  ste_types: [t]
  labels:
    - { name: admin_l, ste: [t] }
  clients:
    - { uid: $(id -u), label: admin_l, operations: [all] }
    - { cert_sha256: "$FP", label: admin_l, operations: [list, status, events, remote-enable] }
YAML

# ---- lvmm check ------------------------------------------------------------------------
sed -e "s/127.0.0.1:$PORT/localhost:99999/" -e "s/key: server.key/key: server.pem/" \
	-e '/cert_sha256/d' "$TMP/p.yaml" >"$TMP/bad.yaml"
"$L" check "$TMP/bad.yaml" >"$TMP/check.out" 2>&1
crc=$?
"$L" check "$TMP/p.yaml" >"$TMP/check-ok.out" 2>&1
okrc=$?
if [ $crc -ne 0 ] && [ $okrc -eq 0 ] && grep -q "bad.yaml:3: 'localhost:99999' is not ADDRESS:PORT" "$TMP/check.out" &&
   grep -q "holds no unencrypted PEM private key" "$TMP/check.out" &&
   grep -q "no remote client may do anything" "$TMP/check.out"; then
	pass remote-check-validates
else show "$TMP/check.out"; show "$TMP/check-ok.out"; fail remote-check-validates "lvmm check did not report the bad remote: section"; fi

# ---- a live platform -------------------------------------------------------------------
"$L" run "$TMP/p.yaml" </dev/null >"$out" 2>&1 &
sup=$!
for _ in $(seq 100); do [ -S "$sock" ] && timeout 2 "$L" ctl --json "$sock" list 2>/dev/null | grep -q '"state":"running"' && break; sleep 0.1; done
if ! "$L" ctl --json "$sock" list 2>/dev/null | grep -q '"state":"running"'; then
	show "$out"
	for c in $CASES; do [ "$c" = remote-check-validates ] || fail "$c" "the platform did not come up"; done
	exit 0
fi
C=(curl -sS --max-time 5 --cacert "$TMP/ca.pem" -o "$TMP/body" -w '%{http_code}')
ADMIN=(--cert "$TMP/admin.pem" --key "$TMP/admin.key")
# code NAME CURL-ARGS...: the HTTP status (000: no HTTP answer at all), curl's exit in $crc
code() { "${C[@]}" "$@" 2>"$TMP/curl.err"; crc=$?; }

st=$(code "${ADMIN[@]}" "$URL/v1/partitions")
if [ "$st" = 000 ] && [ $crc -ne 0 ] && "$L" ctl "$sock" remote status | grep -q "remote: closed"; then
	pass remote-refused-before-enable
else fail remote-refused-before-enable "before enable: HTTP $st, curl $crc"; fi

# The window: 1-1440 minutes (or seconds, for tests); local users only.
bad=$("$L" ctl "$sock" remote enable --minutes 1441 2>&1); brc=$?
"$L" ctl "$sock" remote enable --seconds 8 >"$TMP/enable.out" 2>&1
erc=$?
T0=$(date +%s.%N)
st=$(code "${ADMIN[@]}" -X POST "$URL/v1/remote/enable?minutes=60")
if [ $brc -eq 2 ] && [ $erc -eq 0 ] && grep -q "remote: open on 127.0.0.1:$PORT for 8 s more" "$TMP/enable.out" &&
   [ "$st" = 403 ] && grep -q "only a local user of the control socket may do this" "$TMP/body"; then
	pass remote-window-local-only
else fail remote-window-local-only "--minutes 1441: $brc ($bad); enable: $erc $(cat "$TMP/enable.out"); remote enable: $st $(cat "$TMP/body")"; fi

st=$(code "${ADMIN[@]}" "$URL/v1/partitions")
if [ "$st" = 200 ] && grep -q '"ok":true,"partitions":\[{"name":"a","state":"running"' "$TMP/body"; then
	pass remote-accepted-in-window
else fail remote-accepted-in-window "list: HTTP $st $(cat "$TMP/body") $(cat "$TMP/curl.err")"; fi

st=$(code "${ADMIN[@]}" -X POST "$URL/v1/partitions/a/pause")
if [ "$st" = 403 ] && grep -q "cert:$(echo "$FP" | tr -d : | tr A-F a-f) may not pause a (clients: operation not granted)" "$TMP/body" &&
   "$L" ctl --json "$sock" list | grep -q '"name":"a","state":"running"'; then
	pass remote-policy-refuses-ungranted
else fail remote-policy-refuses-ungranted "pause: HTTP $st $(cat "$TMP/body")"; fi

st=$(code "$URL/v1/partitions")
if [ "$st" = 000 ] && [ $crc -ne 0 ]; then pass remote-refused-without-cert
else fail remote-refused-without-cert "no certificate: HTTP $st, curl $crc"; fi

st=$(code --cert "$TMP/intruder.pem" --key "$TMP/intruder.key" "$URL/v1/partitions")
if [ "$st" = 000 ] && [ $crc -ne 0 ]; then pass remote-refused-other-ca
else fail remote-refused-other-ca "another CA's certificate: HTTP $st, curl $crc"; fi

st=$(code --tls-max 1.2 "${ADMIN[@]}" "$URL/v1/partitions")
if [ "$st" = 000 ] && [ $crc -ne 0 ]; then pass remote-refused-tls12
else fail remote-refused-tls12 "TLS 1.2: HTTP $st, curl $crc"; fi

# A connection held across the end of the window (its request reaches the
# supervisor, which refuses it), and an event stream open then (it ends).
python3 - "$TMP" "$PORT" >"$TMP/held.out" 2>&1 <<'PY' &
import http.client, ssl, sys, time
d, port = sys.argv[1], int(sys.argv[2])
ctx = ssl.create_default_context(cafile=d + "/ca.pem")
ctx.load_cert_chain(d + "/admin.pem", d + "/admin.key")
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=15)
c.request("GET", "/v1/partitions")
r = c.getresponse(); r.read()
print("first", r.status, flush=True)
time.sleep(9)  # the window (8 s from enable) closes meanwhile; idle limit 10 s
try:
    c.request("GET", "/v1/partitions")
    r = c.getresponse()
    print("second", r.status, r.read().decode(), flush=True)
except Exception as e:  # a closed connection is a refusal too
    print("second closed", type(e).__name__, flush=True)
PY
held=$!
curl -sS -N --max-time 20 --cacert "$TMP/ca.pem" "${ADMIN[@]}" "$URL/v1/events" >"$TMP/stream" 2>&1 &
stream=$!
# Wait for the window to close (8 s after enable), then a little.
for _ in $(seq 150); do "$L" ctl "$sock" remote status | grep -q "remote: closed" && break; sleep 0.1; done
T1=$(date +%s.%N)
sleep 0.5
if ! kill -0 $stream 2>/dev/null && head -n 1 "$TMP/stream" | grep -q '"event":"following"'; then
	pass remote-events-end-with-window
else fail remote-events-end-with-window "the stream is still open or never started: $(head -c 300 "$TMP/stream")"; sigpid KILL $stream; fi
wait $stream 2>/dev/null

st=$(code "${ADMIN[@]}" "$URL/v1/partitions")
closed_after=$(python3 -c "print(int(($T1 - $T0) * 10))")
if [ "$st" = 000 ] && [ $crc -ne 0 ] && [ "$closed_after" -ge 75 ] && [ "$closed_after" -le 110 ]; then
	pass remote-refused-after-window
else fail remote-refused-after-window "after the window: HTTP $st, curl $crc; closed after $closed_after/10 s"; fi

wait $held
if grep -q "^first 200" "$TMP/held.out" &&
   grep -q '^second 403 .*remote access is not enabled (the local user opens it' "$TMP/held.out"; then
	pass remote-held-connection-refused
else fail remote-held-connection-refused "$(tr '\n' ' ' <"$TMP/held.out")"; fi

"$L" ctl "$sock" remote enable --minutes 10 >/dev/null
st1=$(code "${ADMIN[@]}" "$URL/v1/partitions")
"$L" ctl "$sock" remote disable >"$TMP/disable.out"
st2=$(code "${ADMIN[@]}" "$URL/v1/partitions")
if [ "$st1" = 200 ] && [ "$st2" = 000 ] && grep -q "remote: closed" "$TMP/disable.out"; then
	pass remote-disable-closes
else fail remote-disable-closes "enabled: $st1, disabled: $st2 $(cat "$TMP/disable.out")"; fi

# A front-end that dies while the window is open: its successor (a second
# later) is given the window that is left in its start message, and lets the
# administrator in again without the local user doing anything.
"$L" ctl "$sock" remote enable --minutes 10 >/dev/null
api=$(pgrep -P "$sup" -x lvmm-api | head -n 1)
[ -n "$api" ] && sigpid KILL "$api"
for _ in $(seq 50); do
	new=$(pgrep -P "$sup" -x lvmm-api | head -n 1)
	[ -n "$new" ] && [ "$new" != "$api" ] && break
	sleep 0.1
done
sleep 0.3
st=$(code "${ADMIN[@]}" "$URL/v1/partitions")
"$L" ctl "$sock" remote disable >/dev/null
if [ -n "$api" ] && [ -n "$new" ] && [ "$new" != "$api" ] && [ "$st" = 200 ]; then
	pass remote-window-survives-api-restart
else fail remote-window-survives-api-restart "front-end $api -> ${new:-none}; list after the restart: HTTP $st"; fi

sigpid TERM "$sup"
for _ in $(seq 100); do kill -0 "$sup" 2>/dev/null || break; sleep 0.1; done
wait "$sup" 2>/dev/null
sup=""
# Every remote request is in the log with the certificate as its subject and
# its outcome; the window's opening and closing with who and why.
subj="cert:$(echo "$FP" | tr -d : | tr A-F a-f)"
if grep -q "\"event\":\"remote_enabled\",\"seconds\":8,\"listen\":\"127.0.0.1:$PORT\",\"by\":\"uid:$(id -u)\"" "$ev" &&
   grep -q "\"event\":\"remote_request\",\"subject\":\"$subj\",\"operation\":\"list\",\"result\":0" "$ev" &&
   grep -q "\"event\":\"remote_request\",\"subject\":\"$subj\",\"operation\":\"pause\",\"target\":\"a\",\"result\":-13" "$ev" &&
   grep -q "\"event\":\"remote_request\",\"subject\":\"$subj\",\"operation\":\"remote-enable\",\"result\":-13" "$ev" &&
   grep -q "\"event\":\"remote_request\",\"subject\":\"$subj\",\"operation\":\"list\",\"result\":-13,\"error\":\"remote access is not enabled" "$ev" &&
   grep -q "\"event\":\"remote_disabled\",\"reason\":\"expired\"" "$ev" &&
   grep -q "\"event\":\"remote_disabled\",\"reason\":\"disabled\",\"by\":\"uid:$(id -u)\"" "$ev" &&
   ! grep -q "lvmm test intruder" "$ev"; then
	pass remote-audit-events
else show "$ev"; fail remote-audit-events "remote events missing from the event log"; fi

# A key that is not the certificate's (lvmm check looks only at the PEM
# armour): remote management is off, said once; the local API goes on.
sed -e "s/key: server.key/key: admin.key/" -e "s|$sock|$TMP/ctl2.sock|" -e "s|$ev|$TMP/ev2.jsonl|" \
	"$TMP/p.yaml" >"$TMP/badkey.yaml"
"$L" run "$TMP/badkey.yaml" </dev/null >"$TMP/out2" 2>&1 &
sup=$!
# (bounded: with the front-end exiting in a loop, a client would wait for an answer)
for _ in $(seq 50); do timeout 2 "$L" ctl --json "$TMP/ctl2.sock" list 2>/dev/null | grep -q '"state":"running"' && break; sleep 0.1; done
timeout 5 "$L" ctl "$TMP/ctl2.sock" remote enable --seconds 30 >/dev/null 2>&1
st=$(code "${ADMIN[@]}" "$URL/v1/partitions")
sleep 1.5 # a front-end that exited would be restarted within this
if timeout 5 "$L" ctl --json "$TMP/ctl2.sock" list 2>/dev/null | grep -q '"state":"running"' && [ "$st" = 000 ] &&
   [ "$(grep -c 'remote: cannot serve TLS' "$TMP/out2")" = 1 ] && ! grep -q api_exit "$TMP/out2"; then
	pass remote-bad-key-keeps-local-api
else show "$TMP/out2"; fail remote-bad-key-keeps-local-api "HTTP $st; see the run's output"; fi
sigpid TERM "$sup"
for _ in $(seq 100); do kill -0 "$sup" 2>/dev/null || break; sleep 0.1; done
wait "$sup" 2>/dev/null
sup=""
