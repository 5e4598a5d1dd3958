#!/usr/bin/env bash
# Runs a real Redis Cluster on loopback for the cluster tests: 3 masters and 3 replicas
# (Debian's redis-server, cluster-enabled), ports $REDIS_CLUSTER_PORT.. +5 (17000–17005).
#
#   scripts/redis-cluster.sh start        start the nodes not running; create the cluster
#                                         if new; wait until every slot is served and
#                                         every master has a replica in sync
#   scripts/redis-cluster.sh stop         stop every node and delete the cluster (a later
#                                         start makes a new, empty one)
#   scripts/redis-cluster.sh kill PORT    SIGKILL one node: a crash (fault tests)
#   scripts/redis-cluster.sh status       exit 0 if the cluster serves every slot
#   scripts/redis-cluster.sh addrs        print the nodes' addresses, comma-separated
#
# Files live in .run/redis-cluster/<port>. Nothing is ever saved to disk (save "",
# appendonly no): a killed master's data survives only on its replica, as in production
# without persistence. cluster-node-timeout is 2 s so a failover takes a few seconds.
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BASE="${REDIS_CLUSTER_PORT:-17000}"
NODE_TIMEOUT_MS="${REDIS_CLUSTER_NODE_TIMEOUT_MS:-2000}"
DIR="$RUN_DIR/redis-cluster"
PORTS=()
for i in 0 1 2 3 4 5; do PORTS+=($((BASE + i))); done

cli() { redis-cli -h 127.0.0.1 -p "$1" "${@:2}"; }

# node_pid PORT prints the pid of our node on PORT (its cwd is its own dir), or nothing.
node_pid() {
	local pid
	pid=$(read_pidfile "$DIR/$1/redis.pid")
	if [[ -n "$pid" ]] && pid_matches "$pid" "redis-server" &&
		[[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" == "$DIR/$1" ]]; then
		echo "$pid"
	fi
}

start_node() {
	local port=$1 deadline
	if [[ -n "$(node_pid "$port")" ]]; then return 0; fi
	port_open 127.0.0.1 "$port" && die "127.0.0.1:$port is taken by a process that is not our cluster node"
	mkdir -p "$DIR/$port"
	rm -f "$DIR/$port/redis.pid"
	redis-server --bind 127.0.0.1 --port "$port" --protected-mode yes \
		--cluster-enabled yes --cluster-config-file nodes.conf \
		--cluster-node-timeout "$NODE_TIMEOUT_MS" \
		--daemonize yes --pidfile "$DIR/$port/redis.pid" --logfile "$DIR/$port/redis.log" \
		--dir "$DIR/$port" --save "" --appendonly no \
		</dev/null 9>&- || die "node $port failed to start; see $DIR/$port/redis.log"
	deadline=$(($(date +%s) + 10))
	until [[ "$(cli "$port" ping 2>/dev/null)" == PONG ]]; do
		(($(date +%s) < deadline)) || die "node $port did not answer PING within 10s"
		sleep 0.05
	done
}

# healthy: every node answers, the cluster is ok, and there are 3 masters each with a
# connected replica whose link is up.
healthy() {
	local port info
	for port in "${PORTS[@]}"; do
		info=$(cli "$port" cluster info 2>/dev/null) || return 1
		grep -q 'cluster_state:ok' <<<"$info" || return 1
	done
	[[ "$(cli "$BASE" cluster nodes 2>/dev/null | awk '$3 ~ /master/ && $3 !~ /fail/' | grep -c .)" == 3 ]] || return 1
	for port in "${PORTS[@]}"; do
		info=$(cli "$port" info replication 2>/dev/null) || return 1
		if grep -q 'role:slave' <<<"$info"; then
			grep -q 'master_link_status:up' <<<"$info" || return 1
		fi
	done
}

cmd_start() {
	local port start deadline addrs=()
	start=$(now_ms)
	command -v redis-server >/dev/null || die "redis-server not found: run scripts/ci-deps.sh"
	for port in "${PORTS[@]}"; do start_node "$port"; addrs+=("127.0.0.1:$port"); done
	# A node that has never been part of a cluster knows only itself.
	if [[ "$(cli "$BASE" cluster info | tr -d '\r' | sed -n 's/^cluster_known_nodes://p')" == 1 ]]; then
		log "creating the cluster (3 masters, 3 replicas)"
		redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >"$DIR/create.log" 2>&1 ||
			{ tail -n 20 "$DIR/create.log" >&2; die "redis-cli --cluster create failed"; }
	fi
	deadline=$(($(date +%s) + 60))
	until healthy; do
		(($(date +%s) < deadline)) || { cli "$BASE" cluster nodes >&2 || true; die "cluster not healthy within 60s"; }
		sleep 0.2
	done
	log "ready on 127.0.0.1:${PORTS[0]}-${PORTS[5]} in $(($(now_ms) - start)) ms"
}

cmd_stop() {
	local port pid
	for port in "${PORTS[@]}"; do
		pid=$(node_pid "$port")
		[[ -n "$pid" ]] || continue
		cli "$port" shutdown nosave >/dev/null 2>&1 || true
		stop_pid "redis-cluster node $port" "$pid" 5
	done
	rm -rf "$DIR"
	log "stopped"
}

cmd_kill() {
	local port=${1:-} pid
	[[ -n "$port" ]] || die "usage: $0 kill PORT"
	pid=$(node_pid "$port")
	[[ -n "$pid" ]] || { log "node $port not running"; return 0; }
	log "SIGKILL node $port (pid $pid)"
	kill -KILL "$pid" 2>/dev/null || true
	while pid_alive "$pid"; do sleep 0.05; done
	wait_reaped "$pid"
}

cmd_status() {
	if healthy; then
		echo "redis-cluster: ok on 127.0.0.1:${PORTS[0]}-${PORTS[5]}, dir $DIR"
	else
		echo "redis-cluster: not healthy (or not running) on 127.0.0.1:${PORTS[0]}-${PORTS[5]}"
		return 1
	fi
}

case "${1:-}" in
start | stop | kill) take_lock redis-cluster ;;
esac

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
kill) cmd_kill "${2:-}" ;;
status) cmd_status ;;
addrs) (IFS=,; echo "${PORTS[*]/#/127.0.0.1:}") ;;
*)
	echo "usage: $0 start|stop|kill PORT|status|addrs" >&2
	exit 2
	;;
esac
