# sessionspec: conformance suite and reference server for HTTP sessions.
# `make help` lists the targets. CI runs `make test` (see .ci/run).

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
# Stages run in the order they are listed, one after the other.
.NOTPARALLEL:

GO ?= go
# Interpreter with Twisted: Debian's python3-twisted installs into Debian's
# python3, not into a python3 on PATH that may be a pyenv shim. Exported so
# tests and tools can find it.
TWISTED_PYTHON ?= /usr/bin/python3
export TWISTED_PYTHON

# Packages whose tests also run compiled to WebAssembly (a listed package
# must exist and run tests: ci/wasm-test.sh fails otherwise). chromedp and
# the CLI stay native. A wasm test that spins never reaches its own alarm
# (no preemption), so the bound is kept short.
export WASM_TIMEOUT ?= 5m
WASIP1_PKGS ?= ./fakeclock ./reference ./spec
JS_PKGS ?= ./fakeclock ./reference

# Arguments for `make run`, e.g. make run RUN_ARGS=http://127.0.0.1:8080
RUN_ARGS ?=

RACE_TIMEOUT ?= 30m
# Flags for bin/bench, e.g. BENCH_FLAGS='-only throughput,memory' or -quick.
BENCH_FLAGS ?=

# `make test` runs these stages in this order. Adding a stage is one line
# here (plus its target below).
TEST_STAGES :=
TEST_STAGES += deps
TEST_STAGES += vet
TEST_STAGES += test-race
TEST_STAGES += test-gotest
TEST_STAGES += test-browser
TEST_STAGES += test-wasm
TEST_STAGES += test-wasm-host
TEST_STAGES += test-stability
TEST_STAGES += test-fuzz
TEST_STAGES += test-load
TEST_STAGES += test-twisted
TEST_STAGES += test-targets

stage = @printf '\n==> %s\n' "$(1)"


.PHONY: test-stability stability stability-wall test-fuzz fuzz test-load
.PHONY: help deps build vet test test-race test-browser test-wasm test-wasip1 test-js run bench clean

help: ## list the targets
	@echo 'usage: make TARGET'
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk -F ':.*## ' '{ printf "  %-12s %s\n", $$1, $$2 }'

deps: ## install missing Debian packages (chromium, twisted, wrk), check node, go mod download
	$(call stage,deps: ci/install-deps.sh)
	@bash ci/install-deps.sh

build: ## go build ./... and build bin/sessionspec
	$(call stage,go build)
	$(GO) build ./...
	$(GO) build -o bin/sessionspec ./cmd/sessionspec

vet: ## gofmt check (fails on any unformatted file) and go vet
	$(call stage,gofmt -l)
	@unformatted=$$(gofmt -l .); \
	if [[ -n $$unformatted ]]; then \
		echo "gofmt: these files need gofmt -w:"; echo "$$unformatted"; exit 1; \
	fi; echo "gofmt: all files formatted"
	$(call stage,go vet ./...)
	$(GO) vet ./...

test: $(TEST_STAGES) ## what CI runs: deps, vet, test-race, test-wasm (see TEST_STAGES)
	@printf '\n==> make test: all stages passed: %s\n' "$(TEST_STAGES)"

test-race: ## go test -race over ./...
	$(call stage,go test -race ./...)
	$(GO) test -race -count=1 -timeout $(RACE_TIMEOUT) ./...

.PHONY: test-gotest
test-gotest: ## spec.Test from other modules: examples/gotest (passes; fails naming TIMEOUT-003 with the bug planted) and scs in process
	$(call stage,spec.Test from other modules: examples/gotest and targets/scs)
	@bash ci/gotest.sh

test-browser: ## the browser cases (BROWSER-*) in headless Chromium against the reference; fails without Chromium
	$(call stage,go test ./browser/: the seeds' walk-throughs in headless Chromium against the reference)
	$(GO) test -count=1 -timeout 10m -v ./browser/

test-wasm: test-wasip1 test-js ## the WebAssembly runs: wasip1 (wazero) and js (node)

test-wasip1: ## go test WASIP1_PKGS as GOOS=wasip1, run by wazero
	@bash ci/wasm-test.sh wasip1 $(WASIP1_PKGS)

test-js: ## go test JS_PKGS as GOOS=js, run by node
	@bash ci/wasm-test.sh js $(JS_PKGS)

run: ## go run ./cmd/sessionspec check RUN_ARGS
	$(GO) run ./cmd/sessionspec check $(RUN_ARGS)

bench: ## side-by-side run (about 11 min, 127.0.0.1 only): reference vs Twisted 22.4 vs bare net/http under wrk, memory per session, expiry storm, fake clocks, suite times, the reference on Redis and as three replicas (-only cluster); writes BENCHMARKS.md and bench/plots/
	$(call stage,bench: build bin/sessionspec and bin/bench (bench/ is a module of its own))
	$(GO) build -o bin/sessionspec ./cmd/sessionspec
	cd bench && $(GO) build -o ../bin/bench .
	$(call stage,bench: bin/bench $(BENCH_FLAGS))
	bin/bench $(BENCH_FLAGS)

clean: ## remove bin/, bench.txt, wazero's compilation cache and the test cache
	rm -rf bin bench.txt "$${TMPDIR:-/tmp}/wazero"
	$(GO) clean -testcache

test-stability: ## 50 consecutive checks of the embedded reference on the fake clock
	$(call stage,stability: 50 checks on the fake clock)
	@bash ci/stability.sh fake 50

stability: test-stability stability-wall ## 50 runs on the fake clock and 20 on the wall clock (about 8 min)

stability-wall: ## 20 consecutive checks of `serve --timeout 2s` on the wall clock
	$(call stage,stability: 20 checks on the wall clock)
	@bash ci/stability.sh wall 20

# The peers (targets/*/peer.json) of one `make test` stage, checked one
# after another against their expectations: the modes whose manifest says
# "stage": "$(1)". Fails (after running them all) if one differs or cannot run.
check-peers = @peers=$$(bin/sessionspec peers --names --stage $(1)); \
	[[ -n $$peers ]] || { echo "$(1): no peer manifest names this stage"; exit 1; }; \
	failed=; for t in $$peers; do \
		printf '\n==> %s: sessionspec check --target %s\n' "$(1)" "$$t"; \
		bin/sessionspec check --target "$$t" || failed="$$failed $$t"; \
	done; \
	if [[ -n $$failed ]]; then echo "$(1): FAILED:$$failed"; exit 1; fi

.PHONY: test-twisted
test-twisted: bin/sessionspec ## Twisted 22.4 itself (targets/twisted): the modes of targets/twisted/peer.json with "stage": "test-twisted" (seed examples on the wall and a controlled clock, the docs' ExpirationLogger); fails without Twisted
	$(call check-peers,test-twisted)

test-fuzz: ## every fuzz target for 20,000 inputs (cookie parsing, clock parameters, discovery, expectations)
	$(call stage,fuzz: 20000 inputs per target)
	@bash ci/fuzz.sh

fuzz: ## every fuzz target for FUZZTIME (default 10m)
	$(call stage,fuzz: $(or $(FUZZTIME),10m) per target)
	@FUZZTIME=$(or $(FUZZTIME),10m) bash ci/fuzz.sh

test-load: ## the concurrent model check of the reference over HTTP, under -race, with its figures
	$(call stage,load: model check of the reference under -race)
	@$(GO) test -race -count=1 -run '^TestModelCheckUnderLoad$$' -v ./reference | \
		grep -E 'model check:|^(--- |ok|FAIL)' | sed 's/^ *load_test.go:[0-9]*: //'

.PHONY: deps-targets test-targets matrix bin/sessionspec
# bin/sessionspec is always rebuilt (go build's cache makes it quick).
bin/sessionspec:
	$(GO) build -o bin/sessionspec ./cmd/sessionspec

deps-targets: bin/sessionspec ## install what every peer's manifest (targets/*/peer.json) needs and is missing: Debian packages, npm ci, go mod download; idempotent, one versions line per peer
	$(call stage,deps-targets: sessionspec peers install)
	@bin/sessionspec peers install

test-targets: deps-targets ## the peers' modes with "stage": "test-targets" in their manifests (`bin/sessionspec peers --stage test-targets`) against their expectations; fails if one differs or cannot run
	$(call check-peers,test-targets)

.PHONY: readme-peers
readme-peers: bin/sessionspec ## regenerate README.md's table of peers (between its peers markers) from targets/*/peer.json
	@bin/sessionspec peers --markdown > bin/peers.md
	@awk 'FNR == NR { t = t $$0 "\n"; next } /^<!-- \/peers -->/ { skip = 0 } !skip { print } /^<!-- peers/ { printf "%s", t; skip = 1 }' bin/peers.md README.md > README.md.tmp
	@mv README.md.tmp README.md
	@echo "README.md: $$(grep -c '^| `targets/' bin/peers.md) peer modes"

# Arguments for `make matrix`, e.g. MATRIX_ARGS='-only tomcat,scs' or '-run=false'.
MATRIX_ARGS ?=
matrix: deps deps-targets build ## every peer's every mode (targets/*/peer.json), HTTP and browser cases, 2 at a time: reports/matrix.{html,md}, targets/MATRIX.md
	$(call stage,matrix: go run ./targets/matrix (a few minutes))
	$(GO) run ./targets/matrix -snapshot targets/MATRIX.md $(MATRIX_ARGS)
	@$(MAKE) --no-print-directory readme-peers

# WebAssembly host (wasmhost/, targets/wasm/): wasip1 servers, the reference
# and an independent plain net/http one, checked under `sessionspec host` on
# virtual time.
.PHONY: test-wasm-host wasm-stability

test-wasm-host: ## build the wasip1 guests (targets/wasm) and check each under `sessionspec host` on virtual time
	$(call stage,wasm host: the wasip1 reference and plainserver under sessionspec host (900 s timeout on virtual time))
	@bash targets/wasm/check.sh

wasm-stability: ## 50 consecutive checks of the wasip1 reference under one `sessionspec host` (about 2 min)
	$(call stage,wasm host: 50 consecutive checks of the wasip1 reference)
	@bash targets/wasm/check.sh stability 50
