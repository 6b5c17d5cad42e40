#!/usr/bin/env bash
# Proves the quick start: `npm start` with no configuration serves /health/ready (200) on the embedded
# PostgreSQL under ./.data, and SIGTERM stops the app and the database cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."

port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
log=$(mktemp)
# Its own process group, so SIGTERM reaches npm, the Nest CLI and the app together, as Ctrl-C would.
setsid env -u DATABASE_URL PORT="$port" npm start >"$log" 2>&1 &
pid=$!

ready=""
for _ in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1; then ready=yes; break; fi
  if ! kill -0 "$pid" 2>/dev/null; then break; fi
  sleep 1
done

stop() {
  kill -TERM -- "-$pid" 2>/dev/null || true
  for _ in $(seq 1 30); do pgrep -g "$pid" >/dev/null || return 0; sleep 1; done
  return 1
}

if [ -z "$ready" ]; then
  echo "smoke: /health/ready never answered 200"; tail -40 "$log"; stop || true; exit 1
fi
echo "smoke: GET /health/ready -> 200 on the embedded database (port $port)"
stop || { echo "smoke: the app did not stop on SIGTERM"; exit 1; }
sleep 2
if pgrep -f "$(pwd)/.data/postgres" >/dev/null; then
  echo "smoke: embedded PostgreSQL still running after SIGTERM"; exit 1
fi
echo "smoke: SIGTERM stopped the app and the embedded database"
