#!/usr/bin/env bash
# Proves the quick start and the embedded database's lifecycle:
#  1. `npm start` with no configuration serves /health/ready (200) on the embedded PostgreSQL under ./.data;
#  2. SIGTERM to the app process alone drains it and stops the embedded server;
#  3. after the app is killed outright (SIGKILL, so its server is orphaned), the next start recovers;
#  that an idle app's buffered log lines still reach stdout; and that the README's walkthrough, run exactly
#  as written (scripts/readme-walkthrough.sh), works against that `npm start` and its development issuer.
set -euo pipefail
cd "$(dirname "$0")/.."
data="$(pwd)/.data/postgres"

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
log=$(mktemp)

# start <command...>: runs it in its own process group, waits for /health/ready; sets $group and $port.
start() {
  port=$(free_port)
  setsid env -u DATABASE_URL PORT="$port" "$@" >"$log" 2>&1 &
  group=$!
  for _ in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1; then return 0; fi
    pgrep -g "$group" >/dev/null || break
    sleep 1
  done
  echo "smoke: /health/ready never answered 200"; tail -40 "$log"; kill -KILL -- "-$group" 2>/dev/null || true
  return 1
}

# The node process itself, not the `sh -c` the Nest CLI wraps it in.
app_pid() { pgrep -g "$group" -f '^node .*dist/src/main' | head -1; }
postgres_running() { pgrep -f -- "-D $data" >/dev/null; }
wait_gone() { for _ in $(seq 1 30); do pgrep -g "$group" >/dev/null || return 0; sleep 1; done; return 1; }

start npm start
echo "smoke: npm start -> GET /health/ready 200 on the embedded database (port $port)"
# Logs are buffered in 4 KiB chunks; a quiet instance still writes its last lines within a second or so.
for _ in $(seq 1 10); do grep -q 'Nest application successfully started' "$log" && break; sleep 1; done
grep -q 'Nest application successfully started' "$log" || { echo "smoke: the start-up log line never reached stdout"; tail -5 "$log"; exit 1; }
echo "smoke: the last start-up log line reached stdout while the app was idle"
PORT="$port" env -u DATABASE_URL bash scripts/readme-walkthrough.sh || { tail -20 "$log"; kill -TERM "$(app_pid)"; exit 1; }
kill -TERM "$(app_pid)"
wait_gone || { echo "smoke: the app did not stop on SIGTERM"; tail -20 "$log"; exit 1; }
if postgres_running; then echo "smoke: embedded PostgreSQL still running after SIGTERM"; exit 1; fi
echo "smoke: SIGTERM to the app stopped it and the embedded database"
token=$(env -u DATABASE_URL npm run -s dev:token -- session alice)
[[ "$token" =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]] || { echo "smoke: dev:token printed more than a token"; exit 1; }
if postgres_running; then echo "smoke: dev:token left the embedded PostgreSQL running"; exit 1; fi
echo "smoke: with no app running, dev:token started the embedded database for a moment and printed one token"

start node dist/src/main.js
kill -KILL "$(app_pid)"
sleep 1
postgres_running || { echo "smoke: expected an orphaned PostgreSQL after SIGKILL"; exit 1; }
start node dist/src/main.js
echo "smoke: after SIGKILL orphaned the database, the next start recovered it (port $port)"
kill -TERM "$(app_pid)"
wait_gone || { echo "smoke: the app did not stop on SIGTERM"; exit 1; }
if postgres_running; then echo "smoke: embedded PostgreSQL still running after SIGTERM"; exit 1; fi
echo "smoke: ok"
