#!/bin/bash
# The cluster figures of issue 12 (docs/benchmarks.md, "several nodes on NATS
# JetStream"), from the repository's root after `make build` and
# `e2e/nats/build.sh` (nats-server built from its Go module):
#
#   OUT=/tmp/cluster docs/bench/cluster.sh                  # every series, 3 runs each
#   OUT=/tmp/cluster docs/bench/cluster.sh idle fanout      # some of them
#   OUT=/tmp/cluster RUNS=2 docs/bench/cluster.sh publish   # run 2 of a series again
#   OUT=/tmp/cluster docs/bench/cluster.sh profile publish-r1   # one run with CPU profiles of a node and of NATS
#                                               # (publish-r1, publish-r3, fanout or resume)
#   OUT=/tmp/cluster NODE_ARGS=--db=false docs/bench/cluster.sh publish   # more flags for every Herald node
#
# Series: idle (5 nodes, 90,000 subscribers), fanout (3 nodes x 5,000, and a
# single bolt node at 15,000 and 5,000), publish-r1 and publish-r3 (3 nodes,
# 16 publishers spread over them), resume (3 nodes: the subscriber leaves the
# first, 16 publishers spread over the three publish 100,000 events, it resumes
# on the second), gobench (BenchmarkAppendParallel of the JetStream and bolt journals).
#
# Each run starts its own three nats-server processes (a JetStream cluster) and
# Herald nodes on loopback, every process with its own data directory under one
# temporary directory, and stops them all when the run ends; the temporary
# directory goes when the script exits. Before each run it waits, at most 10
# minutes, for the box to be quiet (under 5 % of its CPU busy over 3 s, no go
# test, test binary, node or chromium running); a run during which other
# processes used more than 5 % of the box is run again, twice at most. $OUT keeps, per run,
# the bench's JSON report (NAME.json, its stderr in NAME.err) and NAME.meta.json:
# the Herald nodes' CPU, the NATS servers' CPU and RSS, the generator's CPU
# (its report), every other process's CPU, the load averages before.
set -euo pipefail
ulimit -n 20000

herald=${HERALD_BIN:-bin/herald}
nats=${NATS_BIN:-e2e/artifacts/nats-server}
export OUT=${OUT:-/tmp/herald-cluster}
runs=${RUNS:-1 2 3}
key=benchsecret-benchsecret-benchsecret
hz=$(getconf CLK_TCK)
nats_port=14222 route_port=16222 monitor_port=18222 node_port=18501 debug_port=18511 single_port=18500
mkdir -p "$OUT"
for f in "$herald" "$nats"; do
	[ -x "$f" ] || { echo "cluster.sh: $f is missing (make build; e2e/nats/build.sh)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/herald-cluster.XXXXXX)
nats_pids=() node_pids=()
trap 'stop_all; rm -rf "$work"' EXIT

# wait_http URL TRIES LOG: polls URL every 0.1 s until it answers 2xx; if it
# does not, shows the end of LOG, the log of the process that serves it.
wait_http() {
	for _ in $(seq "$2"); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
	echo "cluster.sh: $1 did not answer; the end of $3:" >&2
	tail -20 "$3" >&2
	return 1
}

# start_nats: three nats-server processes in one JetStream cluster.
start_nats() {
	local i routes
	for i in 0 1 2; do
		routes=$(for j in 0 1 2; do if [ "$j" != "$i" ]; then printf 'nats://127.0.0.1:%d,' $((route_port + j)); fi; done)
		mkdir -p "$work/run/nats$i"
		"$nats" -n "n$i" -a 127.0.0.1 -p $((nats_port + i)) -m $((monitor_port + i)) -js -sd "$work/run/nats$i" \
			--cluster_name herald-bench -cluster nats://127.0.0.1:$((route_port + i)) -routes "${routes%,}" \
			${NATS_PROFILE:+--profile $((monitor_port + 10 + i))} > "$work/run/nats$i.log" 2>&1 &
		nats_pids+=($!)
	done
	for i in 0 1 2; do wait_http "http://127.0.0.1:$((monitor_port + i))/healthz" 300 "$work/run/nats$i.log" || return 1; done
}

# start_nodes COUNT REPLICAS: Herald nodes on the NATS cluster, the first
# alone (it creates the stream), then the others.
start_nodes() {
	local count=$1 replicas=$2 i urls
	urls=$(for j in 0 1 2; do printf 'nats://127.0.0.1:%d,' $((nats_port + j)); done)
	for i in $(seq 0 $((count - 1))); do
		mkdir -p "$work/run/node$i"
		"$herald" serve --addr 127.0.0.1:$((node_port + i)) --nats "${urls%,}" --nats-replicas "$replicas" \
			--publisher-key "$key" --anonymous --connect-rate 0 --publish-rate 0 --log-level warn \
			--data "$work/run/node$i/h.db" ${PROFILE:+--debug-addr 127.0.0.1:$((debug_port + i))} ${NODE_ARGS:-} \
			> "$work/run/node$i.log" 2>&1 &
		node_pids+=($!)
		if [ "$i" = 0 ]; then wait_http "http://127.0.0.1:$node_port/readyz" 1200 "$work/run/node0.log" || return 1; fi
	done
	for i in $(seq 0 $((count - 1))); do wait_http "http://127.0.0.1:$((node_port + i))/readyz" 1200 "$work/run/node$i.log" || return 1; done
}

# start_single: one Herald node on its bolt journal, the default.
start_single() {
	mkdir -p "$work/run/single"
	"$herald" serve --addr 127.0.0.1:$single_port --publisher-key "$key" --anonymous --connect-rate 0 \
		--publish-rate 0 --log-level warn --data "$work/run/single/h.db" > "$work/run/single.log" 2>&1 &
	node_pids+=($!)
	wait_http "http://127.0.0.1:$single_port/readyz" 1200 "$work/run/single.log"
}

# stop_all: TERM to every process started, KILL to one still there after 15 s.
stop_all() {
	local p
	for p in "${node_pids[@]}" "${nats_pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${node_pids[@]}" "${nats_pids[@]}"; do
		for _ in $(seq 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	nats_pids=() node_pids=()
	rm -rf "$work/run"
}

# cpu PID...: their CPU time (user and system), in seconds.
cpu() {
	local p t=0
	for p in "$@"; do t=$((t + $(sed 's/.*) //' "/proc/$p/stat" | awk '{ print $12 + $13 }'))); done
	awk -v t=$t -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }'
}

# busy: the box's busy time (all but idle and iowait), in seconds.
busy() { awk -v hz="$hz" '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print (t - $5 - $6) / hz }' /proc/stat; }

# rss PID...: each one's VmRSS in kB, comma-separated.
rss() {
	local p out=
	for p in "$@"; do out+=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status"),; done
	echo "${out%,}"
}

# busy_procs lists the processes that would disturb a measurement.
busy_procs() {
	ps -eo pid=,args= | awk '{ cmd = $2; sub(/.*\//, "", cmd) }
		cmd ~ /^(node|chromium|chrome|headless_shell)$/ || cmd ~ /\.test$/ || (cmd == "go" && $3 == "test") { print $1, cmd, $3 }'
}

# quiet NAME: waits until the box is quiet (no go test, test binary, node or
# chromium running, and under 5 % of its CPU busy over 3 s), or 10 minutes,
# and logs what it saw with the load average.
quiet() {
	local start=$SECONDS load procs b0 b1
	while :; do
		b0=$(busy)
		sleep 3
		b1=$(busy)
		load=$(cut -d' ' -f1-3 /proc/loadavg)
		procs=$(busy_procs | tr '\n' ';')
		if [ -z "$procs" ] && awk -v a="$b0" -v b="$b1" 'BEGIN { exit !(b - a < 0.3) }'; then
			echo "$(date -u +%H:%M:%S) $1: quiet after $((SECONDS - start)) s, load $load" >> "$OUT/quiet.log"
			return
		fi
		if [ $((SECONDS - start)) -ge 600 ]; then
			echo "$(date -u +%H:%M:%S) $1: NOT quiet after 600 s, load $load, busy: $procs" >> "$OUT/quiet.log"
			return
		fi
	done
}

# hubs PORT COUNT: the Mercure URLs of COUNT nodes from PORT, comma-separated.
hubs() {
	local out=
	for i in $(seq 0 $(($2 - 1))); do out+=http://127.0.0.1:$(($1 + i))/.well-known/mercure,; done
	echo "${out%,}"
}

# measure NAME BENCH-ARGS...: one run of herald bench against the processes
# started (--hub and --resume-hub are in BENCH-ARGS); --pid, --key, --json
# and --quiet are added. Prints "disturbed" when others used over 5 % of the box.
measure() {
	local name=$1 load b0 h0 n0 t0 b1 h1 n1 t1 rc=0 pids
	shift
	pids=$(IFS=,; echo "${node_pids[*]}")
	load=$(cut -d' ' -f1-3 /proc/loadavg)
	b0=$(busy) h0=$(cpu "${node_pids[@]}") n0=0 t0=$(date +%s.%N)
	if [ ${#nats_pids[@]} -gt 0 ]; then n0=$(cpu "${nats_pids[@]}"); fi
	timeout 900 "$herald" bench "$@" --pid "$pids" --key "$key" --json --quiet > "$OUT/$name.json" 2> "$OUT/$name.err" || rc=$?
	b1=$(busy) h1=$(cpu "${node_pids[@]}") n1=0 t1=$(date +%s.%N)
	local nats_rss='""'
	if [ ${#nats_pids[@]} -gt 0 ]; then n1=$(cpu "${nats_pids[@]}") nats_rss="\"$(rss "${nats_pids[@]}")\""; fi
	local gen
	gen=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("bench_cpu_seconds", 0))' "$OUT/$name.json" 2>/dev/null || echo 0)
	awk -v name="$name" -v rc=$rc -v start="$(date -u -d @"${t0%.*}" +%H:%M:%S)" -v wall="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
		-v hub=$(awk -v a="$h0" -v b="$h1" 'BEGIN { print b - a }') -v nats=$(awk -v a="$n0" -v b="$n1" 'BEGIN { print b - a }') \
		-v gen="$gen" -v busy=$(awk -v a="$b0" -v b="$b1" 'BEGIN { print b - a }') -v load="$load" -v nrss="$nats_rss" -v nodes="${#node_pids[@]}" \
		'BEGIN { others = busy - hub - nats - gen
			printf "{\"name\":\"%s\",\"rc\":%d,\"start\":\"%s\",\"wall\":%.1f,\"nodes\":%d,\"hub_cpu\":%.2f,\"nats_cpu\":%.2f,\"bench_cpu\":%.2f,\"others_cpu\":%.2f,\"nats_rss_kb\":%s,\"load_before\":\"%s\"}\n",
				name, rc, start, wall, nodes, hub, nats, gen, others, nrss, load
			if (others > 0.05 * 2 * wall) print "disturbed" > "/dev/stderr" }' > "$OUT/$name.meta.json" 2> "$work/disturbed"
	cat "$OUT/$name.meta.json"
	[ ! -s "$work/disturbed" ]
}

# run NAME SETUP BENCH-ARGS...: a measured run against a fresh setup (a shell
# command that starts the processes), once the box is quiet; again, up to
# twice, when others disturbed it or the setup did not come up.
run() {
	local name=$1 setup=$2 try
	shift 2
	for try in 1 2 3; do
		quiet "$name"
		if ! $setup; then
			echo "$(date -u +%H:%M:%S) $name: the processes did not come up (try $try)" >> "$OUT/quiet.log"
			stop_all
			continue
		fi
		if measure "$name" "$@"; then stop_all; return; fi
		stop_all
		mv "$OUT/$name.json" "$OUT/$name.disturbed$try.json"
		mv "$OUT/$name.meta.json" "$OUT/$name.disturbed$try.meta.json"
		sleep 30 # what disturbed it comes in bursts
	done
}

nodes5() { start_nats && start_nodes 5 3; }
nodes3r1() { start_nats && start_nodes 3 1; }
nodes3r3() { start_nats && start_nodes 3 3; }

series_idle() {
	for i in $runs; do
		run "idle-$i" nodes5 idle -n 90000 --duration 10s --hub "$(hubs $node_port 5)"
	done
}

series_fanout() {
	for i in $runs; do
		run "fanout-3x5k-$i" nodes3r3 fanout -n 15000 --rates 20 --duration 10s --hub "$(hubs $node_port 3)"
		run "fanout-single-15k-$i" start_single fanout -n 15000 --rates 20 --duration 10s --hub "$(hubs $single_port 1)"
		run "fanout-single-5k-$i" start_single fanout -n 5000 --rates 20 --duration 10s --hub "$(hubs $single_port 1)"
	done
}

series_publish() {
	for i in $runs; do
		run "publish-r1-$i" nodes3r1 publish -c 16 --duration 10s --hub "$(hubs $node_port 3)"
		run "publish-r3-$i" nodes3r3 publish -c 16 --duration 10s --hub "$(hubs $node_port 3)"
	done
}

series_resume() {
	for i in $runs; do
		run "resume-$i" nodes3r3 resume -k 100000 -c 16 --hub "$(hubs $node_port 3)" --resume-hub "$(hubs $((node_port + 1)) 1)"
	done
}

series_gobench() {
	local i pkg
	for i in $runs; do
		for pkg in jetstream bolt; do
			quiet "gobench-$pkg-$i"
			go test -run '^$' -bench BenchmarkAppendParallel "./internal/journal/$pkg/" > "$OUT/gobench-$pkg-$i.txt" 2>&1
			grep Benchmark "$OUT/gobench-$pkg-$i.txt"
		done
	done
}

# profile RUN: one run of publish-r1, publish-r3, fanout or resume with 5 s
# CPU profiles of the first node (resume: of the node resumed on) and of the
# NATS servers, taken 3 s into the load (fanout: 8 s, once subscribed;
# resume: once the 100,000 events are stored, so that the replay is in it).
profile() {
	local name=prof-$1 setup args node=0
	case $1 in
	publish-r1) setup=nodes3r1 args=(publish -c 16 --duration 10s --hub "$(hubs $node_port 3)") ;;
	publish-r3) setup=nodes3r3 args=(publish -c 16 --duration 10s --hub "$(hubs $node_port 3)") ;;
	fanout) setup=nodes3r3 args=(fanout -n 15000 --rates 20 --duration 15s --hub "$(hubs $node_port 3)") ;;
	resume)
		setup=nodes3r3 node=1
		args=(resume -k 100000 -c 16 --hub "$(hubs $node_port 3)" --resume-hub "$(hubs $((node_port + 1)) 1)")
		;;
	*) echo "cluster.sh: profile publish-r1, publish-r3, fanout or resume" >&2; exit 2 ;;
	esac
	export PROFILE=1 NATS_PROFILE=1
	quiet "$name"
	$setup
	measure "$name" "${args[@]}" &
	local bench=$!
	case $1 in
	fanout) sleep 8 ;;
	resume)
		# The stream's messages, as the first NATS server reports them:
		# 100,001 once the resume point and the missed events are stored.
		for _ in $(seq 1200); do
			[ "$(curl -s "http://127.0.0.1:$monitor_port/jsz?streams=1" | python3 -c 'import json,sys
print(sum(s["state"]["messages"] for a in json.load(sys.stdin).get("account_details", []) for s in a.get("stream_detail", [])))')" -ge 100001 ] && break
			sleep 0.1
		done
		;;
	*) sleep 3 ;;
	esac
	local curls=()
	curl -s -o "$OUT/$name.node$node.prof" "http://127.0.0.1:$((debug_port + node))/debug/pprof/profile?seconds=5" &
	curls+=($!)
	for i in 0 1 2; do
		curl -s -o "$OUT/$name.nats$i.prof" "http://127.0.0.1:$((monitor_port + 10 + i))/debug/pprof/profile?seconds=5" &
		curls+=($!)
	done
	wait "${curls[@]}" "$bench" || true
	stop_all
	unset PROFILE NATS_PROFILE
}

if [ "${1:-}" = profile ]; then
	profile "$2"
	exit
fi
for s in "${@:-idle fanout publish resume gobench}"; do
	for t in $s; do "series_$t"; done
done
