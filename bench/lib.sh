# SPDX-License-Identifier: MIT
# Shared pieces of the benchmarks (sourced).
: "${BUILD:=build}" "${LVMM:=$BUILD/lvmm}"
G=$BUILD/guests
T=$BUILD/bench
RESULTS=${RESULTS:-$T/results.tsv}
# Runs per figure (alternating lvmm and QEMU); make bench QUICK=1 for 1.
RUNS=${RUNS:-3}
[ "${QUICK:-0}" = 1 ] && RUNS=1
mkdir -p "$T"
# Run alone (bash bench/NAME.sh), a benchmark still gets the tools `make bench` builds
# (without them a timing came out as 0.0).
for _t in bench/tools/*.c; do
	_t=$(basename "$_t" .c)
	[ -x "$T/$_t" ] || make -s --no-print-directory BUILD="$BUILD" "$T/$_t" >/dev/null ||
		{ echo "bench: cannot build $T/$_t" >&2; exit 1; }
done
# QEMU with the same guest: microvm, PVH boot, guest RAM as a memfd (shmem) like lvmm's.
# qemu_args MEM_MIB fills the array QEMU; run it as "${QEMU[@]}" ARGS...
qemu_args() {
	QEMU=(qemu-system-x86_64 -M microvm,memory-backend=mem,acpi=off
		-object "memory-backend-memfd,id=mem,size=${1}M" -m "$1" -accel kvm
		-cpu host,-arch-capabilities -nodefaults -no-user-config -display none
		-serial stdio -monitor none -device isa-debug-exit,iobase=0xf4,iosize=4
		-global virtio-mmio.force-legacy=false)
}
need_qemu() {
	command -v qemu-system-x86_64 >/dev/null || { echo "skip: qemu-system-x86_64 is not installed (make deps)"; exit 0; }
	[ -w /dev/kvm ] || { echo "skip: /dev/kvm is not available"; exit 0; }
}
# key=value from a result line
kv() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" <<<"$2" | head -1; }
# ratio LVMM QEMU [GOAL]: lvmm / QEMU, two decimals; more where two would print
# a ratio goal's own bound for a ratio that is not on it (1.498 against >=1.5
# is not "1.50 MISSED").
ratio() {
	awk -v a="$1" -v b="$2" -v g="${3:-}" 'BEGIN {
		if (!(b + 0 > 0 && a != "" && a != "n/a")) { print "n/a"; exit }
		r = a / b; x = ""
		if (g ~ /^ratio(<=|>=)/) { split(g, p, /<=|>=/); x = p[2] + 0 }
		for (d = 2; d < 6; d++) { s = sprintf("%.*f", d, r); if (x == "" || r == x || s + 0 != x) break }
		print s }'
}
# stats V...: "MEDIAN MIN MAX" of the numbers given (empty ones ignored), "n/a n/a n/a" if none.
stats() {
	printf '%s\n' "$@" | grep -E '^[0-9.]+$' | sort -g | awk '{ v[NR] = $1 }
		END { if (!NR) { print "n/a n/a n/a"; exit }
		      m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		      printf "%.10g %.10g %.10g\n", m, v[1], v[NR] }'
}
# goal_met GOAL LVMM QEMU: prints met / MISSED / "-" for
#   ratio<=X, ratio>=X (lvmm/QEMU), lvmm<=X, lvmm>=X, or none.
goal_met() {
	awk -v g="$1" -v l="$2" -v q="$3" 'BEGIN {
		if (g == "none" || g == "") { print "-"; exit }
		if (l == "n/a" || (g ~ /^ratio/ && (q == "n/a" || q + 0 == 0))) { print "n/a"; exit }
		r = g ~ /^ratio/ ? l / q : l
		split(g, p, /<=|>=/); x = p[2] + 0
		ok = g ~ /<=/ ? r <= x : r >= x
		print ok ? "met" : "MISSED" }'
}
# record BENCH FIGURE "LVMM VALUES" "QEMU VALUES" GOAL
# Prints one table row (median [min-max] of each side, the ratio of medians,
# the goal and whether it is met) and appends it to $RESULTS for the report.
record() {
	local bench=$1 fig=$2 goal=$5 l q ratio_ met
	read -r -a l <<<"$(stats $3)"
	read -r -a q <<<"$(stats $4)"
	ratio_=$(ratio "${l[0]}" "${q[0]}" "$goal")
	met=$(goal_met "$goal" "${l[0]}" "${q[0]}")
	printf '%-44s %10s [%s-%s] %10s [%s-%s] %6s  %-12s %s\n' "$fig" "${l[0]}" "${l[1]}" "${l[2]}" \
		"${q[0]}" "${q[1]}" "${q[2]}" "$ratio_" "$goal" "$met"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$bench" "$fig" "${l[0]}" "${l[1]}-${l[2]}" \
		"${q[0]}" "${q[1]}-${q[2]}" "$ratio_" "$goal" "$met" "$(echo $3 | wc -w)" >>"$RESULTS"
}
header() { printf '%-44s %10s %18s %6s  %s\n' "${1:-median [min-max] of $RUNS alternating runs}" lvmm qemu ratio goal; }
