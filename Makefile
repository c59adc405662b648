# Herald — build and test entry points. `make test` is what CI runs.
GO ?= go
PKGS := ./...

.PHONY: all build test lint vet staticcheck unit e2e e2e-deps e2e-firebase bench fmt fuzz packaging-check docker

all: build

# The version `herald version` prints: git describe of the work tree
# (v1.2.3, v1.2.3-4-gabcdef0, or a bare commit before the first tag, with
# -dirty for uncommitted changes). Without git it is empty and the binary
# says devel. `make build VERSION=v1.2.3` sets it by hand.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
LDFLAGS := -X github.com/heraldhub/herald/internal/cli.Version=$(VERSION)

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/herald ./cmd/herald

# The deploy/ files, checked as far as this machine allows: the systemd
# unit with systemd-analyze (verify must print nothing; the offline
# security score must stay at or below 2.0), the Dockerfile with BuildKit's
# own lint rules and its shape (a Go test module of its own, so BuildKit
# stays out of go.mod), the example config by serve itself, and the
# version stamped into the binary. An image is built and its health check
# run only where a Docker daemon answers.
packaging-check: build
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	sed 's|/usr/local/bin/herald|$(CURDIR)/bin/herald|' deploy/herald.service > "$$tmp/herald.service" && \
	out=$$(systemd-analyze verify "$$tmp/herald.service" 2>&1) && [ -z "$$out" ] || { echo "systemd-analyze verify deploy/herald.service:"; echo "$$out"; exit 1; }; \
	systemd-analyze security --offline=yes --threshold=20 "$$tmp/herald.service" >"$$tmp/security" 2>&1 || { cat "$$tmp/security"; echo "deploy/herald.service: exposure above 2.0"; exit 1; }
	cd deploy/dockerfilecheck && $(GO) test -count=1 ./...
	bin/herald serve --config deploy/herald.toml --print-config >/dev/null
	@v=$$(bin/herald version); echo "$$v"; if [ -n "$(VERSION)" ] && [ "$$v" != "herald $(VERSION)" ]; then echo "want herald $(VERSION)"; exit 1; fi
	@if docker info >/dev/null 2>&1; then $(MAKE) docker; else echo "packaging-check: no Docker daemon; the image was not built"; fi

# The container image, and its health check run once against it.
docker:
	docker build -f deploy/Dockerfile --build-arg VERSION=$(VERSION) -t herald:$(or $(VERSION),dev) .
	@id=$$(docker run -d herald:$(or $(VERSION),dev)) && trap 'docker rm -f "$$id" >/dev/null' EXIT && \
	for i in 1 2 3 4 5 6 7 8 9 10; do docker exec "$$id" herald healthcheck && exit 0; sleep 1; done; docker logs "$$id"; exit 1

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

# The Firebase Admin SDK for Go against the built binary, as its Realtime
# Database emulator (a module of its own, so that the SDK's dependencies
# stay out of Herald's go.mod).
e2e-firebase: build
	cd e2e/firebase && $(GO) vet ./... && HERALD_BIN=$(CURDIR)/bin/herald $(GO) test -count=1 ./...

test: lint unit packaging-check e2e e2e-firebase

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
