#!/usr/bin/env bash
# Send a signed GitHub push event for the demo repository's HEAD to a running `lockstep dev`.
# Usage: scripts/demo-push.sh [api-url] [state-dir]   (defaults: http://127.0.0.1:8000 .lockstep)
set -euo pipefail
api=${1:-http://127.0.0.1:8000}
state=${2:-.lockstep}
secret=$(cat "$state/demo-webhook-secret")
sha=$(git -C "$state/demo/shop" rev-parse HEAD)
body=$(printf '{"ref":"refs/heads/main","before":"%040d","after":"%s","deleted":false,"created":false,"repository":{"full_name":"demo/shop","name":"shop"},"pusher":{"name":"%s"},"commits":[],"head_commit":{"id":"%s"}}' 0 "$sha" "${USER:-demo}" "$sha")
signature=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$secret" | sed 's/^.* //')
curl -sS -i -X POST "$api/webhooks/github" \
  -H 'Content-Type: application/json' \
  -H 'X-GitHub-Event: push' \
  -H "X-GitHub-Delivery: demo-${sha:0:12}" \
  -H "X-Hub-Signature-256: sha256=$signature" \
  --data "$body"
echo
