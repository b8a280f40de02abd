/* SPDX-License-Identifier: MIT */
/*
 * Where the partition's set-up starts its threads (the I/O thread, the
 * vCPUs'): on the CPU of the set-up thread, which then waits until each has
 * done what the sandbox will forbid. A new thread the scheduler put on the
 * other, idle CPU waited for that CPU to wake up: 25-70 us on a nested
 * host, and 2-5 ms in about 1 start of 20, when the host's hypervisor had
 * descheduled that idle vCPU (perf's sched_wakeup_new over bench/startup.sh's
 * runs). A thread starts where its creator may run, so the set-up thread
 * narrows itself to its CPU while it starts them; each then widens itself
 * back to the process's affinity (or pins itself where the platform says
 * so), before the sandbox, which forbids both.
 */
#ifndef LVMM_THREAD_START_H
#define LVMM_THREAD_START_H

/* The calling thread: only its current CPU until thread_start_widen(); remembers its affinity. */
void thread_start_narrow(void);

/* The calling thread: the affinity thread_start_narrow() remembered (none: nothing). */
void thread_start_widen(void);

#endif
