#!/usr/bin/env bash
# Runs a local 3-node Apache Kafka cluster (KRaft, each node a broker and a
# controller, static quorum) for the multi-broker fault scenarios: replication
# factor 3, min.insync.replicas=2 (deploy/local/cluster.properties.tmpl). Every
# node is scripts/kafka.sh with its own directory, ports and node id, started
# from the same Maven jars (.run/kafka/lib). It never touches the single test
# broker of scripts/kafka.sh (127.0.0.1:9092/9093, .run/kafka).
#
#   scripts/kafka-cluster.sh up         start every node not running and wait until all
#                                       three are in the cluster; a cluster with no node
#                                       running starts empty (KAFKA_CLUSTER_KEEP_DATA=1 keeps it)
#   scripts/kafka-cluster.sh down       stop every node (controlled shutdown; data kept)
#   scripts/kafka-cluster.sh status     exit 0 if every node runs and answers
#   scripts/kafka-cluster.sh seeds      print the bootstrap list, host:port,host:port,...
#   scripts/kafka-cluster.sh wipe       delete the cluster's data (refuses while a node runs)
#   scripts/kafka-cluster.sh start|stop|kill|restart|status|running N
#                                       one node (1..3): stop is a controlled shutdown, kill
#                                       is SIGKILL; start waits until the node is back in the
#                                       cluster (listed by the metadata with every other
#                                       running node)
#
# Node N listens on 127.0.0.1:$((KAFKA_CLUSTER_PORT + 2(N-1))) (clients) and the
# next port (controller): 19192/19193, 19194/19195, 19196/19197 by default. Data,
# config and logs live in .run/kafka-cluster/node<N>. Each JVM gets
# KAFKA_CLUSTER_HEAP_OPTS (default -Xms256m -Xmx512m).
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KAFKA_CLUSTER_PORT="${KAFKA_CLUSTER_PORT:-19192}"
KAFKA_CLUSTER_HEAP_OPTS="${KAFKA_CLUSTER_HEAP_OPTS:--Xms256m -Xmx512m}"
KAFKA_CLUSTER_KEEP_DATA="${KAFKA_CLUSTER_KEEP_DATA:-0}"
# Three JVMs starting at once on a small, busy machine take a while.
export KAFKA_READY_TIMEOUT="${KAFKA_READY_TIMEOUT:-240s}"
CLUSTER_DIR="$RUN_DIR/kafka-cluster"
NODES=(1 2 3)

client_port() { echo $((KAFKA_CLUSTER_PORT + 2 * ($1 - 1))); }
controller_port() { echo $((KAFKA_CLUSTER_PORT + 2 * ($1 - 1) + 1)); }

quorum() {
	local n out=()
	for n in "${NODES[@]}"; do out+=("$n@127.0.0.1:$(controller_port "$n")"); done
	(IFS=,; echo "${out[*]}")
}

seeds() {
	local n out=()
	for n in "${NODES[@]}"; do out+=("127.0.0.1:$(client_port "$n")"); done
	(IFS=,; echo "${out[*]}")
}

# node N VERB [READY_BROKERS]: scripts/kafka.sh VERB as node N of this cluster.
node() {
	local n=$1 verb=$2 ready=${3:-${#NODES[@]}}
	[[ " ${NODES[*]} " == *" $n "* ]] || die "no node $n (nodes: ${NODES[*]})"
	KAFKA_NAME="kafka-node$n" \
		KAFKA_DIR="$CLUSTER_DIR/node$n" \
		KAFKA_TEMPLATE="$ROOT_DIR/deploy/local/cluster.properties.tmpl" \
		KAFKA_NODE_ID="$n" \
		KAFKA_PORT="$(client_port "$n")" \
		KAFKA_CONTROLLER_PORT="$(controller_port "$n")" \
		KAFKA_QUORUM="$(quorum)" \
		KAFKA_CLUSTER_ID="$(cat "$CLUSTER_DIR/cluster.id" 2>/dev/null || true)" \
		KAFKA_READY_BROKERS="$ready" \
		KAFKA_HEAP_OPTS="$KAFKA_CLUSTER_HEAP_OPTS" \
		"$ROOT_DIR/scripts/kafka.sh" "$verb"
}

running_nodes() {
	local n out=()
	for n in "${NODES[@]}"; do
		if node "$n" running; then out+=("$n"); fi
	done
	echo "${out[*]}"
}

# each VERB: runs node N VERB for every node at once; fails if any failed.
each() {
	local verb=$1 n rc=0 pids=()
	for n in "${NODES[@]}"; do
		node "$n" "$verb" &
		pids+=($!)
	done
	for n in "${pids[@]}"; do wait "$n" || rc=1; done
	return "$rc"
}

cmd_up() {
	local start
	start=$(now_ms)
	"$ROOT_DIR/scripts/kafka.sh" fetch # once, before the nodes start concurrently
	if [[ -z "$(running_nodes)" ]]; then
		[[ "$KAFKA_CLUSTER_KEEP_DATA" == 1 ]] || cmd_wipe
		if [[ ! -s "$CLUSTER_DIR/cluster.id" ]]; then
			mkdir -p "$CLUSTER_DIR"
			random_cluster_id >"$CLUSTER_DIR/cluster.id"
		fi
	fi
	# Concurrently: a node is ready only once a quorum of controllers runs.
	each start || {
		log "a node did not start; logs in $CLUSTER_DIR/node*/logs"
		return 1
	}
	log "cluster up in $(($(now_ms) - start)) ms: EVENTROUTER_TEST_KAFKA_CLUSTER=$(seeds)"
}

cmd_down() {
	# All at once: stopped one by one, the last node would wait out its grace
	# period for a controller quorum that no longer exists.
	local rc=0
	KAFKA_STOP_GRACE="${KAFKA_STOP_GRACE:-20}" each stop || rc=1
	[[ -z "$(running_nodes)" ]] || {
		log "ERROR: nodes still running: $(running_nodes)"
		rc=1
	}
	((rc == 0)) && log "cluster down"
	return "$rc"
}

cmd_wipe() {
	[[ -z "$(running_nodes)" ]] || die "refusing to wipe while nodes run: $(running_nodes)"
	rm -rf "$CLUSTER_DIR"
	log "wiped $CLUSTER_DIR"
}

cmd_status() {
	local n rc=0
	for n in "${NODES[@]}"; do node "$n" status || rc=1; done
	return "$rc"
}

# cmd_node VERB N: one node. A started node must be listed with every other
# running node, i.e. it has rejoined the cluster.
cmd_node() {
	local verb=$1 n=$2 others
	case "$verb" in
	start | restart)
		[[ "$verb" == restart ]] && node "$n" stop
		others=$(running_nodes)
		others=$(wc -w <<<"${others//$n/}")
		node "$n" start $((others + 1))
		;;
	*) node "$n" "$verb" ;;
	esac
}

case "${1:-}" in
up | down | wipe) take_lock kafka-cluster ;;
esac

case "${1:-}:${2:-}" in
up:) cmd_up ;;
down:) cmd_down ;;
wipe:) cmd_wipe ;;
status:) cmd_status ;;
seeds:) seeds ;;
start:?* | stop:?* | kill:?* | restart:?* | status:?* | running:?*) cmd_node "$1" "$2" ;;
*)
	echo "usage: $0 up|down|status|seeds|wipe, or start|stop|kill|restart|status|running N" >&2
	exit 2
	;;
esac
