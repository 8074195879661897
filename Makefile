# micromoment: the two commands of the quick start are `make demo` and
# `make test`; both install missing Debian packages first.
BUILD        ?= build
BUILD_SAN    ?= build-asan
JOBS         ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS   ?=
FUZZ_SECONDS ?= 60
PREFIX       ?= /usr/local

.PHONY: all build build-asan deps deps-test deps-bench bench-quick demo test test-unit test-integration \
        fuzz fuzz-short bench install package clean

all: build

deps:
	@scripts/install-deps.sh

deps-test:
	@MM_DEPS_TEST=1 scripts/install-deps.sh

deps-bench:
	@MM_DEPS_BENCH=1 scripts/install-deps.sh

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

build-asan:
	@cmake -S . -B $(BUILD_SAN) -DCMAKE_BUILD_TYPE=Debug -DMM_SANITIZE=ON $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD_SAN) -j$(JOBS)

demo: deps build
	@$(BUILD)/micromoment demo

# Unit tests in the normal and the sanitizer build, a short fuzzing pass, the
# integration suite (real sockets, kcat) on both brokers (the development
# broker and a real Apache Kafka, tests/kafka), and the sanitizer build's
# integration tests that exercise decoding and the pipeline end to end on the
# development broker (the rest would not fit make test's time). When real Kafka cannot be provisioned, one
# line says so and its half is skipped; MM_REQUIRE_KAFKA=1 makes that fail.
test: deps-test build build-asan
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -L unit
	@cd $(BUILD_SAN) && ctest --output-on-failure -j$(JOBS) -L unit
	@FUZZ_SECONDS=20 fuzz/run.sh
	@cd $(BUILD) && { ctest --output-on-failure -j2 -L integration; rc=$$?; cat kafka/unavailable 2>/dev/null; exit $$rc; }
	@cd $(BUILD_SAN) && ctest --output-on-failure -L integration-mock \
	  -R '^integration\.mock\.test_(pipeline|cli|dirty_stream)$$'

test-unit: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -L unit

# MM_TEST_BOOTSTRAP=host:port make test-integration runs the suite against
# that cluster (topics and groups carry a unique run id).
test-integration: deps-test build
	@cd $(BUILD) && { ctest --output-on-failure -L $(if $(MM_TEST_BOOTSTRAP),integration-kafka,integration); rc=$$?; cat kafka/unavailable 2>/dev/null; exit $$rc; }

fuzz: deps-test
	@FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh

bench: deps-bench build
	@bench/run.sh $(BUILD)

bench-quick: deps-bench build
	@QUICK=1 bench/run.sh $(BUILD)

install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

package: deps
	@cmake -S . -B build-pkg -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
	@cmake --build build-pkg -j$(JOBS) --target micromoment
	@cd build-pkg && cpack -G DEB

clean:
	rm -rf $(BUILD) $(BUILD_SAN) build-*
