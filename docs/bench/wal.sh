#!/bin/bash
# The figures the write-ahead log and the generator's reactor changed (issue 14,
# docs/benchmarks.md "Measured 2026-12-06, afternoon"), from the repository's root
# after `make build`:
#
#   OUT=/tmp/wal docs/bench/wal.sh && docs/bench/summary.py /tmp/wal
#
# Three rounds; each scenario against a fresh hub (serve.sh), once the box is quiet
# (quiet.sh), as all.sh does. The A/B runs of the section used the same run.py lines
# with HERALD_BIN set to a build of the commit before each change.
set -e
here=$(dirname "$0")
export OUT=${OUT:-/tmp/herald-wal} PORT=${PORT:-18090}
mkdir -p "$OUT"
# shellcheck source=quiet.sh
. "$here/quiet.sh"
token=bench-admin-token
# name | serve flags | bench arguments
scenarios=(
  "pub-mem|--journal memory --publish-rate 0|publish -c 16 --duration 10s"
  "pub-bolt|--journal bolt --publish-rate 0|publish -c 16 --duration 10s"
  "pub-ws-mem|--journal memory --publish-rate 0|publish --transport ws -c 16 --window 64 --duration 10s"
  "pub-ws-bolt|--journal bolt --publish-rate 0|publish --transport ws -c 16 --window 64 --duration 10s"
  "fan-sse|--journal bolt|fanout --transport sse -n 10000 --rates 10,20,30,40 --duration 10s"
  "fan-tmpl|--journal bolt|fanout -n 10000 --rates 20 --duration 10s --topic https://herald.bench/books/1 --selector https://herald.bench/books/{id}"
  "plain-1k|--journal memory --max-selector-cost-per-address 0|fanout -n 1000 --rates 20 --duration 10s"
  "attackers|--journal memory --max-selector-cost-per-address 0|fanout -n 1000 --rates 20 --duration 10s --attackers 1000"
  "churn|--journal bolt --subscriptions|fanout -n 1000 --rates 20 --duration 10s --churn 1000 --churn-selectors 64"
  "idle-sse|--journal bolt|idle --transport sse -n 15000"
  "db-write|--journal bolt --db-admin-token $token|db-write -c 16 --duration 10s --token $token"
  "db-fanout|--journal bolt --db-admin-token $token|db-fanout -n 10000 --rates 20 --duration 10s --token $token"
  "pub64-mem|--journal memory --publish-rate 0|publish -c 64 --duration 10s"
  "pub64-bolt|--journal bolt --publish-rate 0|publish -c 64 --duration 10s"
)
rounds
