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

# Quiet builds: the compiler's output goes to DIR/build.log; what is shown
# is one line, or the errors and the end of the log when the build fails.
# V=1 shows everything.
define quiet_build # DIR TYPE ARGS
	@mkdir -p $(1)
	@if [ "$(V)" = 1 ]; then \
	  cmake -S . -B $(1) -DCMAKE_BUILD_TYPE=$(2) $(3) $(CMAKE_ARGS) && cmake --build $(1) -j$(JOBS); \
	elif cmake -S . -B $(1) -DCMAKE_BUILD_TYPE=$(2) $(3) $(CMAKE_ARGS) >$(1)/build.log 2>&1 && \
	     cmake --build $(1) -j$(JOBS) >>$(1)/build.log 2>&1; then \
	  echo "built $(1)/micromoment ($(2)$(if $(3), $(3)); log: $(1)/build.log)"; \
	else \
	  grep -E 'error|Error|warning' $(1)/build.log | head -n 40; \
	  echo "build failed; the last lines of $(1)/build.log:"; tail -n 20 $(1)/build.log; exit 1; \
	fi
endef

build:
	$(call quiet_build,$(BUILD),RelWithDebInfo,)

build-asan:
	$(call quiet_build,$(BUILD_SAN),Debug,-DMM_SANITIZE=ON)

demo: deps build
	@$(BUILD)/micromoment demo

# Unit tests in the normal and the sanitizer build, a short fuzzing pass, the
# integration suite (real sockets, kcat) on both brokers (the development
# broker and a real Apache Kafka, tests/kafka), and the sanitizer build's
# integration tests that exercise decoding and the pipeline end to end on the
# development broker (the rest would not fit make test's time). When real Kafka cannot be provisioned, one
# line says so and its half is skipped; MM_REQUIRE_KAFKA=1 makes that fail.
# Each ctest run leaves a JUnit report in DIR/junit/; the last step prints
# every skipped test with its reason (scripts/ctest-skips.py).
JUNIT = --output-junit junit/$(1).xml
test: deps-test build build-asan
	@rm -rf $(BUILD)/junit $(BUILD_SAN)/junit; mkdir -p $(BUILD)/junit $(BUILD_SAN)/junit
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -L unit $(call JUNIT,unit)
	@cd $(BUILD_SAN) && ctest --output-on-failure -j$(JOBS) -L unit $(call JUNIT,unit)
	@FUZZ_SECONDS=20 fuzz/run.sh
	@cd $(BUILD) && { ctest --output-on-failure -j2 -L integration $(call JUNIT,integration); rc=$$?; cat kafka/unavailable 2>/dev/null; exit $$rc; }
	@cd $(BUILD_SAN) && ctest --output-on-failure -L integration-mock $(call JUNIT,integration) \
	  -R '^integration\.mock\.test_(pipeline|cli|dirty_stream)$$'
	@python3 scripts/ctest-skips.py $(BUILD)/junit/*.xml $(BUILD_SAN)/junit/*.xml

test-unit: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -L unit

# MM_TEST_BOOTSTRAP=host:port make test-integration runs the suite against
# that cluster (topics and groups carry a unique run id).
test-integration: deps-test build
	@rm -rf $(BUILD)/junit; mkdir -p $(BUILD)/junit
	@cd $(BUILD) && { ctest --output-on-failure -L $(if $(MM_TEST_BOOTSTRAP),integration-kafka,integration) $(call JUNIT,integration); rc=$$?; cat kafka/unavailable 2>/dev/null; exit $$rc; }
	@python3 scripts/ctest-skips.py $(BUILD)/junit/*.xml

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
