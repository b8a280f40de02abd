#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The cost of protected memory (docs/protect.md): the protect guest writes 8 MiB
# of its unprotected pages (one 8-byte store per 64-byte line) in a loop for
# BENCH_MS, in a partition without protected ranges and in one with 64
# protected pages in the same 8 MiB (the last page of every 128 KiB, which the
# writer leaves out in both runs: the same work). Runs alternate, PAIRS each;
# prints the median MiB/s of each, their spread (min-max), and the ratio.
# Target: ratio >= 0.95.
. "$(dirname "$0")/lib.sh"
[ -w /dev/kvm ] || { echo "skip: /dev/kvm is not available"; exit 0; }
PAIRS=${PAIRS:-5}
BENCH_MS=${BENCH_MS:-1000}
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
cmd="bench_ms=$BENCH_MS bench_base=0x1000000 bench_mib=8 bench_skip=0x20000"
{
	printf 'partitions:\n  - name: b\n    memory: 64M\n    kernel: %s\n    console: file:%s/out\n' \
		"$PWD/$G/protect.elf" "$D"
	printf '    cmdline: "%s"\n' "$cmd"
} >"$D/plain.yaml"
cp "$D/plain.yaml" "$D/prot.yaml"
{
	echo "    protect:"
	for i in $(seq 0 63); do
		printf '      - { start: 0x%x, size: 4K }\n' $((0x1000000 + i * 0x20000 + 0x1f000))
	done
} >>"$D/prot.yaml"
run() { # run NAME: one run's MiB/s
	rm -f "$D/out"
	timeout 60 "$LVMM" run "$D/$1.yaml" >/dev/null 2>&1 </dev/null
	sed -n 's/.*: \([0-9]*\) MiB\/s/\1/p' "$D/out"
}
plain=() prot=()
for _ in $(seq "$PAIRS"); do
	plain+=("$(run plain)")
	prot+=("$(run prot)")
done
med() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
rng() { printf '%s\n' "$@" | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "-" hi }'; }
mp=$(med "${plain[@]}"); mq=$(med "${prot[@]}")
printf '%-44s %10s %12s\n' "guest writes, MiB/s ($PAIRS alternating runs)" median spread
printf '%-44s %10s %12s\n' "no protected ranges" "$mp" "$(rng "${plain[@]}")"
printf '%-44s %10s %12s\n' "64 protected pages in the same 8 MiB" "$mq" "$(rng "${prot[@]}")"
r=$(ratio "$mq" "$mp")
echo "ratio protected/unprotected: $r"
awk -v r="$r" 'BEGIN { print (r != "n/a" && r >= 0.95 ? "target ratio >= 0.95: met" : "target ratio >= 0.95: MISSED") }'
