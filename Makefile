# qemu-accel-cmdqv: accelerated SMMUv3 + Tegra241 CMDQV for QEMU 10.2.2.
# `make run` and `make check` do all the set-up (see README.md).

SHELL := /bin/bash
.DEFAULT_GOAL := build

.PHONY: build deps qemu native guest check check-quick check-asan run patches bench clean distclean

deps:
	@scripts/deps.sh build

qemu: deps
	@scripts/assemble.sh >/dev/null
	@scripts/build-qemu.sh

native: qemu
	@scripts/build-native.sh

build: qemu native

# The real Linux guest (kernel, initramfs, dma_map_benchmark), built from
# Debian's archive and cached in ~/.cache/qemu-accel-cmdqv/guest/.
guest: deps
	@scripts/deps.sh guest
	@scripts/guest/build-guest.sh >/dev/null

check: build guest
	@/usr/bin/python3 scripts/check.py

# A minute's subset for the edit-build-test loop: the stand-in, the mapper
# and the accel SMMU / CMDQV / deployed-lines qtests (no guest, no fuzzer).
check-quick: build
	@/usr/bin/python3 scripts/check.py native/ qtest/smmuv3-accel-test \
	  qtest/tegra241-cmdqv-test qtest/qac-deployed-lines-test

# A second QEMU with AddressSanitizer + UndefinedBehaviorSanitizer in its
# own build directory; the project's qtests and the CMDQV guest test run on
# it, and any sanitizer report fails the run. (-Werror stays off there: GCC
# warns falsely under -fsanitize=address.)
ASAN_BUILD := $(CURDIR)/build/qemu-asan
check-asan: build guest
	@QEMU_BUILD=$(ASAN_BUILD) QEMU_CONFIGURE_EXTRA="--enable-asan --enable-ubsan --disable-werror" scripts/build-qemu.sh
	@/usr/bin/python3 scripts/check.py --asan

# The register fuzzer with a large budget (figures, not a gate of make
# check): FUZZ_SEEDS seeds of FUZZ_OPS operations from FUZZ_SEED_BASE.
.PHONY: fuzz
FUZZ_SEEDS ?= 200
FUZZ_OPS ?= 20000
FUZZ_SEED_BASE ?= 100000
fuzz: build
	@QAC_FUZZ_SEEDS=$(FUZZ_SEEDS) QAC_FUZZ_OPS=$(FUZZ_OPS) \
	  QAC_FUZZ_SEED_BASE=$(FUZZ_SEED_BASE) QAC_TEST_TIMEOUT=86400 \
	  /usr/bin/python3 scripts/check.py qac-fuzz; rc=$$?; \
	  grep -h -e '^# all seeds' -e '^# seed .* failed' \
	    build/test-logs/qtest_qac-fuzz-test.log; exit $$rc

# MODE=emulated-cmdqv: the same guest on QEMU's emulated SMMUv3 with CMDQV
run: build guest
	@MODE=$(MODE) scripts/run.sh

# Benchmarks (figures, not tests): the stand-in's own costs, then the real
# guest's dma_map_benchmark under four set-ups (build/bench/bench.md, .png).
bench: build guest
	@scripts/deps.sh bench
	@ninja -C build/native standin@@standin-bench
	@/usr/bin/python3 scripts/bench.py

patches:
	@scripts/write-patches.sh

clean:
	rm -rf build/qemu-build build/qemu-asan build/native

distclean:
	rm -rf build
