#!/usr/bin/env bash
# build-image.sh - build a Linux guest (kernel + initramfs) for lvmm from Debian packages.
#
# Everything comes from Debian's apt mirrors through `apt-get download` with a
# private apt state under OUTDIR: nothing is installed on the host, no dpkg
# database is touched, and the script runs as root or as a normal user.
# See docs/linux-guests.md.
set -euo pipefail

PROG=${0##*/}
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)

# Modules the guest needs for virtio on virtio-mmio (dependencies are added
# automatically), plus the bridge for lvmm.role=service.
DEFAULT_MODULES="virtio virtio_ring virtio_mmio virtio_blk virtio_net virtio_console bridge"

usage() {
    cat <<EOF
Usage: $PROG [OPTIONS] [OUTDIR]

Build a Linux guest for lvmm from Debian packages:
  OUTDIR/bzImage      Debian's kernel (linux-image-FLAVOUR, default cloud-amd64)
  OUTDIR/initrd.img   gzip'd newc initramfs: busybox-static, /init, virtio modules
  OUTDIR/vmlinux      the uncompressed kernel ELF from the bzImage (PVH entry)

OUTDIR defaults to build/linux in the repository ($REPO_ROOT/build/linux).
Downloaded packages are cached in OUTDIR/debs/; a rerun uses the cache and does
not touch the network. Only Debian's apt mirrors (the host's apt sources) are
contacted; nothing is installed on the host.

Options:
  --flavour NAME     kernel flavour: the meta package is linux-image-NAME
                     (default: cloud-amd64; "amd64" is Debian's generic kernel)
  --modules "M ..."  extra kernel modules to put in the initramfs and load at
                     boot (dependencies are resolved automatically)
  --overlay DIR      copy DIR's contents into the initramfs root (e.g. role
                     hooks in DIR/etc/lvmm/role.d/ROLE/)
  --no-vmlinux       do not unpack OUTDIR/vmlinux from the bzImage
  --refresh          forget the cached kernel meta package and apt lists, so
                     the newest kernel on the mirror is picked up
  -h, --help         show this help

Guest kernel command line (see docs/linux-guests.md):
  lvmm.role=shell|poweroff|service|user   what /init runs (default: shell)
  lvmm.ip=ADDR/PREFIX  lvmm.gw=ADDR  lvmm.dev=IFACE     (role user)
  lvmm.bridge="eth0 eth1"  lvmm.ip=ADDR/PREFIX          (role service)
  lvmm.exit_port=0xf4  lvmm.exit_code=N                 (role poweroff)
EOF
}

log() { printf '%s: %s\n' "$PROG" "$*"; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
trap 'die "command failed (line $LINENO): $BASH_COMMAND"' ERR

FLAVOUR=cloud-amd64
EXTRA_MODULES=""
OVERLAY=""
REFRESH=0
VMLINUX=1
OUTDIR=""
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --flavour) [ $# -ge 2 ] || die "--flavour needs a value"; FLAVOUR=$2; shift 2 ;;
        --flavour=*) FLAVOUR=${1#*=}; shift ;;
        --modules) [ $# -ge 2 ] || die "--modules needs a value"; EXTRA_MODULES=$2; shift 2 ;;
        --modules=*) EXTRA_MODULES=${1#*=}; shift ;;
        --overlay) [ $# -ge 2 ] || die "--overlay needs a directory"; OVERLAY=$2; shift 2 ;;
        --overlay=*) OVERLAY=${1#*=}; shift ;;
        --refresh) REFRESH=1; shift ;;
        --no-vmlinux) VMLINUX=0; shift ;;
        --) shift; break ;;
        -*) die "unknown option '$1' (try --help)" ;;
        *) [ -z "$OUTDIR" ] || die "only one OUTDIR may be given (got '$OUTDIR' and '$1')"
           OUTDIR=$1; shift ;;
    esac
done
if [ $# -gt 0 ]; then
    if [ -n "$OUTDIR" ] || [ $# -gt 1 ]; then die "only one OUTDIR may be given"; fi
    OUTDIR=$1
fi
[ -n "$OUTDIR" ] || OUTDIR=$REPO_ROOT/build/linux
[ -z "$OVERLAY" ] || [ -d "$OVERLAY" ] || die "--overlay: '$OVERLAY' is not a directory"
case "$FLAVOUR" in
    *[!a-z0-9.+-]*|"") die "--flavour: '$FLAVOUR' is not a valid package name suffix" ;;
esac

for tool in apt-get dpkg-deb gzip find sort sed tr; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' is required (a Debian system with apt is assumed)"
done

mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
DEBS=$OUTDIR/debs
WORK=$OUTDIR/work
APTDIR=$OUTDIR/apt
mkdir -p "$DEBS" "$WORK" "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial"

# One build per OUTDIR at a time.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$OUTDIR/.lock"
    flock -n 9 || die "another $PROG is already building in $OUTDIR"
fi

START=$(date +%s)
log "output directory: $OUTDIR"

# ---------------------------------------------------------------- apt helpers
# A private apt state (lists and package cache under OUTDIR) with the host's
# sources: no root needed, the host's apt state is left alone.
APT_OPTS=(-q -o "Dir::State::Lists=$APTDIR/lists" -o "Dir::Cache=$APTDIR/cache")
# As root apt drops to the _apt user, which cannot write into OUTDIR.
[ "$(id -u)" -ne 0 ] || APT_OPTS+=(-o "APT::Sandbox::User=root")
APT_LOG=$WORK/apt.log
LISTS_FRESH=0

if [ "$REFRESH" -eq 1 ]; then
    log "refresh: dropping cached meta package and apt lists"
    rm -f "$DEBS"/linux-image-"$FLAVOUR"_*.deb
    find "$APTDIR/lists" -maxdepth 1 -type f -delete
fi

apt_update() {
    [ "$LISTS_FRESH" -eq 0 ] || return 0
    log "apt: updating package lists (private, $APTDIR)"
    if ! apt-get "${APT_OPTS[@]}" -o APT::Update::Error-Mode=any update >"$APT_LOG" 2>&1 ||
       ! ls "$APTDIR"/lists/*_Packages* >/dev/null 2>&1; then
        sed 's/^/    /' "$APT_LOG" | tail -n 8 >&2
        die "cannot update package lists from the Debian mirror (no network to the mirror?)"
    fi
    LISTS_FRESH=1
}

have_lists() { ls "$APTDIR"/lists/*_Packages* >/dev/null 2>&1; }

# cached_deb NAME [VERSION]: set DEB to the cached .deb of NAME (at VERSION
# if given); fail when there is none.
cached_deb() {
    local f
    for f in "$DEBS/$1"_*.deb; do
        [ -f "$f" ] || continue
        if [ -z "${2:-}" ] || [ "$(dpkg-deb -f "$f" Version)" = "$2" ]; then
            DEB=$f
            return 0
        fi
    done
    return 1
}

# apt_download SPEC DIR: apt-get download SPEC into DIR.
apt_download() {
    (cd "$2" && apt-get "${APT_OPTS[@]}" download "$1") >"$APT_LOG" 2>&1
}

# fetch_deb NAME [VERSION]: set DEB to NAME's .deb, downloading it into the
# cache when it is not there yet; fail (with the reason) when it cannot.
fetch_deb() {
    local name=$1 ver=${2:-} spec=$1 tmp f
    if cached_deb "$name" "$ver"; then
        log "cached: ${DEB##*/}"
        return 0
    fi
    [ -z "$ver" ] || spec="$name=$ver"
    have_lists || apt_update
    tmp=$(mktemp -d "$DEBS/.download.XXXXXX") || return 1
    log "apt: downloading $spec"
    # The lists may be stale (the mirror moved on): update once and retry.
    if ! apt_download "$spec" "$tmp" && [ "$LISTS_FRESH" -eq 0 ]; then
        apt_update
        apt_download "$spec" "$tmp" || true
    fi
    f=$(find "$tmp" -maxdepth 1 -name '*.deb' | head -n 1)
    if [ -z "$f" ]; then
        sed 's/^/    /' "$APT_LOG" | tail -n 8 >&2
        rm -rf "$tmp"
        printf '%s: cannot download %s from the Debian mirror\n' "$PROG" "$spec" >&2
        return 1
    fi
    mv "$f" "$DEBS/" || return 1
    rm -rf "$tmp"
    DEB=$DEBS/${f##*/}
}

# extract_deb DEB DIR: unpack DEB into DIR unless DIR already holds it.
extract_deb() {
    local deb=$1 dir=$2
    if [ -f "$dir/.from" ] && [ "$(cat "$dir/.from")" = "${deb##*/}" ]; then
        return 0
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    dpkg-deb -x "$deb" "$dir"
    printf '%s\n' "${deb##*/}" >"$dir/.from"
}

# ---------------------------------------------------------------- kernel
fetch_deb "linux-image-$FLAVOUR" || die "cannot get the kernel meta package linux-image-$FLAVOUR"
META=$DEB
DEP=$(dpkg-deb -f "$META" Depends | tr ',' '\n' | sed -n 's/^ *\(linux-image-[0-9][^ ]*\) *(= *\([^)]*\)).*/\1 \2/p' | head -n 1)
[ -n "$DEP" ] || die "cannot find the kernel package in the Depends of ${META##*/}: $(dpkg-deb -f "$META" Depends)"
KPKG=${DEP% *}
KPKG_VER=${DEP#* }
fetch_deb "$KPKG" "$KPKG_VER" || die "cannot get the kernel package $KPKG $KPKG_VER"
KDEB=$DEB
log "kernel package: $KPKG $KPKG_VER"
extract_deb "$KDEB" "$WORK/kernel"

VMLINUZ=$(find "$WORK/kernel/boot" -maxdepth 1 -name 'vmlinuz-*' | head -n 1)
[ -n "$VMLINUZ" ] || die "no /boot/vmlinuz-* in ${KDEB##*/}"
KVER=${VMLINUZ##*/vmlinuz-}
KMOD=$WORK/kernel/lib/modules/$KVER
[ -d "$KMOD" ] || die "no /lib/modules/$KVER in ${KDEB##*/}"
cp "$VMLINUZ" "$OUTDIR/.bzImage.tmp"
mv "$OUTDIR/.bzImage.tmp" "$OUTDIR/bzImage"

# vmlinux: the uncompressed kernel ELF inside the bzImage. Debian's kernels
# carry a PVH entry note, so lvmm (and QEMU) can boot it directly and skip
# the decompressor, which takes minutes where guest CPL0 code is emulated.
# (The kernel's scripts/extract-vmlinux, from the boot header's payload fields.)
u32_at() { od -An -tu4 -j "$(($2))" -N 4 "$1" | tr -d ' '; }
u8_at() { od -An -tu1 -j "$(($2))" -N 1 "$1" | tr -d ' '; }
extract_vmlinux() {
    local bz=$1 out=$2 setup off len magic tool strip=4
    [ "$(od -An -c -j 0x202 -N 4 "$bz" | tr -d ' ')" = HdrS ] || { log "warning: ${bz##*/} has no boot header"; return 1; }
    setup=$(u8_at "$bz" 0x1f1)
    [ "$setup" -ne 0 ] || setup=4
    off=$(( (setup + 1) * 512 + $(u32_at "$bz" 0x248) ))
    len=$(u32_at "$bz" 0x24c)
    magic=$(od -An -tx1 -j "$off" -N 6 "$bz" | tr -d ' \n')
    case "$magic" in
        1f8b*) tool="gzip -dc"; strip=0 ;;   # the gzip trailer holds the size
        fd377a585a00) tool="xz -dc" ;;
        28b52ffd*) tool="zstd -qdc" ;;
        02214c18*) tool="lz4 -dc" ;;
        5d00*) tool="xz -dc --format=lzma" ;;
        425a68*) tool="bzip2 -dc" ;;
        894c5a*) tool="lzop -dc" ;;
        *) log "warning: unknown kernel payload compression (magic $magic)"; return 1 ;;
    esac
    command -v "${tool%% *}" >/dev/null 2>&1 || { log "warning: '${tool%% *}' not found, cannot unpack the kernel"; return 1; }
    # The kernel build appends the uncompressed size (4 bytes) to the stream.
    dd if="$bz" bs=64K iflag=skip_bytes,count_bytes skip="$off" count=$((len - strip)) status=none |
        $tool >"$out.tmp" 2>"$WORK/vmlinux.log" || { log "warning: ${tool%% *} failed (see $WORK/vmlinux.log)"; return 1; }
    [ "$(od -An -c -N 4 "$out.tmp" | tr -d ' ')" = '177ELF' ] || { log "warning: the unpacked kernel is not an ELF file"; return 1; }
    mv "$out.tmp" "$out"
}
if [ "$VMLINUX" -eq 1 ]; then
    if extract_vmlinux "$OUTDIR/bzImage" "$OUTDIR/vmlinux"; then
        if command -v readelf >/dev/null 2>&1 && ! readelf -n "$OUTDIR/vmlinux" | grep -q 'Unknown note type: (0x00000012)'; then
            log "warning: $OUTDIR/vmlinux has no PVH entry note (only the bzImage can boot)"
        fi
    else
        rm -f "$OUTDIR/vmlinux.tmp" "$OUTDIR/vmlinux"
        log "warning: no vmlinux (only the bzImage)"
    fi
else
    rm -f "$OUTDIR/vmlinux"
fi

# ---------------------------------------------------------------- busybox
BUSYBOX=""
if fetch_deb busybox-static; then
    BBDEB=$DEB
    extract_deb "$BBDEB" "$WORK/busybox"
    BUSYBOX=$WORK/busybox/bin/busybox
    [ -x "$BUSYBOX" ] || BUSYBOX=$WORK/busybox/usr/bin/busybox
    [ -x "$BUSYBOX" ] || die "no busybox binary in ${BBDEB##*/}"
    BB_VER=$(dpkg-deb -f "$BBDEB" Version)
else
    # Fall back to the host's busybox-static, if that package is installed.
    if dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' && [ -x /bin/busybox ]; then
        log "using the host's /bin/busybox (package busybox-static)"
        BUSYBOX=/bin/busybox
        BB_VER=$(dpkg-query -W -f='${Version}' busybox-static)
    else
        die "cannot get busybox-static"
    fi
fi
log "busybox-static $BB_VER"

# ---------------------------------------------------------------- modules
declare -A MOD_PATH=()    # module name -> path relative to $KMOD (as shipped)
declare -A MOD_BUILTIN=()
declare -A MOD_DONE=()
LOAD_ORDER=()

modname() { local n=${1##*/}; n=${n%%.ko*}; printf '%s\n' "${n//-/_}"; }

while IFS= read -r rel; do
    MOD_PATH[$(modname "$rel")]=$rel
done < <(cd "$KMOD" && find kernel -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz')
if [ -f "$KMOD/modules.builtin" ]; then
    while IFS= read -r rel; do
        MOD_BUILTIN[$(modname "$rel")]=1
    done <"$KMOD/modules.builtin"
fi

# cat_module REL: the module's ELF on stdout, decompressed.
cat_module() {
    case "$1" in
        *.ko.xz) xz -dc "$KMOD/$1" ;;
        *.ko.zst) zstd -qdc "$KMOD/$1" ;;
        *.ko.gz) gzip -dc "$KMOD/$1" ;;
        *) cat "$KMOD/$1" ;;
    esac
}

# The packages ship no modules.dep (depmod runs at install time), so read the
# "depends=" entry of each module's .modinfo section.
mod_depends() { cat_module "$1" | tr '\0' '\n' | sed -n 's/^depends=//p' | head -n 1; }

# resolve NAME [CHAIN]: add NAME and its dependencies to LOAD_ORDER, dependencies first.
resolve() {
    local name=${1//-/_} chain=${2:-} dep deps
    [ -z "${MOD_DONE[$name]:-}" ] || return 0
    case " $chain " in *" $name "*) die "module dependency cycle: $chain $name" ;; esac
    if [ -n "${MOD_BUILTIN[$name]:-}" ]; then
        MOD_DONE[$name]=builtin
        return 0
    fi
    [ -n "${MOD_PATH[$name]:-}" ] || die "module '$name' is neither built into $KVER nor shipped in ${KDEB##*/}"
    deps=$(mod_depends "${MOD_PATH[$name]}")
    for dep in ${deps//,/ }; do
        resolve "$dep" "$chain $name"
    done
    MOD_DONE[$name]=module
    LOAD_ORDER+=("$name")
}

for m in $DEFAULT_MODULES ${EXTRA_MODULES//,/ }; do
    resolve "$m"
done

# ---------------------------------------------------------------- initramfs tree
ROOT=$WORK/initramfs
rm -rf "$ROOT"
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,root,mnt,etc/lvmm/role.d}
cp "$BUSYBOX" "$ROOT/bin/busybox"
chmod 755 "$ROOT/bin/busybox"
# Applet links made at build time: busybox --install at boot would need /proc.
"$BUSYBOX" --list-full >"$WORK/applets" || die "cannot run $BUSYBOX on this host to list its applets"
while IFS= read -r applet; do
    case "$applet" in bin/busybox|"") continue ;; esac
    mkdir -p "$ROOT/${applet%/*}"
    [ -e "$ROOT/$applet" ] || ln -s /bin/busybox "$ROOT/$applet"
done <"$WORK/applets"

# lvmm-outb: port I/O for lvmm.exit_port (the kernel has no /dev/port).
CC=${CC:-cc}
if command -v "$CC" >/dev/null 2>&1; then
    "$CC" -Os -static -nostdlib -fno-stack-protector -fno-pie -no-pie -s \
        -o "$WORK/lvmm-outb" "$SCRIPT_DIR/lvmm-outb.c" 2>"$WORK/cc.log" ||
        die "cannot build lvmm-outb (see $WORK/cc.log)"
    cp "$WORK/lvmm-outb" "$ROOT/sbin/lvmm-outb"
else
    log "warning: no C compiler ($CC): the image has no lvmm-outb, lvmm.exit_port will not work"
fi

MODDIR_REL=lib/modules/$KVER
mkdir -p "$ROOT/$MODDIR_REL"
: >"$ROOT/$MODDIR_REL/modules.dep"
: >"$ROOT/$MODDIR_REL/lvmm-modules"
for name in "${LOAD_ORDER[@]}"; do
    src=${MOD_PATH[$name]}
    dst=${src%.ko*}.ko
    mkdir -p "$ROOT/$MODDIR_REL/${dst%/*}"
    cat_module "$src" >"$ROOT/$MODDIR_REL/$dst"
    deps=""
    for dep in $(mod_depends "$src" | tr ',' ' '); do
        dep=${dep//-/_}
        [ "${MOD_DONE[$dep]}" = builtin ] || deps="$deps ${MOD_PATH[$dep]%.ko*}.ko"
    done
    printf '%s:%s\n' "$dst" "$deps" >>"$ROOT/$MODDIR_REL/modules.dep"
    printf '%s %s\n' "$name" "$dst" >>"$ROOT/$MODDIR_REL/lvmm-modules"
done
for f in modules.builtin modules.order; do
    [ ! -f "$KMOD/$f" ] || cp "$KMOD/$f" "$ROOT/$MODDIR_REL/"
done
log "modules (load order): ${LOAD_ORDER[*]}"

cat >"$ROOT/etc/lvmm/build-info" <<EOF
kernel=$KVER
kernel_package=$KPKG $KPKG_VER
busybox=busybox-static $BB_VER
modules=${LOAD_ORDER[*]}
built=$(date -u +%Y-%m-%dT%H:%M:%SZ)
EOF
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$ROOT/etc/passwd"
printf 'root:x:0:\n' >"$ROOT/etc/group"
cat >"$ROOT/etc/profile" <<'EOF'
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
PS1='lvmm-guest:$PWD# '
EOF
cat >"$ROOT/etc/lvmm/role.d/README" <<'EOF'
Executables in /etc/lvmm/role.d/ROLE/ run (in name order) after /init has set
up role ROLE and before it hands the console over. Add them with
build-image.sh --overlay DIR (DIR/etc/lvmm/role.d/ROLE/NAME).
EOF

cat >"$ROOT/init" <<'INIT'
#!/bin/busybox sh
# lvmm guest /init, generated by scripts/linux/build-image.sh.
# See docs/linux-guests.md for the roles and their command-line parameters.

# The initramfs has no /dev/console node (it is built without root), so stdio
# is attached once devtmpfs is mounted.
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export HOME=/root
umask 022

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run

say() { echo "lvmm-guest: $*"; }

CMDLINE=$(cat /proc/cmdline)
# arg NAME [DEFAULT]: the value of NAME=VALUE on the kernel command line.
arg() {
    local a v="${2:-}"
    set -f
    for a in $CMDLINE; do
        case "$a" in "$1="*) v="${a#*=}" ;; esac
    done
    set +f
    echo "$v"
}

uptime_s() { cut -d' ' -f1 /proc/uptime; }

KVER=$(uname -r)
say "init started (kernel $KVER, up $(uptime_s)s)"

# Load the modules in dependency order. Like modprobe, pass MODULE.PARAM=VALUE
# entries of the command line to the module (e.g. virtio_mmio.device=...).
MODDIR=/lib/modules/$KVER
if [ -f "$MODDIR/lvmm-modules" ]; then
    while read -r name path; do
        [ -n "$name" ] || continue
        [ ! -d "/sys/module/$name" ] || continue
        params=""
        set -f
        for a in $CMDLINE; do
            case "$a" in
                "$name".*=*) params="$params ${a#"$name".}" ;;
            esac
        done
        # shellcheck disable=SC2086  # params are separate words
        insmod "$MODDIR/$path" $params || say "warning: insmod $name failed"
        set +f
    done <"$MODDIR/lvmm-modules"
fi

ip link set lo up || say "warning: cannot bring up lo"
hostname "$(arg lvmm.hostname "lvmm-$(arg lvmm.role shell)")"

list_virtio() {
    local d id out=""
    for d in /sys/bus/virtio/devices/*; do
        [ -e "$d" ] || continue
        id=$(cat "$d/device")
        case "$id" in
            0x0001) id=net ;; 0x0002) id=blk ;; 0x0003) id=console ;;
            0x0004) id=rng ;; 0x0005) id=balloon ;; 0x0013) id=vsock ;;
        esac
        out="$out ${d##*/}($id)"
    done
    echo "${out# }"
}
list_disks() {
    local d n out=""
    for d in /sys/block/*; do
        [ -e "$d" ] || continue
        n=${d##*/}
        case "$n" in loop*|ram*|zram*) continue ;; esac
        out="$out $n($(( $(cat "$d/size") / 2 ))K)"
    done
    echo "${out# }"
}
list_nics() {
    local d n out=""
    for d in /sys/class/net/*; do
        [ -e "$d" ] || continue
        n=${d##*/}
        [ "$n" != lo ] || continue
        out="$out $n($(cat "$d/address"))"
    done
    echo "${out# }"
}
V=$(list_virtio); D=$(list_disks); N=$(list_nics)
say "virtio: ${V:-none}"
say "disks: ${D:-none}"
say "nics: ${N:-none}"

run_hooks() {
    local f
    for f in /etc/lvmm/role.d/"$1"/*; do
        [ -x "$f" ] || continue
        say "hook $f"
        "$f" || say "warning: hook $f exited with $?"
    done
}

console_shell() {
    setsid cttyhack sh -l
}

# Keep a service or user partition alive after its console shell ends (e.g.
# no console input): init must never exit.
stay_up() {
    console_shell
    say "console shell exited; role $ROLE keeps running"
    while :; do sleep 3600; done
}

role_poweroff() {
    local port code
    say "done (up $(uptime_s)s)"
    sync
    port=$(arg lvmm.exit_port)
    if [ -n "$port" ]; then
        # lvmm's debug-exit port (platform.md): the partition exits with this
        # status; QEMU's isa-debug-exit exits with (status << 1) | 1.
        code=$(arg lvmm.exit_code 0)
        if [ -x /sbin/lvmm-outb ]; then
            /sbin/lvmm-outb "$port" "$code" || say "warning: cannot write to port $port"
        else
            say "warning: no /sbin/lvmm-outb in this image; lvmm.exit_port ignored"
        fi
    fi
    poweroff -f
    while :; do sleep 3600; done
}

# ==== HOOK: lvmm.role=service ==========================================
# The service partition owns the NIC and carries the user's link. For now it
# bridges them (lvmm.bridge, default "eth0 eth1") into br0, with an optional
# management address lvmm.ip on br0. Filtering of the user's traffic goes
# here (a later task), or into /etc/lvmm/role.d/service/ via --overlay.
role_service() {
    local ports ip i
    ports=$(arg lvmm.bridge "eth0,eth1")
    ports=$(echo "$ports" | tr ',' ' ')
    if brctl addbr br0 2>/dev/null; then
        for i in $ports; do
            ip link set "$i" up || say "warning: no interface $i"
            brctl addif br0 "$i" || say "warning: cannot add $i to br0"
        done
    elif ip link add br0 type bridge; then
        for i in $ports; do
            ip link set "$i" up || say "warning: no interface $i"
            ip link set "$i" master br0 || say "warning: cannot add $i to br0"
        done
    else
        say "error: cannot create bridge br0"
        return 1
    fi
    ip link set br0 up
    ip=$(arg lvmm.ip)
    [ -z "$ip" ] || ip addr add "$ip" dev br0 || say "warning: cannot set $ip on br0"
    say "service: bridge br0 ports: $ports${ip:+ address $ip}"
}
# ==== end HOOK: service ================================================

# ==== HOOK: lvmm.role=user =============================================
# The user partition: lvmm.dev (default eth0) gets lvmm.ip=ADDR/PREFIX and an
# optional default route via lvmm.gw. Later tasks add their setup here or in
# /etc/lvmm/role.d/user/.
role_user() {
    local dev ip gw
    dev=$(arg lvmm.dev eth0)
    ip=$(arg lvmm.ip)
    gw=$(arg lvmm.gw)
    ip link set "$dev" up || { say "error: no interface $dev"; return 1; }
    if [ -n "$ip" ]; then
        ip addr add "$ip" dev "$dev" || say "warning: cannot set $ip on $dev"
    else
        say "warning: no lvmm.ip= on the command line; $dev is up without an address"
    fi
    [ -z "$gw" ] || ip route add default via "$gw" || say "warning: cannot add default route via $gw"
    say "user: $dev${ip:+ address $ip}${gw:+ gateway $gw}"
}
# ==== end HOOK: user ===================================================

ROLE=$(arg lvmm.role shell)
say "role: $ROLE"
case "$ROLE" in
    poweroff)
        run_hooks poweroff
        role_poweroff ;;
    service)
        role_service || say "warning: role service setup failed"
        run_hooks service
        say "role service ready (up $(uptime_s)s)"
        stay_up ;;
    user)
        role_user || say "warning: role user setup failed"
        run_hooks user
        say "role user ready (up $(uptime_s)s)"
        stay_up ;;
    shell)
        run_hooks shell
        console_shell
        say "shell exited; powering off"
        role_poweroff ;;
    *)
        say "unknown lvmm.role '$ROLE' (shell, poweroff, service, user); starting a shell"
        console_shell
        role_poweroff ;;
esac
INIT
chmod 755 "$ROOT/init"

if [ -n "$OVERLAY" ]; then
    log "overlay: $OVERLAY"
    cp -R "$OVERLAY"/. "$ROOT"/
fi

# ---------------------------------------------------------------- cpio + gzip
if command -v cpio >/dev/null 2>&1; then
    CPIO=(cpio --quiet -o -H newc -R 0:0)
else
    CPIO=("$BUSYBOX" cpio -o -H newc -R 0:0)
fi
(cd "$ROOT" && find . -mindepth 1 | LC_ALL=C sort | "${CPIO[@]}" 2>"$WORK/cpio.log") |
    gzip -9 -n >"$OUTDIR/.initrd.img.tmp" || die "cannot build the initramfs (see $WORK/cpio.log)"
mv "$OUTDIR/.initrd.img.tmp" "$OUTDIR/initrd.img"

size() { du -h "$1" | cut -f1; }
log "kernel $KVER: $OUTDIR/bzImage ($(size "$OUTDIR/bzImage"))"
[ ! -f "$OUTDIR/vmlinux" ] || [ "$VMLINUX" -eq 0 ] || log "kernel ELF (PVH): $OUTDIR/vmlinux ($(size "$OUTDIR/vmlinux"))"
log "initramfs: $OUTDIR/initrd.img ($(size "$OUTDIR/initrd.img"), ${#LOAD_ORDER[@]} modules)"
log "done in $(( $(date +%s) - START ))s"
