#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Packaging: `make install` into a DESTDIR and `make uninstall`; the man pages
# render without a warning and cover every command, control operation and
# platform key; the systemd unit passes systemd-analyze and its ExecStart,
# run under a fake NOTIFY_SOCKET, says READY=1 once the partitions are up and
# STOPPING=1 on SIGTERM (to the main process only, as KillMode=mixed sends
# it), and no partition inherits NOTIFY_SOCKET; `make deps` sets: what the demo needs holds nothing test-only.
. "$(dirname "$0")/../lib.sh"

CASES="install-destdir-and-uninstall man-pages-render-and-cover-the-cli systemd-unit-verifies
       systemd-notify-ready-after-partitions-up deps-sets-nest-demo-pulls-nothing-test-only"
L=$LVMM
DEST=$TMP/root
mk() { make --no-print-directory -s BUILD="$BUILD" "$@"; }

# ---- make install / uninstall -----------------------------------------------------
mk install DESTDIR="$DEST" PREFIX=/usr >"$TMP/install.log" 2>&1; irc=$?
ok=1
[ $irc -eq 0 ] || ok=0
for f in usr/bin/lvmm usr/libexec/lvmm/lvmm-api usr/libexec/lvmm/lvmm-tools usr/share/man/man1/lvmm.1 usr/share/man/man5/lvmm-platform.5 \
	 usr/lib/systemd/system/lvmm@.service usr/share/doc/lvmm/cli.md usr/share/doc/lvmm/README.md \
	 usr/share/doc/lvmm/examples/demo.yaml; do
	[ -f "$DEST/$f" ] || { echo "# missing $f" >&2; ok=0; }
done
[ "$(stat -c %a "$DEST/usr/bin/lvmm" 2>/dev/null)" = 755 ] || ok=0
[ "$(stat -c %a "$DEST/usr/libexec/lvmm/lvmm-api" 2>/dev/null)" = 755 ] || ok=0
[ ! -e "$DEST/usr/bin/lvmm-api" ] || ok=0 # a helper, not a command
[ "$(stat -c %a "$DEST/usr/libexec/lvmm/lvmm-tools" 2>/dev/null)" = 755 ] || ok=0
[ ! -e "$DEST/usr/bin/lvmm-tools" ] || ok=0
# check, measure and top are lvmm-tools, which the installed lvmm finds in ../libexec/lvmm.
"$DEST/usr/bin/lvmm" help top | grep -q '^Usage: lvmm top' || ok=0
[ "$(stat -c %a "$DEST/usr/share/man/man1/lvmm.1" 2>/dev/null)" = 644 ] || ok=0
[ -d "$DEST/etc/lvmm" ] || ok=0
"$DEST/usr/bin/lvmm" version | grep -q '^lvmm [0-9]' || ok=0
unit=$DEST/usr/lib/systemd/system/lvmm@.service
grep -qx 'ExecStart=/usr/bin/lvmm run /etc/lvmm/%i.yaml --control /run/lvmm/%i.sock --events /var/log/lvmm/%i.jsonl' "$unit" || ok=0
! grep -q '@[A-Z]*@' "$unit" || ok=0
cp -a "$DEST" "$TMP/installed" # kept for the cases below
mk uninstall DESTDIR="$DEST" PREFIX=/usr >>"$TMP/install.log" 2>&1 || ok=0
left=$(find "$DEST" -type f | wc -l)
[ "$left" -eq 0 ] || ok=0
# Another prefix: /usr/local puts the unit where systemd looks for local units, config in /usr/local/etc.
mk install DESTDIR="$TMP/local" PREFIX=/usr/local >>"$TMP/install.log" 2>&1 || ok=0
grep -q '^ExecStartPre=/usr/local/bin/lvmm -q check /usr/local/etc/lvmm/%i.yaml$' \
	"$TMP/local/usr/local/lib/systemd/system/lvmm@.service" || ok=0
if [ $ok = 1 ]; then pass install-destdir-and-uninstall
else cat "$TMP/install.log" >&2; find "$DEST" "$TMP/local" -type f >&2; fail install-destdir-and-uninstall "rc=$irc, $left files left after uninstall"; fi
DEST=$TMP/installed
unit=$DEST/usr/lib/systemd/system/lvmm@.service

# ---- man pages ---------------------------------------------------------------------
ok=1
for page in "$DEST/usr/share/man/man1/lvmm.1" "$DEST/usr/share/man/man5/lvmm-platform.5"; do
	LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" >"$TMP/$(basename "$page").txt" 2>"$TMP/man.err" || ok=0
	[ -s "$TMP/man.err" ] && { echo "# man warnings for $page:" >&2; cat "$TMP/man.err" >&2; ok=0; }
	grep -q '^NAME' "$TMP/$(basename "$page").txt" && grep -q '^SEE ALSO' "$TMP/$(basename "$page").txt" || ok=0
done
# Every command `lvmm help` lists is an entry of lvmm(1)'s COMMANDS.
for c in $("$L" help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF {print $1}' | sort -u); do
	grep -q "^       $c" "$TMP/lvmm.1.txt" || { echo "# lvmm.1 lacks command $c" >&2; ok=0; }
done
# Every control operation the supervisor knows is named in lvmm(1).
if [ -c /dev/kvm ]; then
	timeout 20 "$L" run --kernel "$GUESTS/hello.elf" --cmdline "hold_ms=20000" --memory 16 --no-stdin \
		--console none --control "$TMP/h.sock" </dev/null >/dev/null 2>&1 &
	h=$!
	for _ in $(seq 100); do [ -S "$TMP/h.sock" ] && break; sleep 0.05; done
	ops=$("$L" ctl --json "$TMP/h.sock" help | grep -o '"operations":\[[^]]*' | grep -o '"[a-z-]*' | tr -d '"' | grep -v operations)
	"$L" ctl "$TMP/h.sock" stop guest >/dev/null; wait $h
	[ -n "$ops" ] || ok=0
	for o in $ops; do grep -qw -- "$o" "$TMP/lvmm.1.txt" || { echo "# lvmm.1 lacks operation $o" >&2; ok=0; }; done
fi
# Every key of the platform file (the parser's own lists, from lvmm check) is in lvmm-platform(5).
cat >"$TMP/keys.yaml" <<YAML
zz0: 1
partitions:
  - name: a
    kernel: $PWD/$GUESTS/hello.elf
    zz1: 1
    devices:
      - { type: net, tap: t, zz2: 1, rate_limit: { zz3: 1, rx: { zz4: 1 } } }
links:
  - { name: l, ends: [a, a], zz5: 1 }
identities: { zz6: 1 }
policy:
  zz7: 1
  chinese_wall: { zz8: 1, conflict_sets: [ { zz9: 1 } ] }
  labels: [ { zza: 1 } ]
  resources: [ { zzb: 1 } ]
  clients: [ { zzc: 1 } ]
YAML
keys=$("$L" check "$TMP/keys.yaml" 2>&1 | grep -o "expected one of: .*" | cut -d: -f2- | tr ' ' '\n' | sort -u | grep .)
[ "$(wc -w <<<"$keys")" -gt 60 ] || ok=0
for k in $keys; do grep -qw -- "$k" "$TMP/lvmm-platform.5.txt" || { echo "# lvmm-platform.5 lacks key $k" >&2; ok=0; }; done
[ $ok = 1 ] && pass man-pages-render-and-cover-the-cli || fail man-pages-render-and-cover-the-cli "see stderr"

# ---- the systemd unit ---------------------------------------------------------------
if command -v systemd-analyze >/dev/null; then
	# The unit as installed, its programs and config pointed into DESTDIR.
	sed -e "s|/usr/bin/lvmm|$DEST/usr/bin/lvmm|g" -e "s|/etc/lvmm|$TMP/etc/lvmm|g" "$unit" >"$TMP/lvmm@.service"
	if systemd-analyze verify --man=no "$TMP/lvmm@.service" >"$TMP/verify" 2>&1 && [ ! -s "$TMP/verify" ] &&
	   grep -qx 'Type=notify' "$unit" && grep -qx 'KillMode=mixed' "$unit" && grep -qx 'NotifyAccess=main' "$unit"; then
		pass systemd-unit-verifies
	else cat "$TMP/verify" >&2; fail systemd-unit-verifies "systemd-analyze verify complained"; fi
else
	skip systemd-unit-verifies "no systemd-analyze (make deps installs systemd)"
fi

if ! have_kvm; then
	skip systemd-notify-ready-after-partitions-up "/dev/kvm is not available"
else
	mkdir -p "$TMP/etc/lvmm" "$TMP/run/lvmm" "$TMP/log/lvmm"
	cat >"$TMP/etc/lvmm/demo.yaml" <<YAML
partitions:
  - name: a
    kernel: $PWD/$GUESTS/ticker.elf
    cmdline: "tick_ms=200"
    memory: 16M
    console: none
  - name: b
    kernel: $PWD/$GUESTS/ticker.elf
    cmdline: "tick_ms=200"
    memory: 16M
    console: none
  - name: later
    kernel: $PWD/$GUESTS/hello.elf
    memory: 16M
    autostart: false
YAML
	# What systemd would run for lvmm@demo, with /etc, /run and /var/log moved into $TMP.
	cmd() { grep "^$1=" "$unit" | cut -d= -f2- | sed -e "s|/usr/bin/lvmm|$DEST/usr/bin/lvmm|" \
		-e "s|/etc/lvmm|$TMP/etc/lvmm|g" -e "s|/run/lvmm|$TMP/run/lvmm|g" \
		-e "s|/var/log/lvmm|$TMP/log/lvmm|g" -e 's|%i|demo|g'; }
	pre=$(cmd ExecStartPre); start=$(cmd ExecStart)
	python3 - "$TMP/notify.sock" "$TMP/notify.log" "$L" "$TMP/run/lvmm/demo.sock" <<'PY' &
import socket, subprocess, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
with open(sys.argv[2], "w") as log:
    while True:
        try:
            msg = s.recv(4096).decode()
        except socket.timeout:
            break
        log.write(msg.replace("\n", " ").strip() + "\n")
        if "READY=1" in msg:   # what the partitions are doing the moment READY arrives
            out = subprocess.run([sys.argv[3], "ctl", "--json", sys.argv[4], "list"], capture_output=True, text=True).stdout
            log.write("LIST " + out.strip() + "\n")
        log.flush()
        if "STOPPING=1" in msg:
            break
PY
	listener=$!
	for _ in $(seq 50); do [ -S "$TMP/notify.sock" ] && break; sleep 0.05; done
	$pre >"$TMP/pre.out" 2>&1; prc=$?
	NOTIFY_SOCKET=$TMP/notify.sock timeout 60 $start </dev/null >"$TMP/unit.out" 2>&1 &
	main=$!
	for _ in $(seq 100); do grep -q '^LIST ' "$TMP/notify.log" 2>/dev/null && break; sleep 0.1; done
	# No child inherits NOTIFY_SOCKET (systemd would take their datagrams for
	# lvmm's); the partitions do get the rest of the environment (PATH).
	envs=0 leaked=0
	for k in $(pgrep -P "$(pgrep -P $main -x lvmm | head -n 1)"); do
		e=$(tr '\0' '\n' <"/proc/$k/environ") || continue
		grep -q '^PATH=' <<<"$e" && envs=$((envs + 1))
		grep -q '^NOTIFY_SOCKET=' <<<"$e" && leaked=$((leaked + 1))
	done
	sigpid TERM $main # KillMode=mixed: SIGTERM to the main process only
	wait $main; mrc=$?
	wait $listener
	ev=$TMP/log/lvmm/demo.jsonl
	if [ $prc -eq 0 ] && [ $mrc -eq 0 ] &&
	   grep -qx 'READY=1 STATUS=2 of 3 partitions running' "$TMP/notify.log" &&
	   grep '^LIST ' "$TMP/notify.log" | grep -q '"name":"a","state":"running"' &&
	   grep '^LIST ' "$TMP/notify.log" | grep -q '"name":"b","state":"running"' &&
	   grep -qx 'STOPPING=1 STATUS=stopping every partition' "$TMP/notify.log" &&
	   [ "$(grep -c '"event":"partition_stop","partition":"[ab]","by":"shutdown"' "$ev")" -eq 2 ] &&
	   [ "$(grep -c 'READY=1' "$TMP/notify.log")" -eq 1 ] && [ ! -e "$TMP/run/lvmm/demo.sock" ] &&
	   [ ! -e "$TMP/run/lvmm/demo.console" ] && [ $envs -ge 2 ] && [ $leaked -eq 0 ]; then
		pass systemd-notify-ready-after-partitions-up
	else
		cat "$TMP/notify.log" "$TMP/pre.out" >&2; show "$TMP/unit.out"
		fail systemd-notify-ready-after-partitions-up "check rc=$prc, run rc=$mrc, $envs children with PATH, $leaked with NOTIFY_SOCKET"
	fi
fi

# ---- make deps sets ---------------------------------------------------------------
build=$(mk print-deps-build); demo=$(mk print-deps-demo); all=$(mk print-deps-test)
ok=1
for p in $build; do grep -qw -- "$p" <<<"$demo" || ok=0; done
for p in $demo; do grep -qw -- "$p" <<<"$all" || ok=0; done
for p in clang qemu-system-x86 swtpm tpm2-tools acpica-tools socat curl busybox-static man-db; do
	grep -qw -- "$p" <<<"$demo" && { echo "# demo pulls test-only $p" >&2; ok=0; }
	grep -qw -- "$p" <<<"$all" || ok=0
done
make --no-print-directory -n demo 2>/dev/null | grep -q 'deps-demo' || ok=0
make --no-print-directory -n demo 2>/dev/null | grep -q 'deps-test' && ok=0
make --no-print-directory -n test 2>/dev/null | grep -q 'deps-test' || ok=0
if command -v apt-cache >/dev/null && apt-cache show -q make >/dev/null 2>&1; then
	for p in $all; do apt-cache show -q "$p" >/dev/null 2>&1 || { echo "# no Debian package $p" >&2; ok=0; }; done
fi
[ $ok = 1 ] && pass deps-sets-nest-demo-pulls-nothing-test-only || fail deps-sets-nest-demo-pulls-nothing-test-only "build=[$build] demo=[$demo]"
