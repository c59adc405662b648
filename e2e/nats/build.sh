#!/usr/bin/env bash
# Builds nats-server (the version pinned in this module's go.mod, from the Go
# module proxy: no download of a release) into e2e/artifacts/nats-server,
# for the cluster scenario. Does nothing when it is there and no older than
# go.mod; `e2e/nats/build.sh -f` builds it again.
set -euo pipefail
cd "$(dirname "$0")"

out=../artifacts/nats-server
if [ "${1:-}" != -f ] && [ -x "$out" ] && [ "$out" -nt go.mod ] && [ "$out" -nt go.sum ]; then
	exit 0
fi
mkdir -p ../artifacts
echo "e2e/nats/build.sh: building $(awk '$1 == "github.com/nats-io/nats-server/v2" { print $1 "@" $2 }' go.mod)" >&2
GOFLAGS=-mod=mod go build -o "$out.tmp" github.com/nats-io/nats-server/v2
mv "$out.tmp" "$out"
