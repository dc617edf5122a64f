# Top-level wrapper (README "Quick start"):
#   make         install missing Debian packages, build build/spimguard,
#                the library and the default model
#   make check   build and run every test (what .ci/run calls), then the
#                unit tests again under AddressSanitizer + UBSan
#   make demo    run the main job on a bundled real example
#   make bench   print the speed and accuracy figures (bench/)
#   make fuzz    build the libFuzzer targets and run each for FUZZ_SECONDS
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 30
CHECK_FUZZ_SECONDS ?= 10
JOBS ?= $(shell nproc)
MAKEFLAGS += --no-print-directory

# Debian packages the build, tests and benchmarks need (Debian 12).
DEB_PACKAGES = build-essential cmake pkg-config clang libclang-rt-14-dev \
  libicu-dev libpsl-dev publicsuffix libjansson-dev libxxhash-dev \
  liblmdb-dev libhiredis-dev libmicrohttpd-dev libsodium-dev libpcre2-dev \
  libcmocka-dev libjemalloc-dev bogofilter redis-server

.PHONY: all deps deps-test build check test asan demo bench fuzz clean

all: build

# Packages only the end-to-end tests and benchmarks need (a real XMPP
# server and client library, an HTTP load generator).
TEST_PACKAGES = prosody python3-slixmpp chromium wrk curl

# install_missing LIST: apt-get install whatever of LIST is not installed.
define install_missing
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "run as root (or install:$$missing)" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	fi
endef

deps:
	$(call install_missing,$(DEB_PACKAGES))

deps-test: deps
	$(call install_missing,$(TEST_PACKAGES))

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

test: build deps-test
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

asan: deps
	cmake -S . -B $(ASAN_BUILD) -DSG_ASAN=ON -DSG_DEFAULT_MODEL=OFF -DCMAKE_C_COMPILER=clang >/dev/null
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && SG_SLOW_TESTS=0 ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j$(JOBS) -L unit

# make check: every test, the unit tests under ASan + UBSan, and a short
# run of every libFuzzer target (FUZZ_SECONDS each; `make fuzz` for longer).
# The full CTest run goes last, so its summary closes the output.
check: asan
	$(MAKE) fuzz FUZZ_SECONDS=$(CHECK_FUZZ_SECONDS)
	$(MAKE) test

demo: build
	@sh tools/demo.sh $(BUILD)/spimguard

bench: build
	@sh bench/run.sh $(BUILD)

fuzz: deps
	cmake -S . -B $(FUZZ_BUILD) -DSG_FUZZ=ON -DSG_DEFAULT_MODEL=OFF -DCMAKE_C_COMPILER=clang >/dev/null
	cmake --build $(FUZZ_BUILD) -j$(JOBS)
	@for f in $(FUZZ_BUILD)/fuzz_*; do [ -f $$f ] && [ -x $$f ] || continue; n=$$(basename $$f); echo "== $$n ($(FUZZ_SECONDS) s)"; \
	  mkdir -p $(FUZZ_BUILD)/corpus-$$n; \
	  if ! $$f -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -artifact_prefix=$(FUZZ_BUILD)/$$n- \
	       $(FUZZ_BUILD)/corpus-$$n fuzz/seeds > $(FUZZ_BUILD)/$$n.log 2>&1; then \
	    tail -n 40 $(FUZZ_BUILD)/$$n.log; echo "$$n FAILED (crash input in $(FUZZ_BUILD)/$$n-*)"; exit 1; fi; \
	  tail -n 1 $(FUZZ_BUILD)/$$n.log; done

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
