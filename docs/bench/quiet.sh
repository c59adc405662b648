# Sourced by the measuring scripts: quiet NAME waits until the box is quiet (the
# 1-minute load average below 1.5, and no go test, test binary, node or chromium
# running), for at most 10 minutes, and logs what it found to $OUT/quiet.log.

# busy lists the processes that would disturb a measurement.
busy() {
  ps -eo pid=,args= | awk '{ cmd = $2; sub(/.*\//, "", cmd) }
    cmd ~ /^(node|chromium|chrome|headless_shell)$/ || cmd ~ /\.test$/ || (cmd == "go" && $3 == "test") { print $1, cmd, $3 }'
}

quiet() {
  local name=$1 start=$SECONDS load procs
  while :; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    procs=$(busy | tr '\n' ';')
    if [ -z "$procs" ] && awk -v l="$load" 'BEGIN { exit !(l < 1.5) }'; then
      echo "$(date -u +%H:%M:%S) $name: quiet after $((SECONDS - start)) s, load $load" >> "$OUT/quiet.log"
      return
    fi
    if [ $((SECONDS - start)) -ge 600 ]; then
      echo "$(date -u +%H:%M:%S) $name: NOT quiet after 600 s, load $load, busy: $procs" >> "$OUT/quiet.log"
      return
    fi
    sleep 5
  done
}
