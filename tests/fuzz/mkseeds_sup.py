#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write seed inputs for the supervisor's fuzzers (proto, ctl) and the API front-end's (api) into
tests/fuzz/corpus/<target>/, following the input layouts documented at the
top of tests/fuzz/fuzz_proto.c, fuzz_ctl.c and fuzz_api.c."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
MAGIC, VERSION = 0x4c564d4d, 1
READY, EVENT, EXIT, CTL_REPLY = 2, 3, 4, 6
NAME = 32


def write(target, name, data):
    d = os.path.join(HERE, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'seed-' + name), 'wb') as f:
        f.write(data)


def name(s):
    return s.encode() + b'\0' * (NAME - len(s))


def msg(mtype, payload, nfds=0):
    return struct.pack('<IHHII', MAGIC, VERSION, mtype, len(payload), nfds) + payload


def proto_seeds():
    event = struct.pack('<II', 1, 0) + name('blk0') + struct.pack('<QQQ', 0x1000, 512, 1)
    exit_ = (struct.pack('<IiII', 3, 0, 0, 0) + struct.pack('<Q', 0xfff0) + bytes(16) +
             struct.pack('<IIQ', 2, 0, 0) + b'triple fault'.ljust(128, b'\0'))
    dev = name('net0') + struct.pack('<10QII', *range(10), 1, 0)
    reply = (struct.pack('<IIiI', 6, 7, 0, 1) + struct.pack('<6Q', 1, 2, 3, 4, 5, 6) +
             struct.pack('<II', 1, 0) + dev + bytes(len(dev) * 11))
    write('proto', 'ready', b'\0' + msg(READY, b''))
    write('proto', 'event', b'\0' + msg(EVENT, event))
    write('proto', 'exit', b'\0' + msg(EXIT, exit_))
    write('proto', 'reply', b'\0' + msg(CTL_REPLY, reply))
    write('proto', 'ready-with-fds', b'\2' + msg(READY, b'', 2))


# struct lvmm_api_req (include/lvmm/ctl_proto.h): id, op, flags, arg_len,
# target[32], request_id[64], num[2], arg[64]
OPS = {'list': 1, 'status': 2, 'pause': 3, 'resume': 4, 'stop': 5, 'start': 6, 'restart': 7,
       'link-down': 8, 'link-up': 9, 'isolate': 10, 'policy-load': 11, 'acm': 12, 'help': 13,
       'events': 14}


def req(op, target='', rid='seed'):
    return (struct.pack('<IIII', 0, OPS[op], 0, 0) + target.encode().ljust(32, b'\0') +
            rid.encode().ljust(64, b'\0') + bytes(16) + bytes(64))


def ctl_seeds():
    # flags: bit 0 agent, bit 1 partitions answer, bit 2 payload, bit 3 seal it, bit 4 extra fd
    host, agent = 2, 3
    write('ctl', 'list', bytes([host]) + req('list'))
    write('ctl', 'pause', bytes([host]) + req('pause', 'a'))
    write('ctl', 'status-unanswered', bytes([0]) + req('status', 'b'))
    write('ctl', 'link', b''.join(bytes([agent]) + req(o, t) for o, t in
                                  [('link-down', 'l0'), ('link-down', 'l0'), ('link-up', 'l0'),
                                   ('isolate', 'a')]))
    write('ctl', 'agent-many', b''.join(bytes([agent]) + req(o, t) for o, t in
                                        [('help', ''), ('acm', ''), ('resume', 'a'), ('stop', 'b'),
                                         ('list', ''), ('events', '')]))
    pol = b'name: p2\nste_types: [t]\nlabels:\n  - { name: l, ste: [t] }\n'
    write('ctl', 'policy-load', bytes([host | 4 | 8]) + req('policy-load') +
          struct.pack('<H', len(pol)) + pol)
    write('ctl', 'policy-unsealed', bytes([host | 4]) + req('policy-load') +
          struct.pack('<H', len(pol)) + pol)
    write('ctl', 'bad-fields', bytes([host | 16]) + req('list') + bytes([host]) +
          req('pause', 'nosuch', 'bad id'))


def api_seeds():
    # byte 0: 0 route (method byte, path), 1 agent line, 2 reply, 3 events
    write('api', 'route-pause', bytes([0, 1]) + b'/v1/partitions/a/pause')
    write('api', 'route-405', bytes([0, 3]) + b'/v1/partitions/a')
    write('api', 'route-long', bytes([0, 0]) + b'/v1/partitions/' + b'x' * 40)
    write('api', 'line-status', bytes([1]) + b'status a')
    write('api', 'line-policy', bytes([1]) + b'policy-load 99')
    write('api', 'line-bad', bytes([1]) + b'frobnicate x y z w')
    rep = struct.pack('<IIiI', 1, 3, 0, 2) + bytes(256) + b'a'.ljust(32, b'\0') + \
        b'paused'.ljust(16, b'\0') + bytes(16) + bytes(6 * 8 + 8 + 12 * 128)
    write('api', 'reply-part', bytes([2]) + rep)
    write('api', 'events', bytes([3]) + bytes([1, 8, 0, 4, 3, 16, 5, 2, 2, 1, 9, 40, 0, 0, 2, 1]))


if __name__ == '__main__':
    proto_seeds()
    ctl_seeds()
    api_seeds()
