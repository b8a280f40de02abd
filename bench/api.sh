#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Control-operation and event latency through lvmm's HTTP front-end against
# QEMU's QMP socket, same run, same guest, alternating rounds:
#   status         GET /v1/partitions/NAME        vs  query-status
#   pause+resume   POST .../pause, POST .../resume vs  stop, cont
#   event          the partition_paused line on a GET /v1/events stream after
#                  the pause was sent               vs  the STOP event after stop
# Both clients keep their connection (HTTP keep-alive, one QMP session); lvmm
# with a new connection per request (as curl and lvmm ctl do) is shown too.
# Median and 10th-90th percentile of N rounds (N=200).
. "$(dirname "$0")/lib.sh"
need_qemu
N=${N:-200}
TMPD=$(mktemp -d /tmp/lvmm-bench-api.XXXXXX)
cleanup() {
	[ -n "${lp:-}" ] && kill "$lp" 2>/dev/null
	[ -n "${qp:-}" ] && kill "$qp" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$TMPD"
}
trap cleanup EXIT
cat >"$TMPD/p.yaml" <<YAML
control: $TMPD/lvmm.sock
partitions:
  - { name: g, kernel: $PWD/$G/ticker.elf, cmdline: "tick_ms=10000", memory: 64M, console: none }
YAML
"$LVMM" -q run "$TMPD/p.yaml" </dev/null >"$TMPD/lvmm.out" 2>&1 &
lp=$!
qemu_args 64
"${QEMU[@]}" -kernel "$G/ticker.elf" -append "tick_ms=10000" -qmp "unix:$TMPD/qmp.sock,server=on,wait=off" \
	</dev/null >"$TMPD/qemu.out" 2>&1 &
qp=$!
for _ in $(seq 100); do [ -S "$TMPD/lvmm.sock" ] && [ -S "$TMPD/qmp.sock" ] && break; sleep 0.1; done
sleep 0.5
python3 - "$TMPD/lvmm.sock" "$TMPD/qmp.sock" "$N" <<'PY'
import json, socket, sys, time

LSOCK, QSOCK, N = sys.argv[1], sys.argv[2], int(sys.argv[3])


class Http:
    """HTTP/1.1 with keep-alive (or a new connection per request)."""
    def __init__(self, path, keep=True):
        self.path, self.keep, self.s, self.buf = path, keep, None, b""

    def req(self, method, url):
        if not self.s:
            self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.s.connect(self.path)
            self.buf = b""
        conn = "" if self.keep else "Connection: close\r\n"
        self.s.sendall(("%s %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (method, url, conn)).encode())
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.s.recv(65536)
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        n = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1])
        while len(self.buf) < n:
            self.buf += self.s.recv(65536)
        body, self.buf = self.buf[:n], self.buf[n:]
        if not self.keep or b"connection: close" in head.lower():
            self.s.close()
            self.s = None
        status = int(head.split(b" ")[1])
        assert status == 200, (status, body)
        return body


class Qmp:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.f = self.s.makefile("rb")
        json.loads(self.f.readline())  # greeting
        self.cmd("qmp_capabilities")

    def send(self, cmd):
        self.s.sendall(json.dumps({"execute": cmd}).encode() + b"\n")

    def cmd(self, cmd):
        self.send(cmd)
        while True:
            m = json.loads(self.f.readline())
            if "return" in m or "error" in m:
                assert "return" in m, m
                return m


class Events:
    """A GET /v1/events stream; lines as they come (chunked)."""
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.s.sendall(b"GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
        self.buf = b""
        self.wait(b'"following"')

    def wait(self, needle):
        while needle not in self.buf:
            self.buf += self.s.recv(65536)
        self.buf = self.buf[self.buf.index(needle) + len(needle):]


def stats(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2], xs[len(xs) // 10], xs[(len(xs) * 9) // 10]


h, hc, q, ev = Http(LSOCK), Http(LSOCK, keep=False), Qmp(QSOCK), Events(LSOCK)
q.cmd("query-status")
h.req("GET", "/v1/partitions/g")
res = {k: [] for k in ("l_status", "lc_status", "q_status", "l_pr", "q_pr", "l_ev", "q_ev")}
for i in range(N):
    # Alternate which VMM goes first in each round.
    order = (0, 1) if i % 2 == 0 else (1, 0)
    for who in order:
        if who == 0:
            t = time.perf_counter(); h.req("GET", "/v1/partitions/g"); res["l_status"].append(time.perf_counter() - t)
            t = time.perf_counter(); hc.req("GET", "/v1/partitions/g"); res["lc_status"].append(time.perf_counter() - t)
            t = time.perf_counter()
            h.req("POST", "/v1/partitions/g/pause")
            ev.wait(b'"event":"partition_paused"')
            res["l_ev"].append(time.perf_counter() - t)
            h.req("POST", "/v1/partitions/g/resume")
            res["l_pr"].append(time.perf_counter() - t)
            ev.wait(b'"event":"partition_resumed"')
        else:
            t = time.perf_counter(); q.cmd("query-status"); res["q_status"].append(time.perf_counter() - t)
            t = time.perf_counter()
            q.send("stop")
            ret = seen = False  # the STOP event and the command's return come in either order
            while not (ret and seen):
                m = json.loads(q.f.readline())
                if m.get("event") == "STOP" and not seen:
                    seen = True
                    res["q_ev"].append(time.perf_counter() - t)
                ret = ret or "return" in m
            q.send("cont")
            ret = seen = False
            while not (ret and seen):
                m = json.loads(q.f.readline())
                if "return" in m and not ret:
                    ret = True
                    res["q_pr"].append(time.perf_counter() - t)
                seen = seen or m.get("event") == "RESUME"


def row(label, l, qm):
    lm, l10, l90 = stats(l)
    qm_, q10, q90 = stats(qm)
    print("%-34s %9.1f (%6.1f-%6.1f) %9.1f (%6.1f-%6.1f) %7.2f" %
          (label, lm * 1e6, l10 * 1e6, l90 * 1e6, qm_ * 1e6, q10 * 1e6, q90 * 1e6, lm / qm_))


print("%-34s %28s %28s %7s" % ("median (p10-p90) of %d rounds, us" % N, "lvmm (HTTP)", "qemu (QMP)", "ratio"))
row("status / query-status", res["l_status"], res["q_status"])
row("status, new connection each", res["lc_status"], res["q_status"])
row("pause+resume / stop+cont", res["l_pr"], res["q_pr"])
row("event seen after pause / stop", res["l_ev"], res["q_ev"])
PY
