# Herald — build and test entry points. `make test` is what CI runs.
GO ?= go
PKGS := ./...

.PHONY: all build test lint vet staticcheck unit e2e e2e-deps bench fmt fuzz

all: build

build:
	$(GO) build -o bin/herald ./cmd/herald

fmt:
	gofmt -l -w .

vet:
	$(GO) vet $(PKGS)

staticcheck:
	$(GO) tool staticcheck $(PKGS)

lint: vet staticcheck
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

unit:
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

# The end-to-end suite: the built binary against real Chromium (Debian's
# package, installed when missing) and the npm eventsource client.
e2e-deps:
	./e2e/install.sh

e2e: build e2e-deps
	HERALD_BIN=$(CURDIR)/bin/herald ./e2e/run.sh

test: lint unit e2e

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 3 $(PKGS)

# Every fuzz target of the module, one after another, each for FUZZTIME:
# `make fuzz FUZZTIME=10m FUZZFLAGS='-parallel 1'`. Targets are found with
# `go test -list`, so a new Fuzz function runs without being named here.
# `make unit` runs their seeds (f.Add and testdata/fuzz) as tests.
# Go minimises each new interesting input for up to 60s, reporting no
# progress meanwhile; a short run then does little else (FuzzMatch for a
# minute: 0.2 million execs at 60s, 0.8 million at 5s), hence
# FUZZMINIMIZETIME. A crasher is written either way, minimised as far as
# that time allows.
FUZZTIME ?= 30s
FUZZMINIMIZETIME ?= 5s
FUZZFLAGS ?=

fuzz:
	@list=$$($(GO) test -list '^Fuzz' $(PKGS)) || { echo "$$list"; exit 1; }; \
	echo "$$list" | awk '/^Fuzz/ { names = names " " $$1 } /^ok/ { n = split(names, f, " "); for (i = 1; i <= n; i++) print $$2, f[i]; names = "" }' | \
	while read -r pkg name; do \
		echo "== $$name ($$pkg)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $(FUZZFLAGS) $$pkg || exit 1; \
	done
