#!/usr/bin/env bash
# Runs the end-to-end suite against a built herald binary.
#
#   e2e/run.sh                          every scenario
#   e2e/run.sh tests/02-resume.test.mjs one file (paths relative to e2e/)
#
# HERALD_BIN is the binary under test (default: bin/herald, from `make build`);
# a relative path is taken from the caller's directory. CHROMIUM_BIN
# overrides /usr/bin/chromium. Every missing piece is an error, never a skip.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
bin="${HERALD_BIN:-$here/../bin/herald}"
[[ "$bin" = /* ]] || bin="$PWD/$bin"
chromium="${CHROMIUM_BIN:-/usr/bin/chromium}"

fail() {
	echo "e2e: $*" >&2
	exit 1
}

[ -x "$bin" ] || fail "herald binary not found at $bin: run \`make build\` or set HERALD_BIN"
[ -x "$chromium" ] || fail "chromium not found at $chromium: run e2e/install.sh"
command -v node >/dev/null || fail "node is missing: install Node.js 20 or newer"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || fail "node $(node --version) is too old: Node.js 20 or newer is needed"
command -v curl >/dev/null || fail "curl is missing (the curl scenario runs it): run e2e/install.sh"
command -v openssl >/dev/null || fail "openssl is missing (the TLS scenario makes a certificate): run e2e/install.sh"
for pkg in playwright-core eventsource ws; do
	[ -f "$here/node_modules/$pkg/package.json" ] || fail "npm package $pkg is missing: run e2e/install.sh (npm ci)"
done

cd "$here"
mkdir -p artifacts
if [ $# -eq 0 ]; then
	set -- tests/*.test.mjs
fi
# One file at a time: each starts its own browser and servers, and the
# machines this runs on are small. A test that hangs fails after 2 minutes.
HERALD_BIN="$bin" CHROMIUM_BIN="$chromium" exec node --test --test-concurrency=1 --test-timeout=120000 \
	--test-reporter=spec "$@"
