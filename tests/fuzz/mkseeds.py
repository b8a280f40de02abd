#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write valid seed inputs for the fuzzers into tests/fuzz/corpus/<target>/.

Each encoder mirrors the input layout documented at the top of the harness
(tests/fuzz/fuzz_<target>.c). Seeds give the fuzzers well-formed requests to
mutate from; regression inputs found by fuzzing sit next to them."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
NEXT, WRITE, INDIRECT = 1, 2, 4


def desc(addr, ln, flags=0, nxt=0):
    return struct.pack('<QIHH', addr, ln, flags, nxt)


def table(descs, n):
    out = b''.join(descs)
    return out + b'\0' * (16 * n - len(out))


def ring(heads, n):
    return struct.pack('<%dH' % n, *(heads + [0] * (n - len(heads))))


def put(buf, off, data):
    buf[off:off + len(data)] = data


def write(target, name, data):
    d = os.path.join(HERE, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'seed-' + name), 'wb') as f:
        f.write(data)


def vq_seeds():
    q = 8
    flags = 0x03 | (3 << 2)  # indirect + event idx, qsize 8
    hdr = struct.pack('<BBHHI', flags, 16, 3, 0, 0)
    descs = [desc(0x1000, 16, NEXT, 1), desc(0x1100, 64, WRITE),
             desc(0x2000, 48, INDIRECT), desc(0x8000, 32, NEXT, 4),
             desc(0x8100, 8, WRITE)]
    heap = bytearray(0x1000 + 48)
    put(heap, 0x1000, desc(0x1200, 4, NEXT, 1) + desc(0x1300, 4, WRITE | NEXT, 2) +
        desc(0x8200, 4, WRITE))
    write('vq', 'chains', hdr + table(descs, q) + ring([0, 2, 3], q) + bytes(heap))


def blk_seeds():
    q = 16
    reqs = {'in': (0, 1, 512, WRITE), 'out': (1, 2, 1024, 0), 'flush': (4, 0, 0, 0),
            'getid': (8, 0, 20, WRITE)}
    for name, (typ, sector, ln, dflag) in reqs.items():
        descs = [desc(0x1000, 16, NEXT, 1)]
        if ln:
            descs += [desc(0x2000, ln, dflag | NEXT, 2), desc(0x3000, 1, WRITE)]
        else:
            descs += [desc(0x3000, 1, WRITE)]
        heap = bytearray(0x10)
        put(heap, 0, struct.pack('<IIQ', typ, 0, sector))
        write('blk', name, struct.pack('<BBH', 0, 0, 1) + table(descs, q) + ring([0], q) +
              bytes(heap))
    for name, typ in (('discard', 11), ('wzeroes', 13)):
        descs = [desc(0x1000, 16, NEXT, 1), desc(0x1010, 32, NEXT, 2), desc(0x3000, 1, WRITE)]
        heap = bytearray(0x30)
        put(heap, 0, struct.pack('<IIQ', typ, 0, 0))
        put(heap, 16, struct.pack('<QII', 8, 8, 0) + struct.pack('<QII', 40, 4, 1))
        write('blk', name, struct.pack('<BBH', 0, 0, 1) + table(descs, q) + ring([0], q) +
              bytes(heap))


def net_seeds():
    q = 16
    feat = (1 << 0) | (1 << 1) | (1 << 11) | (1 << 15) | (1 << 16)  # CSUM GUEST_CSUM HOST_TSO4 MRG STATUS
    frame = b'\xff' * 6 + b'\x02\0\0\0\0\x09' + b'\x88\xb5' + bytes(range(46))
    hdr = struct.pack('<BBHHHHH', 0, 0, 0, 0, 0, 0, 0)
    rxd = [desc(0x2000, 1024, WRITE), desc(0x3000, 1024, WRITE)]
    txd = [desc(0x4000, 12, NEXT, 1), desc(0x4100, len(frame))]
    heap = bytearray(0x3200)
    put(heap, 0x3000, hdr)
    put(heap, 0x3100, frame)
    rx = hdr + frame
    data = (struct.pack('<IHHB', feat, 2, 1, 1) + table(rxd, q) + ring([0, 1], q) +
            table(txd, q) + ring([0], q) + struct.pack('<I', len(rx)) + rx + bytes(heap))
    write('net', 'rxtx', data)
    gso = struct.pack('<BBHHHHH', 1, 1, 54, 1400, 34, 16, 0)  # NEEDS_CSUM + TSO4
    put(heap, 0x3000, gso)
    data = (struct.pack('<IHHB', feat, 2, 1, 0) + table(rxd, q) + ring([0, 1], q) +
            table(txd, q) + ring([0], q) + bytes(heap))
    write('net', 'tso', data)


def mmio_seeds():
    ops = bytearray()
    ops += bytes([7]) + struct.pack('<Q', 1 << 32) + bytes([3, 3])  # init, queues of 8
    ops += bytes([6]) + struct.pack('<HB', 0x1000, 32) + desc(0x8000, 4, NEXT, 1) + desc(0x8100, 8, WRITE)
    ops += bytes([6]) + struct.pack('<HB', 0x2002, 4) + struct.pack('<HH', 1, 0)
    ops += bytes([4, 0, 5])
    ops += bytes([1, 0x18, 0, 0x19]) + struct.pack('<I', 1)  # read InterruptStatus, ack
    ops += bytes([2 | (2 << 3), 4]) + struct.pack('<Q', 0)  # 4-byte config read
    ops += bytes([0, 0x1c]) + struct.pack('<I', 0)  # reset
    write('mmio', 'bringup', bytes(ops))


def link_seeds():
    # fuzz_link.c: [side] then ops; an honest exchange both ways, then a peer lying about prod.
    honest = bytes([0])
    for n in (60, 1514, 2040):
        honest += bytes([4]) + struct.pack('<H', n)            # the peer sends a frame
    honest += bytes([6]) + struct.pack('<H', 2048)              # we take it
    honest += bytes([6]) + struct.pack('<H', 100)               # too big for 100 bytes
    honest += bytes([7]) + struct.pack('<HH', 1000, 400)        # we send one
    honest += bytes([5]) + bytes([8]) + bytes([6]) + struct.pack('<H', 2048)
    write('link', 'honest', honest)
    liar = bytes([1]) + bytes([4]) + struct.pack('<H', 64)
    liar += bytes([1]) + struct.pack('<I', 0x1000)              # prod far ahead
    liar += bytes([6]) + struct.pack('<H', 2048)
    liar += bytes([3, 1]) + struct.pack('<I', 0xffffffff)       # slot length out of range
    liar += bytes([1]) + struct.pack('<I', 0x1002) + bytes([6]) + struct.pack('<H', 2048)
    liar += bytes([2]) + struct.pack('<I', 0x80000000)          # cons behind our prod
    liar += bytes([7]) + struct.pack('<HH', 60, 0)
    liar += bytes([0]) + struct.pack('<II', 1, 0) + bytes([8])  # broken magic, re-attach
    write('link', 'liar', liar)


def crb_seeds():
    # Linux's tpm_crb sequence (fuzz_crb.c's op encoding): request locality 0,
    # cmdReady, TPM2_GetRandom(16) into the buffer, START, the answer, goIdle,
    # relinquish; then a malformed command (size field past what was written).
    def w(off, val, ln=4):
        return bytes([0]) + struct.pack('<HBQ', off, {1: 0, 2: 1, 4: 2, 8: 3}[ln], val)
    cmd = bytes([0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7b, 0, 16])
    rsp = bytes([0x80, 0x01, 0, 0, 0, 16, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4])
    ops = w(0x08, 1) + bytes([1]) + struct.pack('<HB', 0x00, 2) + w(0x40, 1)
    ops += bytes([1]) + struct.pack('<HB', 0x58, 2)
    ops += bytes([2, len(cmd)]) + cmd + bytes([3])
    ops += bytes([1]) + struct.pack('<HB', 0x4c, 2)
    ops += bytes([4, 0]) + struct.pack('<H', len(rsp)) + rsp
    ops += bytes([1]) + struct.pack('<HB', 0x80, 3) + w(0x40, 2) + w(0x08, 2)
    write('crb', 'linux', ops)
    bad = bytearray(cmd)
    bad[5] = 40
    ops = w(0x08, 1) + bytes([2, len(bad)]) + bytes(bad) + bytes([3]) + bytes([3] * 8)
    ops += bytes([2, len(cmd)]) + cmd + bytes([5, 3, 3])
    write('crb', 'malformed', ops)
    ops = w(0x1008, 1) + w(0x2000 + 0x4c, 1) + bytes([2, len(cmd)]) + cmd + bytes([3])
    ops += bytes([4, 1]) + struct.pack('<H', len(rsp)) + rsp
    ops += bytes([4, 0]) + struct.pack('<H', 10) + rsp[:10]
    write('crb', 'localities', ops)


def manifest_seeds():
    h = ['%064x' % (0x1111 * (i + 1)) for i in range(3)]
    text = '%s  vmlinuz\n%s *initrd.img\n%s  @cmdline\n' % tuple(h)
    write('manifest', 'parse', bytes([0]) + text.encode())
    write('manifest', 'signed', bytes([1]) + text.encode())
    write('manifest', 'bad-line', bytes([0]) + (h[0] + ' vmlinuz\n').encode())
    pem = (b'-----BEGIN PUBLIC KEY-----\n'
           b'MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n'
           b'-----END PUBLIC KEY-----\n')
    write('manifest', 'key', bytes([2, 64]) + bytes(64) + pem)
    # A crypto-agile event log: Spec ID header and one SHA-256 event (PCR 17).
    spec = b'Spec ID Event03\0' + struct.pack('<IBBBBIHHB', 0, 0, 2, 0, 2, 1, 0xb, 32, 0)
    log = struct.pack('<II', 0, 3) + bytes(20) + struct.pack('<I', len(spec)) + spec
    ev = b'lvmm launch user'
    log += struct.pack('<IIIH', 17, 0xc, 1, 0xb) + bytes(range(32)) + struct.pack('<I', len(ev)) + ev
    write('manifest', 'eventlog', bytes([3]) + log)


if __name__ == '__main__':
    vq_seeds()
    blk_seeds()
    net_seeds()
    mmio_seeds()
    link_seeds()
    crb_seeds()
    manifest_seeds()
