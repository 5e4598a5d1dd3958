#!/usr/bin/env bash
# Stops the test services started by scripts/services-up.sh and checks that no
# broker or redis-server of ours is left. Safe to run when nothing runs.
# Data stays in .run/ for inspection; the next services-up wipes it.
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

rc=0
"$ROOT_DIR/scripts/kafka.sh" stop || rc=1
"$ROOT_DIR/scripts/redis.sh" stop || rc=1

if "$ROOT_DIR/scripts/kafka.sh" running; then
	log "ERROR: a Kafka broker of ours is still running"
	rc=1
fi
if "$ROOT_DIR/scripts/redis.sh" running; then
	log "ERROR: a redis-server of ours is still running"
	rc=1
fi
((rc == 0)) && log "services down"
exit "$rc"
