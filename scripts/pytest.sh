#!/usr/bin/env bash
# Run pytest from the project venv; "no tests collected" (exit 5) is a failure, not a pass.
set -u
cd "$(dirname "$0")/.."
.venv/bin/pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: treating as a failure" >&2
  exit 1
fi
exit "$rc"
