#!/usr/bin/env bash
# Starts the services the integration tests need: Kafka on 127.0.0.1:9092 and
# Redis on 127.0.0.1:6379 (see scripts/kafka.sh, scripts/redis.sh).
#
#   scripts/services-up.sh [--keep-data]
#
# A service that is already running is left alone (and its data kept), so
# this is idempotent. A service that is not running starts clean: its data is
# wiped first, unless --keep-data (or SERVICES_KEEP_DATA=1) is given.
# Missing packages and jars are installed first by scripts/ci-deps.sh.
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

keep="${SERVICES_KEEP_DATA:-0}"
for arg in "$@"; do
	case "$arg" in
	--keep-data) keep=1 ;;
	*) die "usage: $0 [--keep-data]" ;;
	esac
done

start=$(now_ms)
"$ROOT_DIR/scripts/ci-deps.sh"

for svc in redis kafka; do
	if "$ROOT_DIR/scripts/$svc.sh" running; then
		"$ROOT_DIR/scripts/$svc.sh" start # checks it answers, changes nothing
		continue
	fi
	[[ "$keep" == 1 ]] || "$ROOT_DIR/scripts/$svc.sh" wipe
	"$ROOT_DIR/scripts/$svc.sh" start
done

log "services up in $(($(now_ms) - start)) ms:"
log "  EVENTROUTER_TEST_KAFKA=127.0.0.1:${KAFKA_PORT:-9092}"
log "  EVENTROUTER_TEST_REDIS=127.0.0.1:${REDIS_PORT:-6379}"
