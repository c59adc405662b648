# Sourced by the measuring scripts: quiet NAME waits until the box is quiet (the
# 1-minute load average below 1.5, and no go test, test binary, node or chromium
# running), for at most 10 minutes, and logs what it found to $OUT/quiet.log;
# rounds (below) runs a script's scenarios.

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

# rounds runs the caller's array scenarios ("name|serve flags|bench arguments")
# three times over, each run (NAME-ROUND) by run.py against a fresh hub with
# --connect-rate 0, once the box is quiet. $here is the caller's directory.
rounds() {
  local i s name serve args
  for i in 1 2 3; do
    for s in "${scenarios[@]}"; do
      IFS='|' read -r name serve args <<< "$s"
      quiet "$name-$i"
      # shellcheck disable=SC2086
      "$here/run.py" "$name-$i" --connect-rate 0 $serve -- $args
    done
  done
}
