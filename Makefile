# The README's two commands: `make sim` (one whole alarm on simulated hardware) and `make test`.
# Both set up what they need on a fresh Debian/Ubuntu machine (apt via sudo when not root).

SWIFT        ?= swift
SWIFT_PATHS  := /opt/swift/usr/bin /usr/share/swift/usr/bin
export PATH  := $(PATH):$(subst $(eval) ,:,$(SWIFT_PATHS))
# System packages the build, tests and simulator need (later issues add gpsd, ALSA, libmodbus here).
APT_PACKAGES := make pkg-config python3 python3-venv libgps-dev libasound2-dev libmodbus-dev gpsd gpsd-clients iproute2
VENV         := .venv
SUDO         := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
BIN          := .build/debug

.PHONY: all deps venv build sim test bench soak fuzz sanitize clean

all: build

deps:
	@command -v $(SWIFT) >/dev/null || { \
	  echo "Swift 6 is not installed. Install the toolchain for your distribution from https://www.swift.org/install/linux/"; \
	  echo "(e.g. with swiftly), make sure 'swift' is on PATH, then run make again."; exit 1; }
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# Python only runs independent third-party peers in tests (never anything we ship).
venv: $(VENV)/.installed
$(VENV)/.installed: Tests/requirements.txt | deps
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r Tests/requirements.txt
	touch $@

build: deps
	$(SWIFT) build

# One complete alarm: simulated centre + daemon on boards/sim.json5, button pressed through the simulator.
sim: build
	$(BIN)/alarm-sim --board boards/sim.json5

test: deps venv
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

# Benchmarks are not tests: timings never decide whether CI passes.
bench: deps
	$(SWIFT) build -c release --product alarm-bench
	.build/release/alarm-bench --output bench/results.json

# Not tests: the full-length soaks — 1,000 SIGKILLs of the real daemon during alarms, then 10,000 in-process fault
# scenarios. A failure prints the seed that replays it.
soak: build
	.build/debug/alarm-soak --kills 1000 --work .soak
	.build/debug/alarm-soak --faults 10000 --seed 1

clean:
	rm -rf .build .build-asan .build-tsan .sim .soak .fuzz $(VENV) bench/results.json

# The unit tests under AddressSanitizer, then ThreadSanitizer (separate build trees; slow; not part of CI).
sanitize: deps venv
	$(SWIFT) build --build-tests --sanitize=address --scratch-path .build-asan
	$(SWIFT) test --skip-build --sanitize=address --scratch-path .build-asan
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path .build-tsan
	$(SWIFT) test --skip-build --sanitize=thread --scratch-path .build-tsan

# libFuzzer targets over the pure codecs, built with swiftc (the codecs have no dependencies by design).
# Each runs for FUZZ_SECONDS with the seed corpus in Tests/Fuzz/corpus/<target>; crashes land in .fuzz/.
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   := -sanitize=fuzzer,address -parse-as-library -O -g
fuzz:
	@mkdir -p .fuzz/lib
	swiftc $(FUZZ_FLAGS) -emit-module -emit-library -static -module-name AlarmCore -emit-module-path .fuzz/lib/AlarmCore.swiftmodule \
	  -o .fuzz/lib/libAlarmCore.a Sources/AlarmCore/*.swift 2>/dev/null
	swiftc $(FUZZ_FLAGS) -emit-module -emit-library -static -module-name AlarmCodecs -I .fuzz/lib -emit-module-path .fuzz/lib/AlarmCodecs.swiftmodule \
	  -o .fuzz/lib/libAlarmCodecs.a $$(find Sources/AlarmCodecs -name '*.swift') 2>/dev/null
	for t in AT DC09 SMS; do \
	  swiftc $(FUZZ_FLAGS) -I .fuzz/lib Tests/Fuzz/Fuzz$$t.swift .fuzz/lib/libAlarmCodecs.a .fuzz/lib/libAlarmCore.a -o .fuzz/fuzz-$$t 2>/dev/null || exit 1; \
	done
	swiftc $(FUZZ_FLAGS) Tests/Fuzz/FuzzJSON5.swift Sources/AlarmRuntime/Board/JSONValue.swift -o .fuzz/fuzz-JSON5 2>/dev/null
	swiftc $(FUZZ_FLAGS) -I .fuzz/lib -I hal/CLibGPS Tests/Fuzz/FuzzGPSD.swift hal/GPSD/GPSFixMapping.swift .fuzz/lib/libAlarmCore.a -o .fuzz/fuzz-GPSD 2>/dev/null
	@rm -f .fuzz/*-crash-*
	for t in AT DC09 SMS JSON5 GPSD; do \
	  lower=$$(echo $$t | tr A-Z a-z); mkdir -p .fuzz/corpus-$$lower; \
	  echo "fuzz $$t:"; \
	  SWIFT_BACKTRACE=enable=no .fuzz/fuzz-$$t -max_total_time=$(FUZZ_SECONDS) -timeout=5 -artifact_prefix=.fuzz/$$lower- \
	    .fuzz/corpus-$$lower Tests/Fuzz/corpus/$$lower 2>&1 | grep -a -E '^Done|ERROR|SUMMARY' | head -3; \
	done
	@# A crash in our code fails the run; a timeout inside libgps (gpsd target) is a known third-party finding.
	@if ls .fuzz/*-crash-* >/dev/null 2>&1; then echo "crashes:"; ls .fuzz/*-crash-*; exit 1; fi
