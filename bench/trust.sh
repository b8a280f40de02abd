#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Trusted boot's cost at start-up (issue 8 item 7): time from `lvmm run` to the
# guest's first console byte for a 10 MiB kernel + 30 MiB initrd, with
# verification (signed manifest, Ed25519) and measurement (vTPM: a trust
# process and its swtpm, PCRs 17-21, event log) against the same start-up
# without them. Both load the images from sealed memfds; the trusted one also
# hashes them once, in one pass over those memfds, while they are filled, and
# its partition is forked gated: it builds its VM and loads the images while
# verification and measurement finish, and waits only for the verdict (run
# with -v -v: "waited N us at the gate"). Runs alternate (A B A B ...) so that
# load on this shared host hits both alike; median and spread (min-max) of
# each. Target: ratio <= 1.2. On a host shared with other work, `chrt -f 10
# bash bench/trust.sh` keeps that work from preempting the runs
# (docs/trust.md, "Cost at start-up").
. "$(dirname "$0")/lib.sh"
[ -w /dev/kvm ] || { echo "skip: /dev/kvm is not available"; exit 0; }
N=${N:-15}
W=$(mktemp -d "${TMPDIR:-/tmp}/lvmm-bench-trust.XXXXXX")
trap 'rm -rf "$W"' EXIT

# The test guest padded to 10 MiB (the loader reads its program headers; the rest is data),
# an initrd of 30 MiB of random bytes.
cp "$G/hello.elf" "$W/vmlinuz"
truncate -s 10M "$W/vmlinuz"
head -c 30M /dev/urandom >"$W/initrd.img"
CMDLINE="console=ttyS0 quiet"
(cd "$W" && openssl genpkey -algorithm ed25519 -out it.pem 2>/dev/null &&
	openssl pkey -in it.pem -pubout -out it-pub.pem &&
	{ sha256sum vmlinuz initrd.img
	  printf '%s  @cmdline\n' "$(printf %s "$CMDLINE" | sha256sum | cut -d' ' -f1)"; } >user.manifest &&
	openssl pkeyutl -sign -rawin -inkey it.pem -in user.manifest -out user.manifest.sig) ||
	{ echo "bench/trust: cannot sign the boot set"; exit 1; }
for v in plain trusted; do
	{
		echo "partitions:"
		echo "  - name: user"
		echo "    kernel: $W/vmlinuz"
		echo "    initrd: $W/initrd.img"
		echo "    cmdline: \"$CMDLINE\""
		echo "    memory: 128M"
		if [ $v = trusted ]; then
			echo "    verify: { manifest: $W/user.manifest, signature: $W/user.manifest.sig, key: $W/it-pub.pem }"
			echo "    devices: [ { type: tpm, state: $W/vtpm } ]"
		fi
	} >"$W/$v.yaml"
done
what="trust process, swtpm, 40 MiB hashed"
"$LVMM" -q run "$W/trusted.yaml" </dev/null >"$W/warm.out" 2>&1 # the vTPM's first start makes its seeds
if grep -q "type 5 is not supported by this build" "$W/warm.out"; then
	# A build whose partition has no TPM device yet: verification only, and say so.
	sed -i '/type: tpm/d' "$W/trusted.yaml"
	what="verification only: this build has no TPM device"
	"$LVMM" -q run "$W/trusted.yaml" </dev/null >"$W/warm.out" 2>&1
fi
grep -q "hello from lvmm guest" "$W/warm.out" || { echo "bench/trust: the trusted start failed:"; tail -5 "$W/warm.out"; exit 1; }

: >"$W/plain.ms"; : >"$W/trusted.ms"
for _ in $(seq "$N"); do
	for v in plain trusted; do
		r=$("$T/vmmtime" 1 -- "$LVMM" -q run "$W/$v.yaml")
		kv first_byte_ms "$r" >>"$W/$v.ms"
	done
done
# median min max of a file of numbers
stats() { sort -n "$1" | awk '{ v[NR] = $1 } END { printf "%.1f %.1f %.1f", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[1], v[NR] }'; }
read -r pm pmin pmax <<<"$(stats "$W/plain.ms")"
read -r tm tmin tmax <<<"$(stats "$W/trusted.ms")"
printf '%-46s %10s %14s\n' "start to first console byte, $N runs each (ms)" median "spread"
printf '%-46s %10s %14s\n' "without verification and measurement" "$pm" "$pmin-$pmax"
printf '%-46s %10s %14s\n' "with them" "$tm" "$tmin-$tmax"
echo "  (with them: $what)"
r=$(ratio "$tm" "$pm")
printf '%-46s %10s\n' "ratio" "$r"
awk -v r="$r" 'BEGIN { print (r <= 1.2 ? "target <= 1.2x: met" : "target <= 1.2x: MISSED") }'
echo "host load: $(cut -d' ' -f1-3 /proc/loadavg)"
