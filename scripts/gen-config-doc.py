#!/usr/bin/env python3
"""Regenerates docs/configuration.md from eventrouter.example.yaml (every key, its
environment variable, default and meaning). config's TestExampleFileDocumentsEveryKey
fails when either file misses a key."""
import re, os
os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
lines = open('eventrouter.example.yaml').read().splitlines()
stack = []; rows = []
for ln in lines:
    s = ln.strip()
    if not s or s.startswith('#') or s.startswith('- '):
        continue
    ind = len(ln) - len(ln.lstrip())
    m = re.match(r'\s*([a-z_]+):\s*(.*)$', ln)
    if not m:
        continue
    key, rest = m.groups()
    while stack and stack[-1][0] >= ind:
        stack.pop()
    val, _, comment = rest.partition('#')
    full = '.'.join([k for _, k in stack] + [key])
    if val.strip() == '':
        if key == 'catalogue':
            rows.append((full, 'the nine event names of docs/producing.md', comment.strip()))
        else:
            stack.append((ind, key))
        continue
    rows.append((full, val.strip(), comment.strip()))
out = ["# Configuration", "",
"eventrouter reads, lowest precedence first: built-in defaults, a YAML file (`--config FILE`),",
"`EVENTROUTER_*` environment variables, then command-line flags. Every key below has a default;",
"its variable is the key upper-cased with `.` → `_` and the `EVENTROUTER_` prefix",
"(`delivery.retry_schedule` → `EVENTROUTER_DELIVERY_RETRY_SCHEDULE`). Lists are comma-separated in",
"variables (`EVENTROUTER_KAFKA_BROKERS=k1:9092,k2:9092`). Durations are written `500ms`, `30s`, `5m`, `2h`.",
"",
"`eventrouter config validate -f FILE` checks a file (with the environment applied) and lists every",
"problem at once, each with its key, the bad value and what is allowed, exiting 1; a valid file",
"prints the effective configuration with secrets shown as `(redacted)`. Unknown keys in a file are",
"errors (a typo never silently falls back to a default).",
"",
"[`eventrouter.example.yaml`](../eventrouter.example.yaml) lists every key with its default.",
"This page is generated from it by `scripts/gen-config-doc.py`.",
"",
"| key | environment variable | default | meaning |", "|---|---|---|---|"]
for k, v, c in rows:
    env = 'EVENTROUTER_' + k.upper().replace('.', '_')
    c = c.replace('|', '\\|')  # a pipe in a comment would end the table cell
    out.append(f"| `{k}` | `{env}` | `{v}` | {c} |")
out += ["", "## Secrets", "",
"`kafka.sasl.password`, `redis.password`, `subscriptions.encryption_keys`, `subscriptions.encryption_key`, `api.admin_tokens` and",
"`api.account_tokens` are secrets: pass them as environment variables rather than in files; they",
"are never printed or logged.", "",
"## Flags", "",
"Every command accepts `--config`, `--brokers` (`kafka.brokers`), `--redis` (`redis.addr`),",
"`--log-level`, `--log-format` and `--ops-listen`; a flag the user sets wins over the file and the",
"environment. `eventrouter <command> --help` lists each command's own flags.", ""]
open('docs/configuration.md', 'w').write('\n'.join(out))
