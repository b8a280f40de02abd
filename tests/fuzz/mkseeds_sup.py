#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write seed inputs for the supervisor's fuzzers (proto, ctl) into
tests/fuzz/corpus/<target>/, following the input layouts documented at the
top of tests/fuzz/fuzz_proto.c and tests/fuzz/fuzz_ctl.c."""
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


def ctl_seeds():
    # flags: bit 0 agent, bit 1 EOF at the end, bits 2-7 chunk size - 1
    host_eof, agent_eof = 2 | (63 << 2), 3 | (63 << 2)
    write('ctl', 'list', bytes([host_eof]) + b'list\n')
    write('ctl', 'pause', bytes([host_eof]) + b'pause a\n')
    write('ctl', 'status-split', bytes([2 | (2 << 2)]) + b'status b\n')
    write('ctl', 'link', bytes([agent_eof]) + b'link-down l0\nlink-down l0\nlink-up l0\nisolate a\n')
    write('ctl', 'agent-many', bytes([agent_eof]) + b'help\nacm\nresume a\nstop b\nlist\n')
    pol = b'name: p2\nste_types: [t]\nlabels:\n  - { name: l, ste: [t] }\n'
    write('ctl', 'policy-load', bytes([host_eof]) + b'policy-load %d\n' % len(pol) + pol)
    write('ctl', 'no-newline', bytes([2]) + b'acm')
    write('ctl', 'overlong', bytes([agent_eof]) + b'x' * 1100 + b'\nlist\n')


if __name__ == '__main__':
    proto_seeds()
    ctl_seeds()
