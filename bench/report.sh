#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The benchmark report: one table of every figure the benchmarks recorded in
# $T/results.tsv (lvmm and QEMU as median [min-max] of alternating runs, the
# ratio of the medians, the goal, met or MISSED), with the host and its load,
# into $T/report.txt; PNG plots of the scale curves ($T/scale.dat) with
# gnuplot. Prints where they are.
. "$(dirname "$0")/lib.sh"
out=$T/report.txt
{
	echo "lvmm benchmark report, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "host: $(nproc) CPUs ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)), Linux $(uname -r)"
	echo "QEMU: $(qemu-system-x86_64 --version 2>/dev/null | head -1)"
	echo "load average before: ${LOAD_BEFORE:-?}; after: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "each figure: median [min-max] of ${RUNS} runs, lvmm and QEMU alternating; ratio = lvmm / QEMU medians"
	echo
	printf '%-10s %-52s %20s %20s %7s %-12s %s\n' bench figure lvmm qemu ratio goal result
	awk -F'\t' '{ printf "%-10s %-52s %9s [%-8s] %9s [%-8s] %7s %-12s %s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }' "$RESULTS"
	echo
	# "effect:" rows repeat a figure with one of lvmm's mechanisms off: whether the goal
	# would still hold without it, counted apart from the goals themselves.
	awk -F'\t' '$2 ~ /^effect:/ { if ($9 == "met") em++; else if ($9 == "MISSED") ex++; next }
		$9 == "met" { m++ } $9 == "MISSED" { x++ }
		END { printf "goals: %d met, %d missed", m, x
		      if (em + ex) printf " (effect rows, a mechanism off: %d would still meet theirs, %d not)", em, ex
		      printf "\n" }' "$RESULTS"
} >"$out"

plots=()
if [ -s "$T/scale.dat" ] && command -v gnuplot >/dev/null; then
	plot() { # FILE TITLE YLABEL LVMM_COL QEMU_COL [log]
		gnuplot <<GP 2>>"$T/gnuplot.log" && plots+=("$1")
set terminal png size 800,500
set output "$1"
set title "$2"
set xlabel "guests (partitions / QEMU processes), one platform"
set ylabel "$3"
set key top left
set grid
$( [ "${6:-}" = log ] && echo "set logscale y" )
plot "$T/scale.dat" using 1:$4 with linespoints title "lvmm", \
     "$T/scale.dat" using 1:$5 with linespoints title "QEMU microvm"
GP
	}
	plot "$T/scale-start.png" "time until every guest printed its first line" "ms" 2 3
	plot "$T/scale-memory.png" "memory per guest (PSS minus guest RAM)" "KiB" 4 5 log
	plot "$T/scale-idle-cpu.png" "host CPU of all idle guests" "% of one CPU" 6 7
	plot "$T/scale-pause.png" "pause + resume of one guest while all run" "ms" 8 9
fi
cat "$out"
echo
echo "report: $out"
for p in "${plots[@]}"; do echo "plot:   $p"; done
