#!/usr/bin/env bash
# Runs the README's walkthrough (the sh block under "## Try it"), exactly as written, against a keysmith
# already serving on localhost:$PORT with the development issuer (`npm start` with no configuration), and
# checks its three answers: resolved, revoked, then refused. smoke-start.sh runs it against `npm start`.
set -euo pipefail
cd "$(dirname "$0")/.."
block=$(awk '/^## Try it/ { section = 1 } section && /^```sh$/ { inside = 1; next } inside && /^```$/ { exit } inside { print }' README.md)
[ -n "$block" ] || { echo "walkthrough: no sh block under '## Try it' in README.md"; exit 1; }
out=$(bash -euo pipefail -c "$block") || { echo "walkthrough: the README's commands failed:"; echo "$out"; exit 1; }
expect() { # expect <line number> <what it must contain> <why>
  sed -n "$1p" <<<"$out" | grep -qF -- "$2" || { echo "walkthrough: $3; the commands printed:"; echo "$out"; exit 1; }
}
expect 1 '"keyId"' 'the minted key did not resolve'
expect 2 '"status":"REVOKED"' 'the key was not revoked'
expect 3 '"type":"invalid_api_key"' 'the revoked key still resolved'
expect 3 '"status":401' 'the revoked key did not answer 401'
[ "$(wc -l <<<"$out")" -eq 3 ] || { echo "walkthrough: expected three answers:"; echo "$out"; exit 1; }
echo "walkthrough: minted, resolved, revoked, refused (401), as the README says"
