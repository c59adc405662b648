#!/usr/bin/env bash
# Installs what the end-to-end suite needs, only when it is missing:
# Debian's chromium (and openssl, for the TLS scenario) through apt, the
# npm packages pinned in package-lock.json, and nats-server (for the cluster
# scenario), built with Go from the version pinned in nats/go.mod.
set -euo pipefail
cd "$(dirname "$0")"

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v openssl >/dev/null || missing+=(openssl)
command -v curl >/dev/null || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
	echo "e2e/install.sh: installing ${missing[*]} with apt-get" >&2
	sudo=()
	[ "$(id -u)" -eq 0 ] || sudo=(sudo)
	"${sudo[@]}" apt-get update
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

if ! command -v npm >/dev/null; then
	echo "e2e/install.sh: npm is missing: install Node.js 20 or newer" >&2
	exit 1
fi
npm ci --no-audit --no-fund

if ! command -v go >/dev/null; then
	echo "e2e/install.sh: go is missing: it builds nats-server for the cluster scenario" >&2
	exit 1
fi
nats/build.sh
