#!/usr/bin/env bash
# Runs a real redis-server (Debian's package) for the integration tests.
#
#   scripts/redis.sh start     start on 127.0.0.1:$REDIS_PORT and wait for PING
#   scripts/redis.sh stop      SHUTDOWN SAVE: writes dump.rdb, so a start brings the data back
#   scripts/redis.sh kill      SIGKILL now: a crash; everything since the last stop is lost
#   scripts/redis.sh restart   stop + start, keeping the data
#   scripts/redis.sh wipe      delete dump.rdb (refuses while running)
#   scripts/redis.sh status    exit 0 if running and answering PING, 1 otherwise
#   scripts/redis.sh running   exit 0 if our redis-server process is alive (quiet)
#
# The server never saves on its own (save "", appendonly no): tests pay no disk
# cost, and only an explicit stop persists. Files live in .run/redis.
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REDIS_PORT="${REDIS_PORT:-6379}"
REDIS_STOP_GRACE="${REDIS_STOP_GRACE:-15}"
REDIS_DIR="$RUN_DIR/redis"
PIDFILE="$REDIS_DIR/redis.pid"

# redis_pid prints the pid of our redis-server, or nothing. Ours is the one
# whose working directory is $REDIS_DIR (redis chdirs to its --dir), so a
# system Redis is never mistaken for it.
redis_pid() {
	local pid
	pid=$(read_pidfile "$PIDFILE")
	if [[ -n "$pid" ]] && pid_matches "$pid" "redis-server" &&
		[[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" == "$REDIS_DIR" ]]; then
		echo "$pid"
		return
	fi
	for pid in $(pgrep -x redis-server || true); do
		if [[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" == "$REDIS_DIR" ]]; then
			echo "$pid"
			return
		fi
	done
}

ping() {
	[[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]
}

cmd_start() {
	local pid deadline start
	start=$(now_ms)
	command -v redis-server >/dev/null || die "redis-server not found: run scripts/ci-deps.sh"
	pid=$(redis_pid)
	if [[ -n "$pid" ]]; then
		ping || die "redis-server pid $pid is alive but does not answer PING on 127.0.0.1:$REDIS_PORT"
		log "already running (pid $pid) on 127.0.0.1:$REDIS_PORT"
		return 0
	fi
	port_open 127.0.0.1 "$REDIS_PORT" &&
		die "127.0.0.1:$REDIS_PORT is taken by a process that is not our redis-server"
	mkdir -p "$REDIS_DIR"
	rm -f "$PIDFILE"
	redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --protected-mode yes \
		--daemonize yes --pidfile "$PIDFILE" --logfile "$REDIS_DIR/redis.log" \
		--dir "$REDIS_DIR" --dbfilename dump.rdb --save "" --appendonly no \
		</dev/null 9>&- || die "redis-server failed to start; see $REDIS_DIR/redis.log"
	deadline=$(($(date +%s) + 10))
	until ping; do
		if (($(date +%s) >= deadline)); then
			tail -n 20 "$REDIS_DIR/redis.log" >&2 || true
			die "redis-server did not answer PING within 10s"
		fi
		sleep 0.05
	done
	log "ready on 127.0.0.1:$REDIS_PORT in $(($(now_ms) - start)) ms (pid $(redis_pid))"
}

cmd_stop() {
	local pid deadline
	pid=$(redis_pid)
	if [[ -z "$pid" ]]; then
		rm -f "$PIDFILE"
		log "not running"
		return 0
	fi
	# SHUTDOWN SAVE writes dump.rdb even with save "", so start restores the data.
	redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown save >/dev/null 2>&1 || true
	deadline=$(($(date +%s) + REDIS_STOP_GRACE))
	while pid_alive "$pid" && (($(date +%s) < deadline)); do sleep 0.05; done
	stop_pid redis "$pid" 5
	rm -f "$PIDFILE"
	log "stopped"
}

cmd_kill() {
	local pid deadline
	pid=$(redis_pid)
	[[ -n "$pid" ]] || { log "not running"; return 0; }
	log "SIGKILL redis-server pid $pid"
	kill -KILL "$pid" 2>/dev/null || true
	deadline=$(($(date +%s) + 10))
	while pid_alive "$pid" && (($(date +%s) < deadline)); do sleep 0.05; done
	wait_reaped "$pid"
	rm -f "$PIDFILE"
}

cmd_wipe() {
	[[ -z "$(redis_pid)" ]] || die "refusing to wipe while redis-server runs; stop it first"
	rm -f "$REDIS_DIR/dump.rdb"
	log "wiped $REDIS_DIR/dump.rdb"
}

cmd_status() {
	local pid
	pid=$(redis_pid)
	if [[ -z "$pid" ]]; then
		echo "redis: stopped"
		return 1
	fi
	if ping; then
		echo "redis: running (pid $pid) on 127.0.0.1:$REDIS_PORT, dir $REDIS_DIR"
	else
		echo "redis: process $pid alive but not answering PING on 127.0.0.1:$REDIS_PORT"
		return 1
	fi
}

case "${1:-}" in
start | stop | kill | restart | wipe) take_lock redis ;;
esac

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
kill) cmd_kill ;;
restart) cmd_stop && cmd_start ;;
wipe) cmd_wipe ;;
status) cmd_status ;;
running) [[ -n "$(redis_pid)" ]] ;;
*)
	echo "usage: $0 start|stop|kill|restart|wipe|status|running" >&2
	exit 2
	;;
esac
