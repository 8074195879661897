# micromoment: the two commands of the quick start are `make demo` and
# `make test`; both install missing Debian packages first.
BUILD      ?= build
BUILD_SAN  ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=

.PHONY: all build build-asan deps deps-test demo test test-unit test-integration \
        test-asan bench clean

all: build

deps:
	@scripts/install-deps.sh

deps-test:
	@MM_DEPS_TEST=1 scripts/install-deps.sh

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

build-asan:
	@cmake -S . -B $(BUILD_SAN) -DCMAKE_BUILD_TYPE=Debug -DMM_SANITIZE=ON $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD_SAN) -j$(JOBS)

demo: deps build
	@$(BUILD)/micromoment demo

# Unit tests in the normal and the sanitizer build, then the integration
# suite (real sockets: micromoment broker + kcat) in both.
test: deps-test build build-asan
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -L unit
	@cd $(BUILD_SAN) && ctest --output-on-failure -j$(JOBS) -L unit
	@cd $(BUILD) && ctest --output-on-failure -L integration
	@cd $(BUILD_SAN) && ctest --output-on-failure -L integration

test-unit: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -L unit

test-integration: build
	@cd $(BUILD) && ctest --output-on-failure -L integration

bench: deps build
	@bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD_SAN) build-*
