#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Scale: N = 1, 8, 32, 64 idle guests (ticker idle=1: prints one line, then
# halts), 64 MiB and 1 vCPU each: lvmm's partitions from one platform file
# against N QEMU microvm processes started together (bench/tools/scaletime.c
# says exactly what is measured). Per N: time until every guest's first
# console line, the supervisor's RSS, PSS per guest (process memory minus
# guest RAM), host CPU of all idle guests, the control API's latency on one
# guest while all run (lvmm: GET /v1/partitions/p1 and POST .../pause,
# .../resume over one kept-alive HTTP connection; QEMU: query-status and
# stop+cont over one QMP session), and teardown (one guest;
# then all). Goals: all started in <= 1/5 of QEMU's time, <= 1 MiB per
# partition, idle CPU not above QEMU's, teardown <= QEMU's.
# Writes $T/scale.dat for the plots (bench/report.sh).
. "$(dirname "$0")/lib.sh"
need_qemu
qemu_args 64
NS=${SCALE_NS:-1 8 32 64}
dat=$T/scale.dat
echo "# n lvmm_all_ms qemu_all_ms lvmm_pss_kib qemu_pss_kib lvmm_idle_pct qemu_idle_pct lvmm_pause_ms qemu_pause_ms lvmm_sup_rss_kib" >"$dat"

platform() { # N DIR
	local i
	{
		echo "control: $2/ctl.sock"
		echo "partitions:"
		for ((i = 1; i <= $1; i++)); do
			printf '  - name: p%d\n    kernel: %s\n    cmdline: "idle=1"\n    memory: 64M\n' \
				"$i" "$PWD/$G/ticker.elf"
		done
	} >"$2/scale.yaml"
}

header
for n in $NS; do
	d=$PWD/$T/scale.$n
	mkdir -p "$d"
	platform "$n" "$d"
	L=() Q=()
	for ((r = 0; r < RUNS; r++)); do
		rm -f "$d/ctl.sock" "$d"/qmp.*
		L+=("$(SETTLE_MS=1000 "$T/scaletime" lvmm "$n" "ticker: idle" "$d/ctl.sock" -- \
			"$LVMM" run "$d/scale.yaml" 2>/dev/null)")
		Q+=("$(SETTLE_MS=1000 "$T/scaletime" qemu "$n" "ticker: idle" "$d" -- \
			"${QEMU[@]}" -kernel "$G/ticker.elf" -append idle=1 2>/dev/null)")
	done
	col() { local k=$1; shift; local x; for x in "$@"; do kv "$k" "$x"; done; }
	record scale "N=$n all guests' first line (ms)" "$(col all_ms "${L[@]}")" "$(col all_ms "${Q[@]}")" "ratio<=0.2"
	record scale "N=$n memory per guest, all processes (PSS KiB)" "$(col pss_kib "${L[@]}")" "$(col pss_kib "${Q[@]}")" none
	record scale "N=$n memory per partition process (PSS KiB)" "$(col part_kib "${L[@]}")" "$(col part_kib "${Q[@]}")" "lvmm<=1024"
	record scale "N=$n supervisor RSS (KiB)" "$(col sup_rss_kib "${L[@]}")" "" none
	record scale "N=$n idle CPU, all guests (% of a CPU)" "$(col idle_pct "${L[@]}")" "$(col idle_pct "${Q[@]}")" "lvmm<=$(stats $(col idle_pct "${Q[@]}") | cut -d' ' -f1)"
	record scale "N=$n status latency (ms)" "$(col status_ms "${L[@]}")" "$(col status_ms "${Q[@]}")" none
	record scale "N=$n pause+resume latency (ms)" "$(col pause_ms "${L[@]}")" "$(col pause_ms "${Q[@]}")" none
	record scale "N=$n stop one guest (ms)" "$(col stop1_ms "${L[@]}")" "$(col stop1_ms "${Q[@]}")" "ratio<=1"
	# With one guest, stopping it ends the platform by itself: nothing is left to stop.
	[ "$n" -gt 1 ] &&
		record scale "N=$n stop all guests (ms)" "$(col stopall_ms "${L[@]}")" "$(col stopall_ms "${Q[@]}")" "ratio<=1"
	m() { stats $(col "$1" "${@:2}") | cut -d' ' -f1; }
	echo "$n $(m all_ms "${L[@]}") $(m all_ms "${Q[@]}") $(m pss_kib "${L[@]}") $(m pss_kib "${Q[@]}") \
$(m idle_pct "${L[@]}") $(m idle_pct "${Q[@]}") $(m pause_ms "${L[@]}") $(m pause_ms "${Q[@]}") \
$(m sup_rss_kib "${L[@]}")" >>"$dat"
done

# Growth: time to start all and the supervisor's memory, per guest, at the
# largest N against N=8 (N=1 is dominated by fixed costs). Linear growth is
# 1.0, better is below; the goal allows 20% for a shared host's noise.
first=$(awk '!/^#/ && $1 >= 8 { print; exit }' "$dat")
last=$(awk '!/^#/ { l = $0 } END { print l }' "$dat")
if [ -n "$first" ] && [ "${first%% *}" != "${last%% *}" ]; then
	read -r n0 la0 qa0 _ _ _ _ _ _ sr0 <<<"$first"
	read -r n1 la1 qa1 _ _ _ _ _ _ sr1 <<<"$last"
	per() { awk -v a="$1" -v n="$2" -v b="$3" -v m="$4" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", (b / m) / (a / n); }'; }
	record scale "growth N=$n1/N=$n0: start time per guest" "$(per "$la0" "$n0" "$la1" "$n1")" \
		"$(per "$qa0" "$n0" "$qa1" "$n1")" "lvmm<=1.2"
	record scale "growth N=$n1/N=$n0: supervisor RSS per partition" "$(per "$sr0" "$n0" "$sr1" "$n1")" "" "lvmm<=1.2"
fi
