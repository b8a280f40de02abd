/* SPDX-License-Identifier: MIT */
/*
 * The guest-visible platform of lvmm (x86-64): addresses, ports and IRQs.
 *
 * Shared by the VMM and the freestanding in-tree test guests, so it must
 * only use <stdint.h>-level C. docs/platform.md explains each item.
 */
#ifndef LVMM_GUEST_ABI_H
#define LVMM_GUEST_ABI_H

/* ---- Guest-physical memory map ---------------------------------------- */
#define LVMM_EBDA_START        0x0009fc00ULL /* MP table lives here        */
#define LVMM_LOWMEM_RAM_END    0x0009fc00ULL /* first e820 RAM range end   */
#define LVMM_HIMEM_START       0x00100000ULL /* second RAM range start     */
#define LVMM_MMIO_HOLE_START   0xc0000000ULL /* RAM below 4 GiB ends here  */
#define LVMM_MMIO_HOLE_END     0x100000000ULL
#define LVMM_HIGH_RAM_START    0x100000000ULL /* RAM beyond 3 GiB goes here */

/* Boot structures written by the loader (all below LVMM_EBDA_START). */
#define LVMM_BOOT_GDT          0x00000500ULL
#define LVMM_BOOT_START_INFO   0x00006000ULL /* PVH hvm_start_info          */
#define LVMM_BOOT_MEMMAP       0x00006800ULL /* PVH memory map entries      */
#define LVMM_BOOT_ZERO_PAGE    0x00007000ULL /* Linux boot_params           */
#define LVMM_BOOT_PAGE_TABLES  0x00009000ULL /* PML4, PDPT, 4 PDs (bzImage) */
#define LVMM_BOOT_CMDLINE      0x00020000ULL
#define LVMM_BOOT_CMDLINE_MAX  0x00010000ULL /* 64 KiB incl. NUL            */

/* ---- Interrupt controllers (KVM in-kernel) --------------------------- */
#define LVMM_IOAPIC_BASE       0xfec00000ULL
#define LVMM_LAPIC_BASE        0xfee00000ULL
#define LVMM_IOAPIC_PINS       24

/* ---- Legacy devices (port I/O) --------------------------------------- */
#define LVMM_PORT_COM1         0x3f8
#define LVMM_IRQ_COM1          4
#define LVMM_PORT_I8042_DATA   0x60
#define LVMM_PORT_I8042_CMD    0x64
#define LVMM_PORT_RTC_INDEX    0x70
#define LVMM_PORT_RTC_DATA     0x71
#define LVMM_IRQ_RTC           8
#define LVMM_PORT_RESET_CF9    0xcf9
/*
 * Debug-exit port: a 1-, 2- or 4-byte write of V ends the partition with
 * exit status V & 0xff. Same port as QEMU's "isa-debug-exit,iobase=0xf4",
 * so one guest image runs under both (QEMU exits with (V << 1) | 1).
 */
#define LVMM_PORT_DEBUG_EXIT   0xf4

/*
 * ACPI power management (hardware-reduced ACPI; docs/acpi.md,
 * src/devices/acpi_pm.c): the FADT's sleep control and status registers,
 * and the event register of the Generic Event Device (ACPI0013) whose
 * interrupt tells the guest a power-button press is pending.
 *   SLEEP_CTL (byte, write): SLP_TYP << 2 | SLP_EN; SLP_TYP 5 (the DSDT's
 *             \_S5) powers the partition off; SLP_TYP 3 (\_S3) puts it to
 *             sleep: its vCPUs stop and continue after the write on a wake.
 *   SLEEP_STS (byte): WAK_STS (bit 7), set by a wake from S3; writing 1
 *             clears it (an ACPI OS polls it after the sleep write).
 *   GED_EVENT (32-bit, read clears): pending events, bit 0 = power button.
 */
#define LVMM_PORT_ACPI_PM      0x600
#define LVMM_ACPI_PM_PORTS     8
#define LVMM_PORT_SLEEP_CTL    0x600
#define LVMM_PORT_SLEEP_STS    0x601
#define LVMM_PORT_GED_EVENT    0x604
#define LVMM_SLEEP_SLP_EN      0x20
#define LVMM_SLEEP_TYP_SHIFT   2
#define LVMM_SLEEP_TYP_MASK    0x1c
#define LVMM_SLP_TYP_S5        5
#define LVMM_SLP_TYP_S3        3
#define LVMM_SLEEP_WAK_STS     0x80
#define LVMM_GED_EV_POWER_BUTTON 0x1
#define LVMM_IRQ_GED           22 /* GSI (IOAPIC pin); edge, active high */

/*
 * Page lock (docs/protect.md): write the guest-physical address (two 32-bit
 * halves) and the size in bytes (page-aligned, one RAM range), then
 * LVMM_PROTECT_CMD_LOCK to CMD; read CMD for the status. One-way: only a
 * restart of the partition unlocks.
 */
#define LVMM_PORT_PROTECT       0x5a0
#define LVMM_PORT_PROTECT_LEN   16
#define LVMM_PROTECT_REG_ADDR_LO 0x0
#define LVMM_PROTECT_REG_ADDR_HI 0x4
#define LVMM_PROTECT_REG_SIZE    0x8
#define LVMM_PROTECT_REG_CMD     0xc
#define LVMM_PROTECT_CMD_LOCK    1
#define LVMM_PROTECT_OK          0 /* locked (or already protected) */
#define LVMM_PROTECT_EINVAL      1 /* not page-aligned, empty, or not inside one RAM range */
#define LVMM_PROTECT_ENOSPC      2 /* the partition already has LVMM_MAX_PROTECT (64) ranges */
#define LVMM_PROTECT_EBUSY       3 /* the partition is being paused: try again */
#define LVMM_PROTECT_EIO         4 /* the VMM failed; the partition ends */

/*
 * Watchdog (docs/protect.md): any write (1, 2 or 4 bytes) pets it; a 4-byte
 * read returns the configured timeout in ms (0: no watchdog configured).
 */
#define LVMM_PORT_WATCHDOG      0x5b0
#define LVMM_PORT_WATCHDOG_LEN  4

/* ---- virtio-mmio slots ----------------------------------------------- */
#define LVMM_VIRTIO_MMIO_BASE  0xd0000000ULL
#define LVMM_VIRTIO_MMIO_SIZE  0x1000ULL      /* one slot per device        */
#define LVMM_VIRTIO_MMIO_MAX   14
/* IRQ of slot i; ISA IRQs 0-4, 8 and 12 stay with the legacy devices. */
#define LVMM_VIRTIO_IRQS { 5, 6, 7, 9, 10, 11, 14, 15, 16, 17, 18, 19, 20, 21 }

/* ---- Other MMIO ------------------------------------------------------ */
#define LVMM_TPM_TIS_BASE      0xfed40000ULL
#define LVMM_TPM_TIS_SIZE      0x5000ULL

/*
 * TPM 2.0 CRB (TCG PC Client Platform TPM Profile): one 4 KiB page per
 * locality 0-4 at the TIS address; lvmm grants locality 0 only. In each
 * page: registers 0x00-0x7f, then the command/response data buffer.
 * ACPI: TPM2 table (start method 7) + MSFT0101 device (docs/acpi.md).
 */
#define LVMM_TPM_CRB_BASE      0xfed40000ULL
#define LVMM_TPM_CRB_SIZE      0x5000ULL
#define LVMM_TPM_CRB_CTRL      0xfed40040ULL /* control area: CTRL_REQ ... CTRL_RSP_ADDR */
#define LVMM_TPM_CRB_DATA      0xfed40080ULL /* data buffer */
#define LVMM_TPM_CRB_DATA_SIZE 0xf80ULL      /* = LVMM_TPM_BUF_MAX */
/*
 * The TPM event log (TCG crypto-agile format), written by lvmm before the
 * first instruction and announced by the TPM2 table's LASA/LAML: the top of
 * the reserved BIOS area, which the e820 map already marks reserved.
 */
#define LVMM_TPM_EVENTLOG_BASE 0x000f0000ULL
#define LVMM_TPM_EVENTLOG_SIZE 0x00010000ULL

#endif /* LVMM_GUEST_ABI_H */
