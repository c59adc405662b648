#!/bin/bash
# The state tree's measured series (docs/benchmarks.md, "State tree"), from the
# repository's root after `make build`:
#
#   OUT=/tmp/state PORT=18390 docs/bench/state.sh            # 3 runs of each scenario
#   OUT=/tmp/state PORT=18390 docs/bench/state.sh profile    # one profiled run of each
#
# Every run is against a fresh hub (serve.sh: the bolt journal, default settings,
# --db-admin-token) and starts only once the box is quiet: the 1-minute load
# average below 1.5 and no go test, test binary, node or chromium running, waited
# for at most 10 minutes; $OUT/quiet.log says what each run found.
set -e
here=$(dirname "$0")
export OUT=${OUT:-/tmp/herald-state} PORT=${PORT:-18390}
mkdir -p "$OUT"
token=bench-admin-token
serve=(--journal bolt --db-admin-token "$token")

declare -A args=(
  [write]="db-write -c 16 --duration 10s"
  [fanout]="db-fanout -n 10000 --rates 20 --duration 10s"
  [spread]="db-spread -n 10000 -c 16 --rates 1000 --duration 10s"
  [snapshot]="db-snapshot --nodes 100000 -n 5 -c 16"
  [resume]="db-resume -k 10000 -c 16"
)
order=(write fanout spread snapshot resume)

# shellcheck source=quiet.sh
. "$here/quiet.sh"

# profiled NAME SCENARIO: one run with --debug-addr, and a 5 s CPU profile of the
# hub taken 3 s after the scenario's load starts (for db-fanout and db-spread,
# once the streams are connected).
profiled() {
  local name=$1 key=$2 delay=3
  case $key in fanout | spread) delay=8 ;; snapshot) delay=2 ;; resume) delay=1 ;; esac
  quiet "$name"
  # shellcheck disable=SC2086
  "$here/run.py" "$name" "${serve[@]}" --debug-addr 127.0.0.1:$((PORT + 1)) -- ${args[$key]} --token "$token" &
  sleep "$delay"
  curl -s -o "$OUT/$name.cpu.prof" "http://127.0.0.1:$((PORT + 1))/debug/pprof/profile?seconds=5"
  wait
}

if [ "$1" = profile ]; then
  for key in "${order[@]}"; do profiled "prof-$key" "$key"; done
  exit
fi
for i in 1 2 3; do
  for key in "${order[@]}"; do
    quiet "$key-$i"
    # shellcheck disable=SC2086
    "$here/run.py" "$key-$i" "${serve[@]}" -- ${args[$key]} --token "$token"
  done
done
