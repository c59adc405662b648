# Herald — build and test entry points. `make test` is what CI runs.
GO ?= go
PKGS := ./...

.PHONY: all build test lint vet staticcheck unit e2e bench fmt

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

test: lint unit

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 3 $(PKGS)
