# The README's two commands: `make sim` (one whole alarm on simulated hardware) and `make test`.
# Both set up what they need on a fresh Debian/Ubuntu machine (apt via sudo when not root).

SWIFT        ?= swift
SWIFT_PATHS  := /opt/swift/usr/bin /usr/share/swift/usr/bin
export PATH  := $(PATH):$(subst $(eval) ,:,$(SWIFT_PATHS))
# System packages the build, tests and simulator need (later issues add gpsd, ALSA, libmodbus here).
APT_PACKAGES := make binutils pkg-config python3 python3-venv libgps-dev libasound2-dev libmodbus-dev gpsd gpsd-clients iproute2
VENV         := .venv
SUDO         := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
BIN          := .build/debug

.PHONY: all deps venv build sim test hil-sim hil-sim-run bench soak fuzz sanitize clean

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
	$(MAKE) --no-print-directory hil-sim-run

# The HIL scenario suite against the simulator: alarm-rig starts the simulated centre, the daemon on a HIL board
# and a simulated rig I/O module, then runs every scenario exactly as on a bench (docs/hil.md). Part of `make test`.
HIL_SCENARIOS := $(sort $(wildcard Tests/HIL/scenarios/*.json5))
hil-sim: deps
	$(SWIFT) build
	$(MAKE) --no-print-directory hil-sim-run

hil-sim-run:
	$(BIN)/alarm-rig --rig Tests/HIL/rigs/sim.json5 --simulate boards/sim-hil.json5 --logs .hil \
	  --junit .hil/junit.xml --json .hil/results.json $(HIL_SCENARIOS)

# Benchmarks are not tests: timings never decide whether CI passes.
bench: deps venv
	$(SWIFT) build -c release --product alarm-bench
	$(SWIFT) build -c release --product alarmd
	$(SWIFT) build -c release --product alarmd-sim
	@# The device footprint runs the static binary that ships when `make release` has built it.
	@test -x .build-release/dist/alarmd || echo "note: no .build-release/dist/alarmd (make release): footprint.device runs the dynamically linked release alarmd"
	$(SWIFT) build -c release --product modem-emulator
	.build/release/alarm-bench --output bench/results.json

# Not tests: the full-length soaks — 1,000 SIGKILLs of the real daemon during alarms, then 10,000 in-process fault
# scenarios. A failure prints the seed that replays it.
soak: build
	.build/debug/alarm-soak --kills 1000 --work .soak
	.build/debug/alarm-soak --faults 10000 --seed 1

clean:
	rm -rf .build .build-asan .build-tsan .sim .hil .soak .fuzz $(VENV) bench/results.json

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

# ── Deployment on the device (docs/deploy.md) ────────────────────────────────────────────────────────────────────
# `make release`: alarmd and alarmctl optimised for size with the Swift runtime linked in, so the device needs no
# Swift toolchain, only libc and the C libraries the HAL binds to (libgps, libasound, libmodbus). Stripped; the
# symbols stay beside each binary (NAME.debug, found by gdb through .gnu_debuglink) to symbolise a crash.
# A separate build tree: `make bench` keeps its own .build/release.
RELEASE_SCRATCH  := .build-release
RELEASE_DIR      := $(RELEASE_SCRATCH)/dist
RELEASE_FLAGS    := -c release --static-swift-stdlib -Xswiftc -Osize -Xlinker --no-export-dynamic --scratch-path $(RELEASE_SCRATCH)
RELEASE_PRODUCTS := alarmd alarmctl
# binutils for the binaries' architecture (aarch64-linux-gnu-strip and -objcopy when cross-building).
STRIP            ?= strip
OBJCOPY          ?= objcopy

.PHONY: release install

release: deps
	for p in $(RELEASE_PRODUCTS); do $(SWIFT) build $(RELEASE_FLAGS) --product $$p || exit 1; done
	@# The device build links no simulator, emulator, simulator control or Modbus (Tests/DeviceBuildTests checks the debug build).
	@bin=$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path) && \
	if nm --defined-only --format=just-symbols $$bin/alarmd | grep -E '^(\$$s(11SimBackends|13ModemEmulator|15AlarmSimulation|6Modbus|9SimCentre)|modbus_)' | head -3 | grep -q .; then \
	  echo "release alarmd links simulator or Modbus code"; exit 1; fi
	@mkdir -p $(RELEASE_DIR)
	@bin=$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path) && \
	for p in $(RELEASE_PRODUCTS); do \
	  cp $$bin/$$p $(RELEASE_DIR)/$$p && rm -f $(RELEASE_DIR)/$$p.debug && \
	  $(OBJCOPY) --only-keep-debug $(RELEASE_DIR)/$$p $(RELEASE_DIR)/$$p.debug && \
	  $(STRIP) --strip-all $(RELEASE_DIR)/$$p && \
	  (cd $(RELEASE_DIR) && $(OBJCOPY) --add-gnu-debuglink=$$p.debug $$p) || exit 1; \
	  awk -v p=$$p -v s=$$(stat -c %s $(RELEASE_DIR)/$$p) -v u=$$(stat -c %s $$bin/$$p) \
	    'BEGIN { printf "%-9s %5.1f MB stripped (%5.1f MB with symbols)\n", p, s / 1048576, u / 1048576 }'; \
	done
	@echo "shared libraries alarmd needs on the device:"; ldd $(RELEASE_DIR)/alarmd | sed 's/ (0x.*//; s/^/  /'

# `make install [BOARD=boards/NAME.json5] [DESTDIR=…] [PREFIX=/usr/local]`: the binaries from `make release`, the board
# file as /etc/stalking-alarm/board.json5 (an installed board is kept unless BOARD names one), the systemd unit, its
# sysusers.d user and the udev rule that keeps ModemManager off the modem. With DESTDIR (a package or image tree)
# nothing is created outside it and ownership is left to the packager; without it (on the device, as root) the user
# is created, the board made readable to its group and the state directory handed to it.
PREFIX       ?= /usr/local
BINDIR       ?= $(PREFIX)/bin
SYSCONFDIR   ?= /etc
UNITDIR      ?= /etc/systemd/system
SYSUSERSDIR  ?= /etc/sysusers.d
UDEVRULESDIR ?= /etc/udev/rules.d
STATEDIR     ?= /var/lib/stalking-alarm
CONFIGDIR    := $(SYSCONFDIR)/stalking-alarm
BOARD        ?=
# The operator's public key (from `alarm-provision keygen`) and this device's signed bundle (docs/provisioning.md).
OPERATOR_KEY ?=
BUNDLE       ?=

install:
	@for p in $(RELEASE_PRODUCTS); do test -x $(RELEASE_DIR)/$$p || { echo "no $(RELEASE_DIR)/$$p: run 'make release' first (or copy that directory from the build machine)"; exit 1; }; done
	@if [ -n "$(BOARD)" ]; then test -f "$(BOARD)" || { echo "BOARD=$(BOARD): no such file"; exit 1; }; \
	elif [ ! -f "$(DESTDIR)$(CONFIGDIR)/board.json5" ]; then echo "no board installed yet: say BOARD=boards/NAME.json5"; exit 1; fi
	install -d -m 0755 $(DESTDIR)$(BINDIR) $(DESTDIR)$(CONFIGDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(UDEVRULESDIR)
	install -d -m 0700 $(DESTDIR)$(STATEDIR)
	install -m 0755 $(addprefix $(RELEASE_DIR)/,$(RELEASE_PRODUCTS)) $(DESTDIR)$(BINDIR)/
	@# Root-owned and read-only to the daemon (ProtectSystem=strict): the key that decides which bundles count.
	@if [ -n "$(OPERATOR_KEY)" ]; then echo "install -m 0644 $(OPERATOR_KEY) $(DESTDIR)$(CONFIGDIR)/operator.pub"; \
	  install -m 0644 "$(OPERATOR_KEY)" "$(DESTDIR)$(CONFIGDIR)/operator.pub"; \
	elif [ ! -f "$(DESTDIR)$(CONFIGDIR)/operator.pub" ]; then echo "warning: no operator key installed: say OPERATOR_KEY=operator.pub (alarmd refuses to start without it)"; fi
	@if [ -n "$(BUNDLE)" ]; then echo "install -m 0644 $(BUNDLE) $(DESTDIR)$(CONFIGDIR)/provisioning.bundle"; \
	  install -m 0644 "$(BUNDLE)" "$(DESTDIR)$(CONFIGDIR)/provisioning.bundle"; fi
	@if [ -n "$(BOARD)" ]; then \
	  if [ -f "$(DESTDIR)$(CONFIGDIR)/board.json5" ] && ! cmp -s "$(BOARD)" "$(DESTDIR)$(CONFIGDIR)/board.json5"; then \
	    echo "keeping the previous board as $(CONFIGDIR)/board.json5.old"; cp -p "$(DESTDIR)$(CONFIGDIR)/board.json5" "$(DESTDIR)$(CONFIGDIR)/board.json5.old"; fi; \
	  echo "install -m 0640 $(BOARD) $(DESTDIR)$(CONFIGDIR)/board.json5"; install -m 0640 "$(BOARD)" "$(DESTDIR)$(CONFIGDIR)/board.json5"; \
	fi
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' boards/deploy/alarmd.service > $(DESTDIR)$(UNITDIR)/alarmd.service.tmp
	chmod 0644 $(DESTDIR)$(UNITDIR)/alarmd.service.tmp && mv $(DESTDIR)$(UNITDIR)/alarmd.service.tmp $(DESTDIR)$(UNITDIR)/alarmd.service
	install -m 0644 boards/deploy/stalking-alarm.sysusers $(DESTDIR)$(SYSUSERSDIR)/stalking-alarm.conf
	install -m 0644 boards/deploy/90-stalking-alarm-modem.rules $(DESTDIR)$(UDEVRULESDIR)/90-stalking-alarm-modem.rules
	@if [ -z "$(DESTDIR)" ]; then \
	  systemd-sysusers $(SYSUSERSDIR)/stalking-alarm.conf && \
	  chown root:stalking-alarm $(CONFIGDIR)/board.json5 && \
	  chown stalking-alarm:stalking-alarm $(STATEDIR) && \
	  { udevadm control --reload 2>/dev/null; udevadm trigger --subsystem-match=tty --subsystem-match=net --subsystem-match=usb 2>/dev/null; \
	    systemctl daemon-reload 2>/dev/null; true; } && \
	  echo "installed. Next: provision this device's keys in $(CONFIGDIR) (docs/deploy.md), then" && \
	  echo "  sudo -u stalking-alarm $(BINDIR)/alarmd --board $(CONFIGDIR)/board.json5 --check" && \
	  echo "  systemctl enable --now alarmd"; \
	fi
