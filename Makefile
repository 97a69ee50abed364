# Paddock: the two entry points are `make serve` and `make test` (see README.md).
# Both install what they need (apt-get, only when missing), build, and run.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
BUILD ?= build/release
TBUILD ?= build/test
FBUILD ?= build/fuzz
# The CUDA backend is built wherever nvcc is found (CI compiles it for sm_90a; its tests, label
# "gpu", run with `make test-gpu` on a GPU machine). PADDOCK_CUDA=OFF skips it.
CUDA_AUTO := $(if $(shell command -v nvcc 2>/dev/null),ON,OFF)
CMAKE_COMMON := -DPADDOCK_CUDA=$(or $(PADDOCK_CUDA),$(CUDA_AUTO))
GBUILD ?= build/cuda
FUZZ_SECONDS ?= 45
FUZZ_LONG_SECONDS ?= 600
FUZZ_FINDINGS ?= build/fuzz-findings

.PHONY: all deps deps-test build build-test serve test test-gpu unit integration fuzz fuzz-build fuzz-long bench fmt clean \
        image image-cuda

all: build

deps:
	@tools/install_deps.sh

deps-test:
	@tools/install_deps.sh --test

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DPADDOCK_TESTS=OFF $(CMAKE_COMMON) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) --target paddock

build-test: deps-test
	@cmake -S . -B $(TBUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPADDOCK_SANITIZE=ON -DPADDOCK_WERROR=ON \
	  -DPADDOCK_BENCH=OFF $(CMAKE_COMMON) >/dev/null
	@cmake --build $(TBUILD) -j $(JOBS)

serve: build
	@tools/serve.sh $(BUILD)/src/cli/paddock

test: build-test
	@cd $(TBUILD) && ctest --output-on-failure -j $(JOBS) --timeout 900 -LE gpu
	@$(MAKE) --no-print-directory fuzz

# On a GPU machine: the CUDA op, model and oracle tests (release build, no sanitizers).
test-gpu: deps-test
	@cmake -S . -B $(GBUILD) -DCMAKE_BUILD_TYPE=Release -DPADDOCK_CUDA=ON -DPADDOCK_BENCH=ON >/dev/null
	@cmake --build $(GBUILD) -j $(JOBS)
	@cd $(GBUILD) && ctest --output-on-failure --timeout 900 -L gpu

unit: build-test
	@cd $(TBUILD) && ctest --output-on-failure -j $(JOBS) -L unit -LE gpu

fuzz-build: deps-test
	@CC=clang CXX=clang++ cmake -S . -B $(FBUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPADDOCK_FUZZ=ON \
	  -DPADDOCK_TESTS=OFF -DPADDOCK_BENCH=OFF -DPADDOCK_CUDA=OFF >/dev/null
	@cmake --build $(FBUILD) -j $(JOBS) --target fuzz_all

# CI: replay every corpus (regression inputs included), then FUZZ_SECONDS per target with a fixed
# seed, so a commit's result does not depend on luck (tests/fuzz/run.sh).
fuzz: fuzz-build
	@tests/fuzz/run.sh $(FBUILD)/tests/fuzz $(FUZZ_SECONDS)

# Exploratory: random seeds, FUZZ_LONG_SECONDS per target; findings land in FUZZ_FINDINGS/<target>/
# to be fixed and added to tests/fuzz/corpus/<target>/ (how: the header of tests/fuzz/run.sh).
fuzz-long: fuzz-build
	@tests/fuzz/run.sh --explore $(FBUILD)/tests/fuzz $(FUZZ_LONG_SECONDS) $(FUZZ_FINDINGS)

bench: build
	@cmake -S . -B $(BUILD) -DPADDOCK_BENCH=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@bench/run.sh $(BUILD)

# Container images (deploy/docker/; needs docker or podman with BuildKit). IMAGE_TAG names them.
CONTAINER ?= $(shell command -v docker 2>/dev/null || command -v podman 2>/dev/null)
IMAGE_TAG ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
IMAGE_ARGS = --build-arg VERSION=$(IMAGE_TAG) --build-arg REVISION=$(shell git rev-parse HEAD 2>/dev/null || echo unknown) \
  --build-arg CREATED=$(shell date -u +%Y-%m-%dT%H:%M:%SZ)

image:
	@python3 deploy/docker/check_dockerfile.py deploy/docker/Dockerfile.cpu
	$(CONTAINER) build -f deploy/docker/Dockerfile.cpu $(IMAGE_ARGS) -t paddock:$(IMAGE_TAG)-cpu .

image-cuda:
	@python3 deploy/docker/check_dockerfile.py deploy/docker/Dockerfile.cuda
	$(CONTAINER) build -f deploy/docker/Dockerfile.cuda $(IMAGE_ARGS) $(if $(CUDA_ARCH),--build-arg CUDA_ARCH=$(CUDA_ARCH)) \
	  -t paddock:$(IMAGE_TAG)-cuda .

fmt:
	@git ls-files '*.cpp' '*.h' '*.cu' '*.cuh' | xargs -r clang-format -i

clean:
	rm -rf build
