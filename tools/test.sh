#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs dependencies, makes sure Postgres and
# Redis run, generates the Prisma client, builds, then runs unit, integration and e2e tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export NX_NO_CLOUD=true NX_DAEMON=false

# One plain closing line on every exit path: a failed install, build, lint or type-check
# counts as one failure, and so does a test file that failed outside any test, so nobody
# reads a red run as "0 failed".
report="$(mktemp -d)/vitest.json"
step="install"
closing_line() {
  local status=$?
  if [ -s "$report" ] && node -e '
    const r = require(process.argv[1]);
    const brokenFiles = r.testResults.filter((f) => f.status === "failed" && !f.assertionResults.some((a) => a.status === "failed")).length;
    console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests + brokenFiles} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
  ' "$report" 2>/dev/null; then
    :
  elif [ "$status" -ne 0 ]; then
    echo "$step failed (exit $status)"
    echo "tests: 0 passed, 1 failed, 0 skipped"
  fi
  exit "$status"
}
trap closing_line EXIT

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

step="services"
pg_up() { (echo > /dev/tcp/127.0.0.1/5432) 2>/dev/null; }
redis_up() { (echo > /dev/tcp/127.0.0.1/6379) 2>/dev/null; }
if ! pg_up && command -v pg_ctlcluster >/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
if ! redis_up && command -v redis-server >/dev/null; then
  redis-server --daemonize yes --port 6379 --save "" --appendonly no
fi
for _ in $(seq 1 30); do pg_up && redis_up && break; sleep 1; done
pg_up || { echo "Postgres is not reachable on 127.0.0.1:5432" >&2; exit 1; }
redis_up || { echo "Redis is not reachable on 127.0.0.1:6379" >&2; exit 1; }

# Checks that need Debian tools: Compose's own validation of docker-compose.yml
# (docker-compose) and the local Redis Cluster (redis-cli, from redis-tools). Where they
# cannot be installed, those checks show as skipped.
missing=""
command -v docker-compose >/dev/null || missing="$missing docker-compose"
command -v redis-cli >/dev/null || missing="$missing redis-tools"
# The console's browser suite drives Debian's chromium (skipped without it).
[ -x /usr/bin/chromium ] || missing="$missing chromium"
if [ -n "$missing" ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  # shellcheck disable=SC2086
  { apt-get update -qq && apt-get install -y -qq $missing; } >/dev/null 2>&1 || echo "could not install$missing; the checks that need them will be skipped"
fi

step="prisma generate"; node tools/prisma-generate.mjs
step="build"; npm run --silent build
step="lint"; npx eslint . --quiet
step="format"; npx prettier --check . --log-level warn
# Type-checks the tests too (Vitest strips types without checking them).
step="type-check"; npx tsc -p tsconfig.json --noEmit
# Migrations for the test database are applied by the Vitest global setup. Every project
# runs: unit, integration, e2e and the fault suite (project `faults`, alone in its group).
step="vitest"
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@"
