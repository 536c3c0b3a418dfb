#!/usr/bin/env bash
# Boot the real Linux guest (scripts/guest/build-guest.sh) on the project's
# QEMU under TCG: UEFI firmware (so the guest gets ACPI: the accel SMMU
# refuses device-tree boots), -kernel/-initrd, console on the first PL011.
#
# Usage: scripts/guest/boot.sh [options]
#   --iommu=MODE    none         the stand-in's PCI function, no vIOMMU
#                   emulated     QEMU's emulated arm-smmuv3 with a pci-testdev
#                                (a vfio device cannot sit behind it)
#                   emulated-cmdqv  the same with cmdqv=on,cmdqv-vcmdqs=2: the
#                                guest's tegra241-cmdqv driver on queues QEMU
#                                runs itself (no host, no stand-in)
#                   emulated-cmdqv-host  the host's view of CMDQV
#                                (cmdqv-vintfs=2): the kernel owns VINTF0
#                                (HYP_OWN) and sends it every SMMU command
#                   accel        arm-smmuv3,accel=on,cmdqv=off + the stand-in's
#                                function (vfio-pci,iommufd=) [default]
#                   accel-cmdqv  the same with cmdqv=on
#                   accel-cmdqv-hotplug  cmdqv=on, the SMMU's properties
#                                explicit (cmdqv-vcmdqs=2), a pcie-root-port
#                                rp0 and no device: the caller hotplugs the
#                                function over QMP (--qmp) as vfio-pci on rp0
#   --run=LIST      scenarios for the guest's init (qac.run=), default bench
#                   (bench, dmesg, iommu, shell; comma-separated)
#   --secs=N        benchmark seconds (qac.secs=), default 3
#   --smp=N         guest CPUs, default 2
#   --timeout=S     kill QEMU after S seconds (default 240); on a hang the
#                   tail of the console is printed and the exit status is 124
#   --log=FILE      write the console to FILE (default: only to stdout)
#   --quiet         do not copy the console to stdout (with --log)
#   --dump=FILE     where the stand-in writes its exit dump (STANDIN_DUMP)
#   --trace=PATTERN QEMU trace events (repeatable), to --trace-log
#                   (default $STANDIN_DIR/trace.log, printed path)
#   --trace-log=F
#   --append=ARGS   more kernel command line
#   --qemu=PATH     QEMU binary (default $QAC_QEMU, else $QAC_BUILD/qemu-build/qemu-system-aarch64)
#   --guest=DIR     the guest build (default: what build-guest.sh prints)
#   --standin-dir=D the stand-in's runtime directory (STANDIN_DIR; ctl.sock
#                   is there while QEMU runs); default a temporary one
#   --keep          keep the temporary directory (printed)
#   --reboot        let a guest reboot run the firmware and kernel again
#                   (no -no-reboot); with --run=...,reboot the guest loops
#   --boots=N       with --reboot: stop QEMU (SIGTERM, a clean exit) once N
#                   boots' init finished; status 0 if every one reported 0
#   --qmp=PATH      a QMP socket at PATH (unix, server) for the operator's view
#   --vfio-host=BDF on a real host: no stand-in, vfio-pci,host=BDF (the device
#                   bound to vfio-pci, /dev/iommu of a Linux 6.17+ kernel)
#   --sandbox       QEMU's seccomp filter as libvirt sets it by default:
#                   -sandbox on,obsolete=deny,elevateprivileges=deny,
#                   spawn=deny,resourcecontrol=deny
#   --incoming=URI  a migration destination: -incoming URI; the console is
#                   appended to --log (the source's) rather than started
#                   anew, and the stand-in's function offers VFIO migration
#   --migratable    the stand-in's function offers VFIO migration (a source)
#   --interactive   console on this terminal (-serial mon:stdio; Ctrl-A X
#                   quits), no timeout; implied by --run=shell
# Environment: QAC_BUILD (default <top>/build), QAC_GUEST_CACHE.
# Exit status: QEMU's, 124 on timeout, 3 if the guest's init reported a
# failure (its "QAC: done status=1"), 4 if it never got there.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${QAC_BUILD:-$top/build}
iommu=accel run=bench secs=3 smp=2 tmo=240 log= quiet= dump= append= keep= sdir= interactive= reboot= boots=
qmp= vfio_host= sandbox= incoming= migratable=
qemu=${QAC_QEMU:-$build/qemu-build/qemu-system-aarch64} guest= tracelog=
traces=()
for a in "$@"; do
    case "$a" in
        --iommu=*) iommu=${a#*=} ;;
        --run=*) run=${a#*=} ;;
        --secs=*) secs=${a#*=} ;;
        --smp=*) smp=${a#*=} ;;
        --timeout=*) tmo=${a#*=} ;;
        --log=*) log=${a#*=} ;;
        --quiet) quiet=1 ;;
        --dump=*) dump=${a#*=} ;;
        --trace=*) traces+=(-trace "${a#*=}") ;;
        --trace-log=*) tracelog=${a#*=} ;;
        --append=*) append=${a#*=} ;;
        --qemu=*) qemu=${a#*=} ;;
        --guest=*) guest=${a#*=} ;;
        --standin-dir=*) sdir=${a#*=} ;;
        --keep) keep=1 ;;
        --qmp=*) qmp=${a#*=} ;;
        --vfio-host=*) vfio_host=${a#*=} ;;
        --interactive) interactive=1 ;;
        --sandbox) sandbox=1 ;;
        --incoming=*) incoming=${a#*=}; migratable=1 ;;
        --migratable) migratable=1 ;;
        --reboot) reboot=1 ;;
        --boots=*) boots=${a#*=} ;;
        -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "boot.sh: unknown option $a (see --help)" >&2; exit 2 ;;
    esac
done

die() { echo "boot.sh: error: $*" >&2; exit 1; }
[ -x "$qemu" ] || die "no QEMU at $qemu: run 'make' first"
firmware=/usr/share/qemu-efi-aarch64/QEMU_EFI.fd
[ -f "$firmware" ] || die "no UEFI firmware at $firmware: install qemu-efi-aarch64 (make guest)"
if [ -z "$guest" ]; then
    guest=$("$top/scripts/guest/build-guest.sh" --path) ||
        die "the guest is not built: run 'make guest' (or scripts/guest/build-guest.sh)"
fi
for f in Image initramfs.cpio.gz; do
    [ -f "$guest/$f" ] || die "no $guest/$f: run 'make guest'"
done

work=$(mktemp -d /tmp/qac-guest.XXXXXX)
qpid=
cleanup() {
    [ -n "$qpid" ] && kill "$qpid" 2>/dev/null || true
    if [ -n "$keep" ]; then echo "boot.sh: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
case ",$run," in *,shell,*) interactive=1 ;; esac
[ -n "$log" ] || log=$work/console.log
[ -n "$incoming" ] || : > "$log"

cmdline="console=ttyAMA0 panic=-1 iommu.strict=1 qac.run=$run qac.secs=$secs"
[ -z "$append" ] || cmdline="$cmdline $append"

env=()
dev=()
case "$iommu" in
    none|accel|accel-cmdqv|accel-cmdqv-hotplug)
        lib=$build/native/subprojects/standin/libstandin.so
        [ -n "$vfio_host" ] || [ -f "$lib" ] || die "no stand-in at $lib: run 'make'"
        cat > "$work/host.conf" <<'CONF'
# A Grace-like host: one SMMUv3 with nesting and CMDQV, one PCI function.
[host]
page_size = 64K
[smmu smmu0]
nesting = yes
cmdqv = yes
[pci 0009:01:00.0]
smmu = smmu0
vendor = 0x10de
device = 0x2342
class = 0x030200
sid = 0x10100
bar0 = 16M
CONF
        [ -z "$migratable" ] || echo "migration = yes" >> "$work/host.conf"
        sdir=${sdir:-$work}
        mkdir -p "$sdir"
        env=(LD_PRELOAD="${QAC_PRELOAD_FIRST:+$QAC_PRELOAD_FIRST:}$lib" STANDIN_CONFIG="$work/host.conf" STANDIN_DIR="$sdir"
             STANDIN_DUMP="${dump:-$work/exit-dump.json}")
        sysfs="sysfsdev=$sdir/sys/bus/pci/devices/0009:01:00.0"
        if [ -n "$vfio_host" ]; then
            env=()          # the real kernel answers
            sysfs="host=$vfio_host"
        fi
        case "$iommu" in
            none) dev=(-object iommufd,id=iommufd0
                       -device vfio-pci,id=dev0,bus=pcie.0,addr=2.0,iommufd=iommufd0,$sysfs) ;;
            accel|accel-cmdqv)
                cmdqv=off; [ "$iommu" = accel-cmdqv ] && cmdqv=on
                dev=(-object iommufd,id=iommufd0
                     -device arm-smmuv3,primary-bus=pcie.0,id=smmu0,accel=on,cmdqv=$cmdqv
                     -device vfio-pci,id=dev0,bus=pcie.0,addr=2.0,iommufd=iommufd0,$sysfs) ;;
            accel-cmdqv-hotplug)
                dev=(-object iommufd,id=iommufd0
                     -device arm-smmuv3,primary-bus=pcie.0,id=smmu0,accel=on,ril=on,ats=on,oas=48,ssidsize=20,cmdqv=on,cmdqv-vcmdqs=2
                     -device pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=3.0) ;;
        esac ;;
    emulated|emulated-cmdqv|emulated-cmdqv-host)
        case "$iommu" in
            emulated) cmdqv= ;;
            emulated-cmdqv) cmdqv=,cmdqv=on,cmdqv-vcmdqs=2 ;;
            emulated-cmdqv-host) cmdqv=,cmdqv=on,cmdqv-vcmdqs=2,cmdqv-vintfs=2 ;;
        esac
        dev=(-device "arm-smmuv3,primary-bus=pcie.0,id=smmu0$cmdqv"
             -device pci-testdev,id=dev0,bus=pcie.0,addr=2.0) ;;
    *) die "--iommu: none, emulated, emulated-cmdqv, emulated-cmdqv-host, accel, accel-cmdqv or accel-cmdqv-hotplug, not '$iommu'" ;;
esac
if [ ${#traces[@]} -gt 0 ]; then
    tracelog=${tracelog:-$work/trace.log}
    traces+=(-D "$tracelog")
    echo "boot.sh: QEMU trace to $tracelog" >&2
fi

noreboot=(-no-reboot); [ -z "$reboot" ] || noreboot=()
cmd=("$qemu" -M virt,gic-version=3 -cpu max,pauth-impdef=on -smp "$smp" -m 1G
     -accel tcg -nodefaults -display none "${noreboot[@]}"
     -bios "$firmware" -kernel "$guest/Image" -initrd "$guest/initramfs.cpio.gz"
     -append "$cmdline"
     -chardev file,id=con,path="$log",append=on -serial chardev:con
     "${dev[@]}" "${traces[@]}")
[ -z "$qmp" ] || cmd+=(-qmp "unix:$qmp,server=on,wait=off")
[ -z "$incoming" ] || cmd+=(-incoming "$incoming")
[ -z "$sandbox" ] || cmd+=(-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny)
if [ -n "$interactive" ]; then
    for i in "${!cmd[@]}"; do
        case "${cmd[$i]}" in chardev:con) cmd[$i]=mon:stdio ;; file,id=con,*) cmd[$i]=null,id=con ;; esac
    done
fi
echo "boot.sh: ${cmd[*]}" | sed "s|$work|\$STANDIN_DIR|g; s|$top/||g" >&2
if [ -n "$interactive" ]; then
    rc=0
    env "${env[@]}" "${cmd[@]}" || rc=$?
    exit "$rc"
fi

t0=$(date +%s)
env "${env[@]}" "${cmd[@]}" </dev/null >"$work/qemu.out" 2>&1 &
qpid=$!
tailpid=
if [ -z "$quiet" ]; then
    tail -n +1 -F --pid="$qpid" "$log" 2>/dev/null &
    tailpid=$!
fi
rc=0 timed_out= stopped=
while kill -0 "$qpid" 2>/dev/null; do
    if [ -n "$boots" ] && [ "$(grep -c '^QAC: done status=' "$log")" -ge "$boots" ]; then
        sleep 0.5
        kill -TERM "$qpid" 2>/dev/null || true
        stopped=1
        break
    fi
    if [ $(( $(date +%s) - t0 )) -ge "$tmo" ]; then
        timed_out=1
        kill -TERM "$qpid" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$qpid" 2>/dev/null || break; sleep 1; done
        kill -KILL "$qpid" 2>/dev/null || true
        break
    fi
    sleep 1
done
wait "$qpid" || rc=$?
qpid=
sleep 0.3
[ -z "$tailpid" ] || wait "$tailpid" 2>/dev/null || true   # tail --pid ends after QEMU, having read all
elapsed=$(( $(date +%s) - t0 ))
if [ -s "$work/qemu.out" ]; then
    echo "boot.sh: QEMU's output:" >&2
    sed 's/^/  | /' "$work/qemu.out" >&2
fi
if [ -n "$timed_out" ]; then
    echo "boot.sh: TIMEOUT: the guest did not power off within ${tmo}s; last console lines:" >&2
    tail -n 30 "$log" | sed 's/^/  | /' >&2
    exit 124
fi
echo "boot.sh: QEMU exited with status $rc after ${elapsed}s" >&2
if [ -n "$stopped" ]; then
    echo "boot.sh: stopped after $boots boots" >&2
    grep '^QAC: done status=' "$log" | grep -qv '^QAC: done status=0' && exit 3
    exit 0
fi
[ "$rc" = 0 ] || exit "$rc"
grep -q '^QAC: done status=0' "$log" && exit 0
grep -q '^QAC: done status=' "$log" && exit 3
echo "boot.sh: the guest's init never finished; last console lines:" >&2
tail -n 30 "$log" | sed 's/^/  | /' >&2
exit 4
