#!/usr/bin/env bash
# Runs a real single-node Apache Kafka (KRaft, broker+controller in one JVM)
# for the integration tests, from Maven Central jars. No Docker.
#
#   scripts/kafka.sh fetch     copy the jars pinned in deploy/local/pom.xml to .run/kafka/lib
#   scripts/kafka.sh start     start (formats the data dir only if empty) and wait until ready
#   scripts/kafka.sh stop      SIGTERM (controlled shutdown), SIGKILL after $KAFKA_STOP_GRACE s
#   scripts/kafka.sh kill      SIGKILL now: a crash, for fault-injection tests
#   scripts/kafka.sh restart   stop + start, keeping the data
#   scripts/kafka.sh wipe      delete the data dir (refuses while running)
#   scripts/kafka.sh status    exit 0 if running and answering, 1 otherwise
#   scripts/kafka.sh running   exit 0 if our broker process is alive (quiet)
#
# start and stop keep the data: a restarted broker has the same topics, offsets
# and transactions. Only wipe (used by scripts/services-up.sh) deletes them.
# Readiness is checked over the Kafka protocol by internal/tools/kafkaready.
#
# One node of a multi-broker cluster (scripts/kafka-cluster.sh) is this same
# script with its paths and identity overridden through the environment:
#   KAFKA_HEAP_OPTS    JVM heap flags (default -Xms1g -Xmx1g -Xmn512m; see below)
#   KAFKA_GC_OPTS      JVM collector and JIT flags (default -XX:+UseParallelGC
#                      -XX:TieredStopAtLevel=1; see below)
#   KAFKA_NAME         lock and log name (default kafka)
#   KAFKA_DIR          config, data, logs and pidfile (default .run/kafka)
#   KAFKA_TEMPLATE     server.properties template (default deploy/local/server.properties.tmpl)
#   KAFKA_NODE_ID      node.id (default 1)
#   KAFKA_QUORUM       controller.quorum.voters, for a static multi-node quorum
#   KAFKA_CLUSTER_ID   cluster id to format with (default: a new random one);
#                      with KAFKA_QUORUM set the format is static (no --standalone)
#   KAFKA_READY_BROKERS  ready once the metadata lists this many brokers (default 1)
# The jars always come from .run/kafka/lib (KAFKA_LIB_DIR), fetched once.
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
# A fixed heap (initial = maximum, young generation fixed at half): with a heap free to
# grow (-Xms256m -Xmx768m) the parallel collector resized it as the benchmarks' topics
# came and went, and each resize was a stop-the-world full collection ("Pause Full
# (Ergonomics)", 139-168 ms on a 2-core machine, about one per default latency
# invocation; one landing in a timed run took that run's p99 to 92 ms, the next run's
# was 49). Fixed, there were none, and half as many young collections (12 against 22-26
# per invocation, 24 ms each); p99 medians 41.8 and 37.9 ms against 40.7 and 42.9 when
# no full collection landed in a run (docs/benchmarks.md, eighth pass).
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms1g -Xmx1g -Xmn512m}"
# The parallel collector, not Kafka's G1 (-XX:+UseG1GC -XX:MaxGCPauseMillis=20), and
# HotSpot's C1 compiler alone (-XX:TieredStopAtLevel=1): this broker serves development
# and CI machines, where it shares a few cores with everything it is tested against.
# G1's concurrent work and write barriers are CPU taken from them: on a 2-core machine
# (docs/benchmarks.md, sixth pass; a fresh broker per invocation, three each,
# alternated) the steady 2 000 events/s benchmark's p99 median was 89.7, 95.0 and
# 107.2 ms with the parallel collector against 113.1, 122.7 and 147.4 ms with G1.
# C2, the optimising compiler, was the busiest thread of a freshly started broker and
# kept recompiling for minutes: 17 s of the 54 s the broker used over one default
# latency invocation (a 30 s warm-up and three runs), and the first run's broker CPU
# 6.9-7.2 s against 4.4-4.6 s for the third. With C1 alone the broker used 42-44 s,
# 4.9-5.0 s in every run from the first, and the p99 medians were 45.5 and 45.5 ms
# against 54.0 and 53.1 ms; flat-out throughput and the router's package benchmark
# were unchanged (docs/benchmarks.md, seventh pass). A production broker with a large
# heap on its own cores, running for weeks, is another matter: keep Kafka's defaults
# there.
KAFKA_GC_OPTS="${KAFKA_GC_OPTS:--XX:+UseParallelGC -XX:TieredStopAtLevel=1}"
KAFKA_READY_TIMEOUT="${KAFKA_READY_TIMEOUT:-90s}"
KAFKA_STOP_GRACE="${KAFKA_STOP_GRACE:-30}"

KAFKA_NAME="${KAFKA_NAME:-kafka}"
LOG_NAME="$KAFKA_NAME"
KAFKA_NODE_ID="${KAFKA_NODE_ID:-1}"
KAFKA_QUORUM="${KAFKA_QUORUM:-}"
KAFKA_READY_BROKERS="${KAFKA_READY_BROKERS:-1}"

DEPLOY_DIR="$ROOT_DIR/deploy/local"
KAFKA_TEMPLATE="${KAFKA_TEMPLATE:-$DEPLOY_DIR/server.properties.tmpl}"
KAFKA_DIR="${KAFKA_DIR:-$RUN_DIR/kafka}"
LIB_DIR="${KAFKA_LIB_DIR:-$RUN_DIR/kafka/lib}"
DATA_DIR="$KAFKA_DIR/data"
LOG_DIR="$KAFKA_DIR/logs"
PROPS="$KAFKA_DIR/server.properties"
PIDFILE="$KAFKA_DIR/kafka.pid"
READY_BIN="$RUN_DIR/bin/kafkaready"
BOOTSTRAP="127.0.0.1:$KAFKA_PORT"

# kafka_pid prints the pid of our broker, or nothing. The pidfile is checked
# against the command line; if it is missing, a broker started with our
# server.properties (and nobody else's) is found by that exact path.
kafka_pid() {
	local pid
	pid=$(read_pidfile "$PIDFILE")
	if [[ -n "$pid" ]] && pid_matches "$pid" "kafka.Kafka $PROPS"; then
		echo "$pid"
		return
	fi
	pgrep -f -- "kafka.Kafka $PROPS" | head -1 || true
}

cmd_fetch() {
	local want have
	want=$(sha256sum "$DEPLOY_DIR/pom.xml" | cut -d' ' -f1)
	have=$(cat "$LIB_DIR/.pom.sha256" 2>/dev/null || true)
	if [[ "$want" == "$have" ]] && compgen -G "$LIB_DIR/kafka_2.13-*.jar" >/dev/null; then
		return 0
	fi
	command -v mvn >/dev/null || die "mvn not found: run scripts/ci-deps.sh"
	log "copying Kafka jars from deploy/local/pom.xml to $LIB_DIR"
	rm -rf "$LIB_DIR.new"
	local mvn_log
	mvn_log="$(dirname "$LIB_DIR")/mvn.log"
	mkdir -p "$(dirname "$LIB_DIR")"
	# Maven writes errors to stdout: keep its output in a file, show it on failure.
	if ! mvn -B -q -f "$DEPLOY_DIR/pom.xml" dependency:copy-dependencies \
		-DoutputDirectory="$LIB_DIR.new" -DincludeScope=runtime \
		>"$mvn_log" 2>&1; then
		tail -n 40 "$mvn_log" >&2
		die "mvn dependency:copy-dependencies failed; see $mvn_log"
	fi
	rm -rf "$LIB_DIR"
	mv "$LIB_DIR.new" "$LIB_DIR"
	echo "$want" >"$LIB_DIR/.pom.sha256"
}

render_props() {
	sed -e "s#@KAFKA_PORT@#$KAFKA_PORT#g" \
		-e "s#@CONTROLLER_PORT@#$KAFKA_CONTROLLER_PORT#g" \
		-e "s#@DATA_DIR@#$DATA_DIR#g" \
		-e "s#@NODE_ID@#$KAFKA_NODE_ID#g" \
		-e "s#@QUORUM_VOTERS@#$KAFKA_QUORUM#g" \
		"$KAFKA_TEMPLATE" >"$PROPS.tmp"
	mv "$PROPS.tmp" "$PROPS"
}

format_if_empty() {
	[[ -f "$DATA_DIR/meta.properties" ]] && return 0
	local id mode=(--standalone)
	id="${KAFKA_CLUSTER_ID:-$(random_cluster_id)}"
	# A static quorum (controller.quorum.voters) is formatted without --standalone.
	[[ -z "$KAFKA_QUORUM" ]] || mode=()
	log "formatting $DATA_DIR (cluster id $id)"
	mkdir -p "$DATA_DIR"
	java -cp "$LIB_DIR/*" -Dlog4j2.configurationFile="$DEPLOY_DIR/log4j2.properties" \
		-Dkafka.logs.dir="$LOG_DIR" \
		kafka.tools.StorageTool format "${mode[@]}" -t "$id" -c "$PROPS" \
		>"$LOG_DIR/format.log" 2>&1 || {
		tail -n 20 "$LOG_DIR/format.log" >&2
		die "kafka storage format failed"
	}
	echo "$id" >"$KAFKA_DIR/cluster.id"
}

build_ready_tool() {
	mkdir -p "$(dirname "$READY_BIN")"
	# Locked: the nodes of a cluster start (and build this) concurrently.
	(cd "$ROOT_DIR" && flock "$READY_BIN.lock" go build -o "$READY_BIN" ./internal/tools/kafkaready) ||
		die "building internal/tools/kafkaready failed"
}

wait_ready() {
	local pid=$1 timeout=$2
	"$READY_BIN" -brokers "$BOOTSTRAP" -timeout "$timeout" -pid "$pid" -min-brokers "$KAFKA_READY_BROKERS" \
		-log "$LOG_DIR/server.log,$LOG_DIR/kafka.out"
}

cmd_start() {
	local pid start
	start=$(now_ms)
	pid=$(kafka_pid)
	if [[ -n "$pid" ]]; then
		build_ready_tool
		wait_ready "$pid" "$KAFKA_READY_TIMEOUT"
		log "already running (pid $pid) on $BOOTSTRAP"
		return 0
	fi
	for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
		port_open 127.0.0.1 "$port" &&
			die "127.0.0.1:$port is taken by a process that is not our broker"
	done
	command -v java >/dev/null || die "java not found: run scripts/ci-deps.sh"
	cmd_fetch
	mkdir -p "$LOG_DIR"
	render_props
	format_if_empty

	# setsid: the broker must outlive the make/shell that started it and must
	# not receive that terminal's Ctrl-C.
	# shellcheck disable=SC2086 # KAFKA_HEAP_OPTS and KAFKA_GC_OPTS are lists of JVM flags
	setsid java $KAFKA_HEAP_OPTS $KAFKA_GC_OPTS \
		-XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
		-Dlog4j2.configurationFile="$DEPLOY_DIR/log4j2.properties" \
		-Dkafka.logs.dir="$LOG_DIR" \
		-cp "$LIB_DIR/*" kafka.Kafka "$PROPS" \
		</dev/null >>"$LOG_DIR/kafka.out" 2>&1 9>&- &
	pid=$!
	echo "$pid" >"$PIDFILE"
	log "started broker pid $pid; waiting for $BOOTSTRAP (up to $KAFKA_READY_TIMEOUT)"

	# Compiling the readiness probe overlaps with the JVM's start-up.
	build_ready_tool
	if ! wait_ready "$pid" "$KAFKA_READY_TIMEOUT"; then
		cmd_stop || true
		die "Kafka did not become ready; logs in $LOG_DIR"
	fi
	log "ready on $BOOTSTRAP in $(($(now_ms) - start)) ms (pid $pid)"
}

cmd_stop() {
	local pid
	pid=$(kafka_pid)
	if [[ -z "$pid" ]]; then
		rm -f "$PIDFILE"
		log "not running"
		return 0
	fi
	stop_pid "$KAFKA_NAME" "$pid" "$KAFKA_STOP_GRACE"
	rm -f "$PIDFILE"
	log "stopped"
}

cmd_kill() {
	local pid
	pid=$(kafka_pid)
	[[ -n "$pid" ]] || { log "not running"; return 0; }
	log "SIGKILL broker pid $pid"
	kill -KILL "$pid" 2>/dev/null || true
	local deadline=$(($(date +%s) + 10))
	while pid_alive "$pid" && (($(date +%s) < deadline)); do sleep 0.1; done
	wait_reaped "$pid"
	rm -f "$PIDFILE"
}

cmd_wipe() {
	[[ -z "$(kafka_pid)" ]] || die "refusing to wipe while the broker runs; stop it first"
	rm -rf "$DATA_DIR" "$KAFKA_DIR/cluster.id"
	log "wiped $DATA_DIR"
}

cmd_status() {
	local pid
	pid=$(kafka_pid)
	if [[ -z "$pid" ]]; then
		echo "$KAFKA_NAME: stopped"
		return 1
	fi
	build_ready_tool
	if wait_ready "$pid" 3s >/dev/null 2>&1; then
		echo "$KAFKA_NAME: running (pid $pid) on $BOOTSTRAP, data $DATA_DIR"
	else
		echo "$KAFKA_NAME: process $pid alive but not answering on $BOOTSTRAP"
		return 1
	fi
}

case "${1:-}" in
fetch) take_lock kafka ;; # the jars are shared by every node
start | stop | kill | restart | wipe) take_lock "$KAFKA_NAME" ;;
esac

case "${1:-}" in
fetch) cmd_fetch ;;
start) cmd_start ;;
stop) cmd_stop ;;
kill) cmd_kill ;;
restart) cmd_stop && cmd_start ;;
wipe) cmd_wipe ;;
status) cmd_status ;;
running) [[ -n "$(kafka_pid)" ]] ;;
*)
	echo "usage: $0 fetch|start|stop|kill|restart|wipe|status|running" >&2
	exit 2
	;;
esac
