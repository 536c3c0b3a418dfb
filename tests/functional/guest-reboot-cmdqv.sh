#!/usr/bin/env bash
# The real Linux guest reboots on the accelerated SMMU with CMDQV: each boot
# runs the firmware and the kernel again, whose tegra241-cmdqv driver
# re-initialises VINTF0 and its queues while QEMU's host HW queues are still
# allocated; each boot's benchmark must run its invalidations on the VCMDQs.
# Three boots, then a SIGTERM exit: no leaked object, no refused destroy
# (the kernel's descending order). TAP output.
# Environment: QAC_BUILD, QAC_TOP (set by scripts/check.py).
set -uo pipefail
top=${QAC_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
MODE=accel-cmdqv
. "$top/tests/functional/lib/guest-reboot.bash"
