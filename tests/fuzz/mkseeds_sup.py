#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write seed inputs for the supervisor's fuzzers (proto, ctl, trustmsg) and the API front-end's
(api) into tests/fuzz/corpus/<target>/, following the input layouts documented at the
top of tests/fuzz/fuzz_proto.c, fuzz_ctl.c, fuzz_trustmsg.c and fuzz_api.c."""
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
    # flags: bit 0 agent, bit 1 partitions answer, bit 2 payload, bit 3 compile and seal it,
    # bit 4 extra fd, bit 5 (with 3) patches (3-byte offset, value) over a compiled policy
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
    # struct lvmm_policy_upload: the policy at 2056; its revision first. Unpatched: accepted.
    write('ctl', 'policy-patched', bytes([host | 4 | 8 | 32]) + req('policy-load') +
          struct.pack('<H', 4) + struct.pack('<I', 2056)[:3] + bytes([9]) +
          bytes([host | 4 | 8 | 32]) + req('policy-load') + struct.pack('<H', 0))
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


def trustmsg_seeds():
    # include/lvmm/trust_proto.h: BOOT_DONE 11120 bytes (4 events of 8 fields), ATTEST_DONE 328 bytes.
    BOOT_DONE, ATTEST_DONE = 11, 13
    d1 = b'9e76cfd6ee38163050fbc5a8f2f3fcedce00932ba11a61976b121c8509b0e08a'
    d2 = b'73a29fc4469e4d9be8f9983a564ea59d1f10098103beb3a0b157bc4d04d14052'
    # enum lvmm_trust_key: image file expected actual reason action failed key kernel initrd
    # cmdline log_events log_bytes
    IMAGE, FILE, EXP, ACT, REASON, ACTION, FAILED, KEY, KERNEL, INITRD, CMDLINE, LOGEV, LOGB = range(13)

    def event(kind, fields):
        p = struct.pack('<II', kind, len(fields))
        for key, val in fields:
            num, sval = (val, b'') if isinstance(val, int) else (0, val)
            p += struct.pack('<IIQ', key, 0, num) + sval.ljust(320, b'\0')
        return p + bytes((8 - len(fields)) * 336)

    def boot_done(verdict, events, reason=b''):
        p = struct.pack('<IIII', 1, verdict, len(events), 0)
        p += b''.join(events) + bytes((4 - len(events)) * 2696) + reason.ljust(320, b'\0')
        assert len(p) == 11120
        return p

    def failed(image, f, action):
        return event(0, [(IMAGE, image), (FILE, f), (EXP, d1), (ACT, d2),
                         (REASON, b"the SHA-256 of '" + f + b"' differs from the manifest's (line 1)"),
                         (ACTION, action)])

    def booted(image, measured):
        return event(3 if measured else 2, [(IMAGE, image), (KEY, d1), (KERNEL, d2), (CMDLINE, d1)] +
                     ([(LOGEV, 6), (LOGB, 700)] if measured else []))

    why = b'verification failed: the SHA-256 differs'
    write('trustmsg', 'ok-measured', b'\0' + msg(BOOT_DONE, boot_done(1, [booted(b'primary', True)])))
    write('trustmsg', 'ok-verified', b'\0' + msg(BOOT_DONE, boot_done(1, [booted(b'primary', False)])))
    write('trustmsg', 'refused', b'\0' + msg(BOOT_DONE, boot_done(2, [failed(b'primary', b'vmlinuz', b'refuse')], why)))
    write('trustmsg', 'safe', b'\0' + msg(BOOT_DONE, boot_done(3, [
        failed(b'primary', b'vmlinuz', b'safe_image'), event(1, [(FAILED, b'vmlinuz')]), booted(b'safe_image', True)])))
    write('trustmsg', 'safe-failed', b'\0' + msg(BOOT_DONE, boot_done(4, [
        failed(b'primary', b'vmlinuz', b'safe_image'), failed(b'safe_image', b'signature', b'refuse')], why)))
    write('trustmsg', 'error', b'\0' + msg(BOOT_DONE, boot_done(5, [], b'trust process: vTPM: swtpm CMD_INIT')))
    write('trustmsg', 'with-fd', b'\2' + msg(BOOT_DONE, boot_done(1, [booted(b'primary', True)]), 1))
    # Success carries the answer's sealed memfd (kind 2), a failure only its reason.
    att = struct.pack('<Ii', 2, 0) + bytes(320)
    assert len(att) == 328
    write('trustmsg', 'attest', b'\2' + msg(ATTEST_DONE, att, 1))
    err = struct.pack('<Ii', 2, -5) + b'TPM2_Quote: TPM error'.ljust(320, b'\0')
    write('trustmsg', 'attest-error', b'\0' + msg(ATTEST_DONE, err))

if __name__ == '__main__':
    proto_seeds()
    ctl_seeds()
    api_seeds()
    trustmsg_seeds()
