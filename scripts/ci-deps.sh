#!/usr/bin/env bash
# Installs what the integration tier needs on a fresh Debian machine, and does
# nothing that is already done (safe to run on every CI run):
#   - a Java runtime (17+) and Maven, for the Kafka broker;
#   - flock (util-linux), used by the scripts' locks;
#   - redis-server (and redis-cli), from Debian's package;
#   - chromium, from Debian's package, for the delivery log page's browser test;
#   - the Kafka jars pinned in deploy/local/pom.xml, copied to .run/kafka/lib.
# Non-interactive: DEBIAN_FRONTEND=noninteractive, no prompts.
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export DEBIAN_FRONTEND=noninteractive

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-cli >/dev/null || missing+=(redis-tools)
command -v java >/dev/null || missing+=(default-jre-headless) # 17 on Debian 12, 21 on 13
command -v mvn >/dev/null || missing+=(maven)
command -v flock >/dev/null || missing+=(util-linux)
command -v chromium >/dev/null || missing+=(chromium)

if ((${#missing[@]})); then
	((EUID == 0)) || die "need root to apt-get install ${missing[*]}"
	# Debian's redis-server package starts a system Redis on 6379 when a
	# service manager is present; that would steal the port from ours. A
	# policy-rc.d answering 101 tells invoke-rc.d not to start anything.
	policy=/usr/sbin/policy-rc.d
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		trap 'rm -f "$policy"' EXIT
	fi
	log "apt-get install ${missing[*]}"
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	# Belt and braces for machines whose service manager ignored policy-rc.d.
	if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
		systemctl disable --now redis-server >/dev/null 2>&1 || true
	fi
fi

redis-server --version >/dev/null || die "redis-server is not runnable"
chromium --version >/dev/null 2>&1 || die "chromium is not runnable"
java -version 2>&1 | head -1 | grep -Eq '"(1[7-9]|[2-9][0-9])' ||
	die "Kafka 4.x needs Java 17 or newer; found: $(java -version 2>&1 | head -1)"

"$ROOT_DIR/scripts/kafka.sh" fetch
log "dependencies ready"
