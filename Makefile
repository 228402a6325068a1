# fcmon — `make` builds every program into bin/, `make test` runs everything,
# `make run` starts the demo, `make bench` measures. See README.md.

SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/fcmon/fcmon/internal/core/version.Version=$(VERSION)
GOBUILD := CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)'
PROGRAMS := $(notdir $(wildcard cmd/*))

# The guest agent's size budget, in bytes (2.2 MiB).
GUEST_AGENT_MAX_BYTES := 2306867

.PHONY: all $(PROGRAMS) dist test test-deps lint unit vmtest fuzz bench run clean ui-assets ui-test-deps test-ui help

## all: build every program into bin/ (the default; `make manager` and the
## like build one).
all: $(PROGRAMS)

## help: these targets, from the `## target:` comments of this Makefile.
help:
	@awk '/^## [a-z-]+:/ { if (t) printf "  %-14s %s\n", t, d; t = $$2; sub(/:$$/, "", t); d = substr($$0, length($$2) + 5); next } \
	     /^## / && t { d = d " " substr($$0, 4); next } \
	     { if (t) printf "  %-14s %s\n", t, d; t = "" } END { if (t) printf "  %-14s %s\n", t, d }' $(MAKEFILE_LIST)

$(PROGRAMS):
	$(GOBUILD) -o bin/$@ ./cmd/$@

## dist: the packages into dist/ — .deb and .rpm of fcmon-manager and
## fcmon-host-agent, .deb, .rpm and .apk of fcmon-guest-agent, SHA256SUMS —
## with nfpm (tools/dist), versioned from git and reproducible.
dist: all
	cd tools/dist && go run . -root ../..

# The manager embeds the web UI, charts included (internal/manager/ui/npm).
manager: ui-assets

# The guest agent opts out of the Green Tea collector: for a heap of a few
# hundred kilobytes its per-span metadata costs more resident memory (about
# 0.1 MB, measured) than it saves in GC time.
guest-agent: export GOEXPERIMENT := nogreenteagc

## test: everything — formatting, vet, unit and fuzz-corpus tests, the size
## budget, and the tests against real VMs, databases and browsers.
test: test-deps lint all
	@size=$$(stat -c %s bin/guest-agent); \
	 echo "bin/guest-agent: $$size bytes (budget $(GUEST_AGENT_MAX_BYTES))"; \
	 test $$size -le $(GUEST_AGENT_MAX_BYTES) || { echo "bin/guest-agent exceeds its size budget"; exit 1; }
	scripts/vm-assets.sh
	go test -race -count=1 -timeout 15m $$(go list ./... | grep -v -E '/test/($(SYSTEM_TESTS))$$')
	go test -count=1 -p 1 -timeout 15m $(addprefix ./test/,$(subst |, ,$(SYSTEM_TESTS)))
	cd test/fcsdk && go test -count=1 -timeout 5m ./...

# Tests that boot VMs, run a browser or measure CPU: one package at a time, so
# they do not compete for this machine's cores with each other.
SYSTEM_TESTS := guestvm|e2e|ui|attack|dist

test-deps: ui-test-deps
	scripts/install-deps.sh

## ui-assets: the UI's npm packages, pinned by web/package-lock.json, into
## web/node_modules; uPlot is copied into internal/manager/ui/npm (gitignored), which
## //go:embed puts into bin/manager. Without it the UI says charts are
## unavailable, so `go build` needs no npm.
UPLOT_FILES := internal/manager/ui/npm/uPlot.iife.min.js internal/manager/ui/npm/uPlot.min.css
ui-assets: $(UPLOT_FILES)

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	@command -v npm >/dev/null || { echo "ui-assets: npm (Node 20 or newer) is required to install the UI's chart library"; exit 1; }
	cd web && npm ci --no-audit --no-fund
	@touch $@

internal/manager/ui/npm/uPlot.%: web/node_modules/.package-lock.json
	cp web/node_modules/uplot/dist/uPlot.$* $@

## ui-test-deps: what the browser tests in test/ui need — the npm packages
## (playwright-core among them) and Debian's Chromium, never a downloaded browser.
ui-test-deps: ui-assets
	@[ -x /usr/bin/chromium ] || { \
	  [ "$$(id -u)" = 0 ] || { echo "ui-test-deps: /usr/bin/chromium is missing; run as root or apt-get install chromium"; exit 1; }; \
	  echo "ui-test-deps: installing chromium"; \
	  export DEBIAN_FRONTEND=noninteractive; scripts/apt-get.sh update -qq && scripts/apt-get.sh install -y -qq chromium >/dev/null; }

## test-ui: only the browser tests (they also run in `make test`, within go test ./...).
test-ui: ui-test-deps
	go test -count=1 -v ./test/ui

## lint: gofmt, go vet, golangci-lint (installed from the Go module proxy at
## the pinned version into .cache/bin) with the import rules of
## docs/architecture.md, and the test over `go list -deps` that checks them.
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := .cache/bin/golangci-lint-$(GOLANGCI_LINT_VERSION)

$(GOLANGCI_LINT):
	@mkdir -p .cache/bin
	GOBIN=$(CURDIR)/.cache/bin go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv .cache/bin/golangci-lint $@

lint: $(GOLANGCI_LINT)
	@out=$$(gofmt -l cmd internal test 2>/dev/null); if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi
	go vet ./...
	cd test/fcsdk && go vet ./...
	$(GOLANGCI_LINT) run ./...
	go test -count=1 ./test/architecture

## fuzz: run every fuzz target for FUZZTIME each (the corpora also run in `make test`).
FUZZTIME ?= 20s
fuzz:
	scripts/fuzz-all.sh $(FUZZTIME)

## bench: footprint and speed figures, written to docs/benchmarks.md.
bench: all
	scripts/bench.sh

## run: the manager, a host agent and two QEMU demo guests (one stressed),
## all on loopback, until Ctrl-C.
run: all
	scripts/run-local.sh

## clean: remove bin/.
clean:
	rm -rf bin
