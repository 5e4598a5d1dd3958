# shellcheck shell=bash
# Common helpers for the local-services scripts. Sourced, never executed.
#
# Everything lives under $RUN_DIR (the repo's git-ignored .run/). Ports and
# paths can be overridden through the environment for unusual setups, but the
# integration tests default to 127.0.0.1:9092 (Kafka) and 127.0.0.1:6379 (Redis).

set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="${EVENTROUTER_RUN_DIR:-$ROOT_DIR/.run}"

# LOG_NAME overrides the [script] prefix (a cluster node logs as its node).
log() { printf '%s %s\n' "[${LOG_NAME:-$(basename "$0" .sh)}]" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# now_ms prints a monotonic-enough wall clock in milliseconds.
now_ms() { date +%s%3N; }

# pid_alive PID: the process exists and is not a zombie.
pid_alive() {
	local pid=$1 state
	[[ -n "$pid" ]] || return 1
	state=$(ps -o stat= -p "$pid" 2>/dev/null) || return 1
	[[ -n "$state" && "$state" != Z* ]]
}

# pid_matches PID PATTERN: the process is alive and its command line contains
# PATTERN. Guards against signalling a recycled pid from a stale pidfile.
pid_matches() {
	local pid=$1 pattern=$2
	pid_alive "$pid" || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$pattern"
}

# read_pidfile FILE prints the pid stored in FILE, or nothing.
read_pidfile() {
	if [[ -s "$1" ]]; then tr -dc '0-9' <"$1"; fi
}

# wait_reaped PID: after a process has exited, wait (at most 5 s) until its
# parent has reaped it, so that pgrep no longer lists it as a zombie. Our
# daemons are orphans reaped by pid 1, which may take a moment.
wait_reaped() {
	local pid=$1 deadline=$(($(date +%s) + 5))
	while [[ -e "/proc/$1" ]] && (($(date +%s) < deadline)); do sleep 0.05; done
	[[ -e "/proc/$pid" ]] && log "note: pid $pid exited but is not reaped yet (zombie)"
	return 0
}

# stop_pid NAME PID GRACE_SECONDS: SIGTERM, wait up to GRACE_SECONDS, then
# SIGKILL and wait (bounded) until the process is gone.
stop_pid() {
	local name=$1 pid=$2 grace=$3 deadline
	if ! pid_alive "$pid"; then
		wait_reaped "$pid"
		return 0
	fi
	log "stopping $name (pid $pid, SIGTERM, up to ${grace}s)"
	kill -TERM "$pid" 2>/dev/null || true
	deadline=$(($(date +%s) + grace))
	while pid_alive "$pid" && (($(date +%s) < deadline)); do sleep 0.2; done
	if pid_alive "$pid"; then
		log "$name did not exit within ${grace}s; SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		deadline=$(($(date +%s) + 10))
		while pid_alive "$pid" && (($(date +%s) < deadline)); do sleep 0.1; done
		pid_alive "$pid" && die "$name (pid $pid) survived SIGKILL"
	fi
	wait_reaped "$pid"
}

# port_open HOST PORT: something accepts TCP connections there.
port_open() {
	(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# take_lock NAME: serialise start/stop of one service between concurrent
# callers (two shells running services-up at once would start two brokers).
# Held on fd 9 until the script exits.
take_lock() {
	mkdir -p "$RUN_DIR"
	exec 9>"$RUN_DIR/.$1.lock"
	flock -w 180 9 || die "another $1 start/stop has held $RUN_DIR/.$1.lock for 180s"
}

# random_cluster_id prints a Kafka cluster id (16 random bytes, URL-safe
# base64 without padding, not starting with '-'), as StorageTool random-uuid
# would, without paying for a JVM start.
random_cluster_id() {
	local id
	while :; do
		id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
		[[ "$id" != -* ]] && break
	done
	echo "$id"
}
