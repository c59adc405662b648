#!/bin/bash
# serve.sh NAME [serve flags]: a fresh hub on 127.0.0.1:${PORT:-18090} with its own
# data directory under $OUT; its PID goes to $OUT/pid. HERALD_BIN picks the binary.
set -e
ulimit -n 20000
name=$1; shift
bin=${HERALD_BIN:-bin/herald}
rm -rf "$OUT/data-$name"; mkdir -p "$OUT/data-$name"
port=${PORT:-18090}
"$bin" serve --addr 127.0.0.1:$port --publisher-key benchsecret-benchsecret-benchsecret \
  --anonymous --log-level warn --data "$OUT/data-$name/h.db" --journal memory "$@" > "$OUT/data-$name/log" 2>&1 &
echo $! > "$OUT/pid"
for _ in $(seq 100); do curl -sf http://127.0.0.1:$port/readyz >/dev/null && exit 0; sleep 0.05; done
echo "hub did not become ready" >&2; exit 1
