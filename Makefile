# fcmon — `make` builds every program into bin/, `make test` runs everything,
# `make run` starts the demo, `make bench` measures. See README.md.

SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/fcmon/fcmon/internal/version.Version=$(VERSION)
GOBUILD := CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)'
PROGRAMS := $(notdir $(wildcard cmd/*))

# The guest agent's size budget, in bytes (2.2 MiB).
GUEST_AGENT_MAX_BYTES := 2306867

.PHONY: all $(PROGRAMS) test test-deps lint unit vmtest fuzz bench run clean

all: $(PROGRAMS)

$(PROGRAMS):
	$(GOBUILD) -o bin/$@ ./cmd/$@

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
	go test -race -count=1 -timeout 15m ./...

test-deps:
	scripts/install-deps.sh

lint:
	@out=$$(gofmt -l cmd internal test 2>/dev/null); if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi
	go vet ./...

## fuzz: run every fuzz target for FUZZTIME each (the corpora also run in `make test`).
FUZZTIME ?= 20s
fuzz:
	scripts/fuzz-all.sh $(FUZZTIME)

## bench: footprint and speed figures, written to docs/benchmarks.md.
bench: all
	scripts/bench.sh

## run: the manager (SQLite in ./data), a host agent and a self-registering
## guest agent on this machine, all on loopback, until Ctrl-C.
run: all
	scripts/run-local.sh

clean:
	rm -rf bin
