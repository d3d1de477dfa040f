#!/usr/bin/env bash
# Sweep's quick start on Debian: makes sure PostgreSQL and RabbitMQ run (installing them when
# missing), builds the binaries, migrates a database, generates demo process instances, starts
# the API and two workers, and deletes with the `sweep` command line: a preview, then the batch
# followed to completion with its progress bar.
#
#   bash deploy/quickstart.sh          # everything above; leaves API and workers running
#   bash deploy/quickstart.sh stop     # stops the API and workers it started
#
# Environment: INSTANCES (demo roots, default 20000), SWEEP_PORT (API port, default 8080),
# SWEEP_DB (database name, default sweep_demo).
set -euo pipefail
cd "$(dirname "$0")/.."
run=.run
mkdir -p "$run"

stop() {
  for pidfile in "$run"/*.pid; do
    [ -e "$pidfile" ] || continue
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  done
}
if [ "${1:-}" = "stop" ]; then stop; echo "stopped"; exit 0; fi

instances=${INSTANCES:-20000}
port=${SWEEP_PORT:-8080}
db=${SWEEP_DB:-sweep_demo}
base="http://127.0.0.1:$port/engine-rest"
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

say "Services"
bash deploy/services.sh
if ! command -v curl >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then apt-get install -y -qq curl >/dev/null; else sudo apt-get install -y -qq curl >/dev/null; fi
fi
command -v cargo >/dev/null 2>&1 || { echo "Sweep builds with Rust: install a Rust toolchain (cargo) first." >&2; exit 1; }

say "Build (release)"
cargo build --release --locked -p api -p worker   # sweep-api, sweep (the CLI), sweep-worker
bin="${CARGO_TARGET_DIR:-target}/release"

stop
export SWEEP__DATABASE__URL="postgres://postgres@127.0.0.1:5432/$db"
export SWEEP__AMQP__PREFIX="sweep-demo"
export SWEEP__TELEMETRY__FORMAT="human"
if ! psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE \"$db\""
fi

say "Migrate"
"$bin/sweep-api" migrate

say "User demo/demo in group camunda-admin (as Camunda Run creates it)"
printf 'demo\n' | "$bin/sweep-api" user add demo --group camunda-admin

say "Demo data: $instances process instances"
"$bin/sweep-api" generate --instances "$instances" --seed "$(date +%s)"

say "Start the API on 127.0.0.1:$port and two workers"
SWEEP__HTTP__BIND="127.0.0.1:$port" "$bin/sweep-api" serve >"$run/api.log" 2>&1 &
echo $! >"$run/api.pid"
for n in 1 2; do
  SWEEP__HTTP__BIND="127.0.0.1:0" "$bin/sweep-worker" >"$run/worker-$n.log" 2>&1 &
  echo $! >"$run/worker-$n.pid"
done
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null || { echo "API not ready; see $run/api.log" >&2; exit 1; }

export SWEEP_URL="$base" SWEEP_USER=demo SWEEP_PASSWORD=demo
count() { curl -fsS -u demo:demo "$base/process-instance/count" | grep -o '[0-9]\+'; }
before=$(count)
echo "running process instances: $before"

say "Delete every instance of demo-process-1 and demo-process-2 with sweep"
echo "\$ sweep delete --query '{\"processDefinitionKeyIn\":[\"demo-process-1\",\"demo-process-2\"]}' --reason 'quick start clean-up' --yes"
started=$(date +%s%N)
"$bin/sweep" delete --query '{"processDefinitionKeyIn":["demo-process-1","demo-process-2"]}' \
  --reason "quick start clean-up" --yes
elapsed_ms=$(( ($(date +%s%N) - started) / 1000000 ))
after=$(count)
say "Done in ${elapsed_ms} ms: $before running instances before, $after after"
echo "API: $base (user demo, password demo)   logs: $run/   stop with: bash deploy/quickstart.sh stop"
echo "CLI: export SWEEP_USER=demo SWEEP_PASSWORD=demo; $bin/sweep batches | batch ID | watch ID | --help"
