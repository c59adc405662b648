#!/bin/bash
# The measured series of issue 10 (docs/benchmarks.md, 2026-12-06), from the
# repository's root after `make build`: OUT=/tmp/m docs/bench/issue10.sh
set -e
run=$(dirname "$0")/run.py
for i in 1 2 3; do
  $run idle-ws-$i --connect-rate 0 -- idle --transport ws -n 15000
  $run idle-sse-$i --connect-rate 0 -- idle --transport sse -n 15000
done
for i in 1 2 3; do
  $run fan-ws-$i --connect-rate 0 -- fanout --transport ws -n 10000 --rates 20 --duration 10s
  $run fan-sse-$i --connect-rate 0 -- fanout --transport sse -n 10000 --rates 20 --duration 10s
done
for i in 1 2 3; do
  $run pub-ws-$i --connect-rate 0 --publish-rate 0 -- publish --transport ws -c 16 --window 64 --duration 10s
done
for i in 1 2 3; do
  $run poll-5k-$i --connect-rate 0 -- fanout --transport poll -n 5000 --rates 50 --duration 10s
  $run poll-2k-$i --connect-rate 0 -- fanout --transport poll -n 2000 --rates 50 --duration 10s
done
for i in 1 2 3; do
  $run poll-5k-procs-$i --connect-rate 0 -- fanout --transport poll -n 5000 --rates 50 --duration 10s --procs 1
done
