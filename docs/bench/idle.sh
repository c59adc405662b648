#!/bin/bash
# The figures the leaner idle subscriber changed (issue 14, docs/benchmarks.md
# "Measured 2026-12-06, evening"), from the repository's root after `make build`:
#
#   OUT=/tmp/idle docs/bench/idle.sh && docs/bench/summary.py /tmp/idle
#
# Three rounds; each scenario against a fresh hub (serve.sh), once the box is quiet
# (quiet.sh), as all.sh does. The A/B runs set HERALD_BIN to a build of the commit
# before the change and SCENARIOS to the names to run (default: all).
set -e
here=$(dirname "$0")
export OUT=${OUT:-/tmp/herald-idle} PORT=${PORT:-18090}
mkdir -p "$OUT"
# shellcheck source=quiet.sh
. "$here/quiet.sh"
# name | serve flags | bench arguments
all=(
  "idle-sse|--journal bolt|idle --transport sse -n 15000"
  "idle-ws|--journal bolt|idle --transport ws -n 15000"
  "fan-sse|--journal bolt|fanout --transport sse -n 10000 --rates 10,20,30,40 --duration 10s"
  "fan-ws|--journal bolt|fanout --transport ws -n 10000 --rates 20 --duration 10s"
  "plain-1k|--journal memory --max-selector-cost-per-address 0|fanout -n 1000 --rates 20 --duration 10s"
  "attackers|--journal memory --max-selector-cost-per-address 0|fanout -n 1000 --rates 20 --duration 10s --attackers 1000"
  "churn|--journal bolt --subscriptions|fanout -n 1000 --rates 20 --duration 10s --churn 1000 --churn-selectors 64"
  "pub-ws-mem|--journal memory --publish-rate 0|publish --transport ws -c 16 --window 64 --duration 10s"
)
scenarios=()
for s in "${all[@]}"; do
  if [ -z "$SCENARIOS" ] || [[ " $SCENARIOS " == *" ${s%%|*} "* ]]; then
    scenarios+=("$s")
  fi
done
rounds
