#!/bin/bash
# Every figure of the Mercure hub's scenarios in docs/benchmarks.md, measured
# again (issue 14's "Re-measured" section), from the repository's root after
# `make build`:
#
#   OUT=/tmp/all docs/bench/all.sh          # 3 rounds of every scenario, then state.sh
#   OUT=/tmp/all docs/bench/all.sh go       # the Go benchmarks only, -count 3
#
# Each run is run.py against a fresh hub (serve.sh), once the box is quiet
# (quiet.sh); the rounds go through every scenario in turn, so that a slow
# spell of the box spreads over all of them rather than spoiling one. Every
# scenario names its journal (serve.sh alone would start a memory journal).
set -e
here=$(dirname "$0")
export OUT=${OUT:-/tmp/herald-all} PORT=${PORT:-18090}
mkdir -p "$OUT"
# shellcheck source=quiet.sh
. "$here/quiet.sh"

gobench() {
  go test -run '^$' -bench . -benchmem -count 3 ./sse/ ./client/ ./internal/hub/ ./internal/selector/ \
    ./internal/journal/bolt/ ./internal/server/ 2>&1 | tee "$OUT/gobench.txt"
}
if [ "$1" = go ]; then
  quiet gobench
  gobench
  exit
fi

# name | serve flags | bench arguments
scenarios=(
  "idle-sse|--journal bolt|idle --transport sse -n 15000"
  "idle-ws|--journal bolt|idle --transport ws -n 15000"
  "fan-sse|--journal bolt|fanout --transport sse -n 10000 --rates 10,20,30,40 --duration 10s"
  "fan-sse-2w|--journal bolt --push-workers 2|fanout --transport sse -n 10000 --rates 10,20,30,40 --duration 10s"
  "fan-ws|--journal bolt|fanout --transport ws -n 10000 --rates 20 --duration 10s"
  "fan-tmpl|--journal bolt|fanout -n 10000 --rates 20 --duration 10s --topic https://herald.bench/books/1 --selector https://herald.bench/books/{id}"
  "pub-mem|--journal memory --publish-rate 0|publish -c 16 --duration 10s"
  "pub-bolt|--journal bolt --publish-rate 0|publish -c 16 --duration 10s"
  "pub-ws|--journal memory --publish-rate 0|publish --transport ws -c 16 --window 64 --duration 10s"
  "resume|--journal bolt --publish-rate 0|resume -k 100000"
  "poll|--journal bolt|fanout --transport poll -n 5000 --rates 50 --duration 10s"
  "plain-1k|--journal memory --max-selector-cost-per-address 0|fanout -n 1000 --rates 20 --duration 10s"
  "attackers|--journal memory --max-selector-cost-per-address 0|fanout -n 1000 --rates 20 --duration 10s --attackers 1000"
  "churn|--journal bolt --subscriptions|fanout -n 1000 --rates 20 --duration 10s --churn 1000 --churn-selectors 64"
)
rounds
OUT=$OUT/state PORT=$((PORT + 300)) "$here/state.sh"
