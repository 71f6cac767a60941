# Everyday commands; CMake does the work.
BUILD ?= build
ASAN ?= build-asan
PREFIX ?= /usr/local
JOBS ?= 2
CMAKE_FLAGS ?=

.PHONY: all deps build asan test test-release test-asan test-ucontext test-cross demo bench stress valgrind install clean

all: build

deps:
	@scripts/deps.sh build

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DCORRAL_WERROR=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

asan: deps
	cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DCORRAL_WERROR=ON -DCORRAL_SANITIZE=ON -DCORRAL_BENCH=OFF $(CMAKE_FLAGS) >/dev/null
	cmake --build $(ASAN) -j$(JOBS)

test-release: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

test-asan: asan
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j$(JOBS)

# The whole suite on the portable ucontext back end.
test-ucontext: deps
	cmake -S . -B build-ucontext -DCMAKE_BUILD_TYPE=Release -DCORRAL_WERROR=ON -DCORRAL_CONTEXT=ucontext -DCORRAL_BENCH=OFF $(CMAKE_FLAGS) >/dev/null
	cmake --build build-ucontext -j$(JOBS)
	cd build-ucontext && ctest --output-on-failure -j$(JOBS)

test-cross:
	@scripts/test-cross.sh

test:
	@scripts/deps.sh test
	$(MAKE) test-release
	$(MAKE) test-asan
	$(MAKE) test-ucontext
	$(MAKE) test-cross

demo: build
	./$(BUILD)/examples/sequential_vs_concurrent

bench: build
	@scripts/deps.sh bench || echo "corral: some peers are missing; they will be reported as missing"
	bench/run.sh $(BUILD)

stress: build
	CORRAL_STRESS_RUNS=2000 ./$(BUILD)/tests/test_stress

valgrind: build
	for t in core groups scopes gather runtime compact tcp http; do \
	  [ -x ./$(BUILD)/tests/test_$$t ] || continue; \
	  valgrind --error-exitcode=9 -q ./$(BUILD)/tests/test_$$t || exit 1; done

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(ASAN) build-ucontext build-cross
