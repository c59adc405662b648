# Herald — build and test entry points. `make test` is what CI runs.
GO ?= go
PKGS := ./...

.PHONY: all build test lint vet staticcheck unit e2e e2e-deps bench fmt

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
