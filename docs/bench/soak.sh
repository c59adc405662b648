#!/bin/bash
# soak.sh TRANSPORT PORT MINUTES: a fresh memory hub and a soak against it
# (docs/benchmarks.md, 2026-12-06), from the repository root after make build.
tr=$1; port=$2; min=$3
ulimit -n 20000
rm -rf data-$tr; mkdir -p data-$tr
bin/herald serve --addr 127.0.0.1:$port --publisher-key benchsecret-benchsecret-benchsecret --anonymous \
  --log-level warn --journal memory --retention-events 10000 --data data-$tr/h.db > data-$tr/log 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:$port/readyz >/dev/null && break; sleep 0.05; done
timeout $(( min*60 + 600 )) bin/herald bench soak --transport $tr -n 5000 --rate 20 --duration ${min}m --sample-every 30s \
  --hub http://127.0.0.1:$port/.well-known/mercure --key benchsecret-benchsecret-benchsecret --pid $pid --json --quiet > soak-$tr.json 2> soak-$tr.err
echo "rc=$?" >> soak-$tr.err
kill $pid
