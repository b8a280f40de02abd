# SPDX-License-Identifier: MIT
# Shared pieces of the benchmarks (sourced).
: "${BUILD:=build}" "${LVMM:=$BUILD/lvmm}"
G=$BUILD/guests
T=$BUILD/bench
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
kv() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2" | head -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
