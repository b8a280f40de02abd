# SPDX-License-Identifier: MIT
# Where exiting KVM processes slept in the kernel: reads `perf script` of
# `perf record -a -g -e sched:sched_switch` (bench/teardown.sh with
# TEARDOWN_PERF=1) and sums, per kernel call chain, the time from a task
# leaving the CPU in uninterruptible sleep inside do_exit() to it running
# again. The chain keeps only the frames that name the cause (kvm_*,
# exit_mmap, mmu_notifier_*, kthread_*, srcu_barrier); ms, largest first.
# -v comm=NAME: only processes called NAME (perf -a sees every VMM on the host).
/sched:sched_switch:/ {
	flush()
	t = $4; sub(":", "", t); t += 0
	match($0, /prev_pid=[0-9]+/); pp = substr($0, RSTART + 9, RLENGTH - 9)
	match($0, /next_pid=[0-9]+/); np = substr($0, RSTART + 9, RLENGTH - 9)
	if (np in out) { d = (t - out[np]) * 1000; if (sig[np] != "") tot[sig[np]] += d; delete out[np] }
	cur = pp; curt = t; st = $0 ~ /prev_state=D/ && (comm == "" || $1 == comm); frames = ""; grab = 1; next
}
/sched:/ { flush(); grab = 0; next }
grab && NF >= 2 { f = $2; sub(/\+0x.*/, "", f); frames = frames " " f; next }
END { flush(); for (s in tot) printf "%8.2f ms  %s\n", tot[s], s | "sort -rn" }
function flush(   n, a, i, s) {
	if (!grab || !st || frames !~ /do_exit/) { grab = 0; return }
	n = split(frames, a, " "); s = ""
	for (i = 1; i <= n; i++) if (a[i] ~ /^(kvm_|exit_mmap|mmu_notifier|kthread_|srcu_barrier|synchronize_rcu)/) { s = s (s ? "<" : "") a[i]; if (length(s) > 90) break }
	out[cur] = curt; sig[cur] = s; grab = 0
}
