#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Schema-driven checks of the control API against docs/api/openapi.yaml.

    api_spec.py SPEC SOCKET PARTITION LINK POLICY_FILE SUPERVISOR_PID

Generates requests from the spec: for every path and method a valid request
(path parameters from the live platform, a valid X-Request-Id, the policy
file as the body of PUT /v1/policy), and invalid ones (each parameter
violating its schema, undeclared methods, unknown paths, bodies outside the
request body's schema). Every answer is validated against the spec: a valid
request gets one of the operation's documented responses with a body that
matches its schema; an invalid one gets a 4xx with a JSON error; nothing
gets a 5xx, and the supervisor is still there at the end. Also checks that
the spec and the server's routes (GET /v1/help) are the same set.

Prints "ok - NAME" / "not ok - NAME: why" lines (tests/lib.sh).
"""
import json
import os
import re
import socket
import sys

import jsonschema
import yaml

SPEC, SOCK, PART, LINK, POLICY, SUP = sys.argv[1:7]
spec = yaml.safe_load(open(SPEC))
METHODS = ["get", "post", "put", "delete", "patch"]


def http(method, path, headers=None, body=None, timeout=15, stream_lines=0):
    """One request on its own connection; (status, headers, body bytes)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(SOCK)
    h = {"Host": "localhost", "Connection": "close"}
    h.update(headers or {})
    if body is not None:
        h["Content-Length"] = str(len(body))
    req = "%s %s HTTP/1.1\r\n" % (method, path) + "".join("%s: %s\r\n" % kv for kv in h.items()) + "\r\n"
    s.sendall(req.encode() + (body or b""))
    data = b""
    while b"\r\n\r\n" not in data:
        b = s.recv(65536)
        if not b:
            break
        data += b
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    if hdrs.get("transfer-encoding", "").lower() == "chunked":
        out = b""
        buf = rest
        while True:
            while b"\r\n" not in buf:
                b = s.recv(65536)
                if not b:
                    s.close()
                    return status, hdrs, out
                buf += b
            size_line, _, buf = buf.partition(b"\r\n")
            n = int(size_line.split(b";")[0], 16)
            if n == 0:
                break
            while len(buf) < n + 2:
                b = s.recv(65536)
                if not b:
                    break
                buf += b
            out += buf[:n]
            buf = buf[n + 2:]
            if stream_lines and out.count(b"\n") >= stream_lines:
                break
        s.close()
        return status, hdrs, out
    n = int(hdrs.get("content-length", "-1"))
    body_out = rest
    while n < 0 or len(body_out) < n:
        b = s.recv(65536)
        if not b:
            break
        body_out += b
    s.close()
    return status, hdrs, body_out


def deref(obj):
    """Follow an OpenAPI $ref (responses, parameters) within the spec."""
    seen = 0
    while isinstance(obj, dict) and "$ref" in obj and seen < 10:
        node = spec
        for part in obj["$ref"].lstrip("#/").split("/"):
            node = node[part]
        obj = node
        seen += 1
    return obj


resolver = jsonschema.RefResolver.from_schema(spec)


def validate(schema, value):
    jsonschema.Draft202012Validator(schema, resolver=resolver).validate(value)


ERROR = {"$ref": "#/components/schemas/Error"}
results = {}
problems = {}

# The checker itself must be able to fail: a wrong document is refused.
try:
    validate(ERROR, {"ok": True, "error": "", "request_id": "bad id!", "extra": 1})
    print("not ok - api-spec-valid-requests-match: the schema validator accepts anything")
    sys.exit(0)
except jsonschema.ValidationError:
    pass


def note(case, ok, why=""):
    results.setdefault(case, True)
    if not ok:
        results[case] = False
        problems.setdefault(case, why)


def check_error(case, what, status, hdrs, body, want=None):
    """An invalid request: a 4xx (want, if given) with a JSON error body."""
    if status >= 500:
        note(case, False, "%s: got %d (a 5xx)" % (what, status))
        return
    if not 400 <= status < 500 or (want and status != want):
        note(case, False, "%s: got %d, want %s" % (what, status, want or "4xx"))
        return
    try:
        validate(ERROR, json.loads(body))
    except Exception as e:  # noqa: BLE001 - any failure is the finding
        note(case, False, "%s: %d body is not an Error: %s (%r)" % (what, status, str(e)[:120], body[:120]))
        return
    note(case, True)


def concrete(path, value_for):
    return re.sub(r"\{(\w+)\}", lambda m: value_for(m.group(1)), path)


def param_value(path):
    return lambda name: LINK if path.startswith("/v1/links/") else PART


ops = []
for path, item in spec["paths"].items():
    for m in METHODS:
        if m in item:
            ops.append((path, m, item[m]))

# ---- the spec's routes are the server's ----------------------------------------
st, _, body = http("GET", "/v1/help")
served = set()
if st == 200:
    for r in json.loads(body)["routes"]:
        meth, p = r.split(" ", 1)
        served.add((meth.lower(), re.sub(r"\{\w+\}", "{name}", p)))
served |= {("get", "/v1/version"), ("get", "/v1/links")}
documented = {(m, p) for p, m, _ in ops}
note("api-spec-matches-routes", served == documented,
     "served but not documented: %s; documented but not served: %s" %
     (sorted(served - documented), sorted(documented - served)))

# ---- valid requests: a documented response, its schema --------------------------
order = ["get", "put", "post"]  # state-changing ones last
policy_text = open(POLICY, "rb").read()
n = 0
for path, m, op in sorted(ops, key=lambda o: (order.index(o[1]) if o[1] in order else 9, o[0])):
    if path == "/v1/events":
        continue
    n += 1
    rid = "spec-%s-%d" % (op["operationId"], n)
    body = policy_text if m == "put" else None
    url = concrete(path, param_value(path))
    st, hdrs, out = http(m.upper(), url, {"X-Request-Id": rid,
                                          "Content-Type": "application/yaml"} if body else
                         {"X-Request-Id": rid}, body)
    what = "%s %s" % (m.upper(), url)
    responses = op["responses"]
    if str(st) not in responses:
        note("api-spec-valid-requests-match", False, "%s: %d is not documented" % (what, st))
        continue
    resp = deref(responses[str(st)])
    schema = resp["content"]["application/json"]["schema"]
    try:
        doc = json.loads(out)
        validate(schema, doc)
        assert doc["request_id"] == rid and hdrs.get("x-request-id") == rid, "request id not echoed"
        if m == "get" and path != "/v1/partitions/{name}":
            assert st == 200, "a read of the platform failed"
        note("api-spec-valid-requests-match", True)
    except Exception as e:  # noqa: BLE001
        note("api-spec-valid-requests-match", False, "%s: %d: %s (%r)" % (what, st, str(e)[:160], out[:160]))

# The event stream: its first line (and the lines of a request) match Event.
st, hdrs, out = http("GET", "/v1/events", {"X-Request-Id": "spec-events"}, stream_lines=1)
try:
    assert st == 200 and hdrs.get("content-type") == "application/x-ndjson", "status %d" % st
    first = json.loads(out.split(b"\n")[0])
    validate({"$ref": "#/components/schemas/Event"}, first)
    assert first["event"] == "following" and first["request_id"] == "spec-events"
    note("api-spec-valid-requests-match", True)
except Exception as e:  # noqa: BLE001
    note("api-spec-valid-requests-match", False, "GET /v1/events: %s (%r)" % (str(e)[:160], out[:160]))

# ---- invalid requests: a 4xx with a reason, never a 5xx --------------------------
case = "api-spec-invalid-requests-4xx"
for path, m, op in ops:
    url = concrete(path, param_value(path))
    # Each parameter out of its schema.
    for prm in (deref(p) for p in op.get("parameters", [])):
        sch = prm["schema"]
        bad = ["x" * 64, "bad id!", "a\"b"] if prm["in"] == "header" else \
              ["nosuch", "x" * 40, "-lead", "a%20b", "%2e%2e"]
        for v in bad:
            if prm["in"] == "header":
                st, hdrs, out = http(m.upper(), url, {prm["name"]: v},
                                     policy_text if m == "put" else None)
                check_error(case, "%s %s with %s: %r" % (m.upper(), url, prm["name"], v), st, hdrs, out, 400)
            else:
                u = path.replace("{%s}" % prm["name"], v)
                st, hdrs, out = http(m.upper(), u, {}, policy_text if m == "put" else None)
                check_error(case, "%s %s" % (m.upper(), u), st, hdrs, out, 404)
    # The request body out of its schema.
    rb = op.get("requestBody")
    if rb:
        sch = rb["content"]["application/yaml"]["schema"]
        for body, want in ((b"", 400), (b"x" * (sch["maxLength"] + 1), 413), (b"name: [\n", 400)):
            st, hdrs, out = http(m.upper(), url, {"Content-Type": "application/yaml"}, body)
            check_error(case, "%s %s with a %d-byte body" % (m.upper(), url, len(body)), st, hdrs, out, want)
# Undeclared methods: 405 with Allow naming the declared ones.
for path, item in spec["paths"].items():
    url = concrete(path, param_value(path))
    declared = {m.upper() for m in METHODS if m in item}
    for m in METHODS:
        if m in item:
            continue
        st, hdrs, out = http(m.upper(), url, {}, b"" if m in ("put", "patch") else None)
        check_error(case, "%s %s" % (m.upper(), url), st, hdrs, out, 405)
        allow = {a.strip() for a in hdrs.get("allow", "").split(",") if a.strip()}
        note(case, allow == declared, "%s %s: Allow %s, declared %s" % (m.upper(), url, allow, declared))
# Paths the spec does not have.
for u in ["/", "/v1", "/v1/", "/v1/nope", "/v2/partitions", "/v1/partitions/%s/nope" % PART,
          "/v1/partitions/%s/pause/x" % PART, "/v1/links/%s" % LINK, "/v1/partitions//pause"]:
    st, hdrs, out = http("GET", u)
    check_error(case, "GET %s" % u, st, hdrs, out, 404)

# ---- the supervisor is still there and answers ----------------------------------
alive = os.path.exists("/proc/%s" % SUP)
st, _, out = http("GET", "/v1/partitions")
note("api-spec-supervisor-stays-up", alive and st == 200, "supervisor alive=%s, list %d" % (alive, st))

for c in ["api-spec-matches-routes", "api-spec-valid-requests-match", "api-spec-invalid-requests-4xx",
          "api-spec-supervisor-stays-up"]:
    if c not in results:
        print("not ok - %s: nothing was checked" % c)
    elif results[c]:
        print("ok - %s" % c)
    else:
        print("not ok - %s: %s" % (c, problems[c]))
