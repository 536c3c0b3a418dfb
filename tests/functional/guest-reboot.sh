#!/usr/bin/env bash
# The real Linux guest reboots on the accelerated SMMU: each boot runs the
# firmware and the kernel again, whose SMMU driver resets the SMMU (SMMUEN
# off, new stream table) while QEMU's host objects (vIOMMU, vDEVICE, nested
# HWPTs) are still alive; each boot binds dma_map_benchmark and maps through
# the SMMU again. Three boots, then QEMU is stopped with SIGTERM (a clean
# exit) and the stand-in must hold no leaked object. TAP output.
# Environment: QAC_BUILD, QAC_TOP (set by scripts/check.py).
set -uo pipefail
top=${QAC_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
MODE=accel
. "$top/tests/functional/lib/guest-reboot.bash"
