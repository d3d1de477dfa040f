#!/usr/bin/env bash
# Makes sure PostgreSQL and RabbitMQ run on this machine (Debian): installs the Debian packages
# when missing, starts the services when stopped, and lets the `postgres` user connect over
# 127.0.0.1 without a password (development and CI only). Idempotent: safe to run every time.
# With --with-test-tools it also installs what the test suite needs besides the services:
# promtool (Debian package prometheus), which checks the /metrics pages, and for the browser test
# of the /ui pages Debian's chromium, node and npm, and the npm packages of tests/browser
# (`npm ci` from its committed package-lock.json, again whenever that lock file changes), and
# python3 with venv and curl for tests/openapi/check.sh.
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
log() { printf '[services] %s\n' "$*" >&2; }

apt_updated=""
install_pkg() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

ensure_postgres() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    log "installing PostgreSQL (Debian package postgresql)"
    install_pkg postgresql
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  local hba="/etc/postgresql/$version/main/pg_hba.conf"
  if [ -f "$hba" ] && ! as_root grep -q '^host all postgres 127.0.0.1/32 trust' "$hba"; then
    log "allowing passwordless local TCP connections for user postgres ($hba)"
    as_root sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
    pg_ready && as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload || true
  fi
  if ! pg_ready; then
    log "starting PostgreSQL $version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
  for _ in $(seq 1 60); do pg_ready && break; sleep 1; done
  pg_ready || { log "PostgreSQL did not become ready on 127.0.0.1:5432"; exit 1; }
}

rabbit_ready() { as_root rabbitmqctl -q status >/dev/null 2>&1; }

ensure_rabbitmq() {
  if ! command -v rabbitmq-server >/dev/null 2>&1 && [ ! -x /usr/sbin/rabbitmq-server ]; then
    log "installing RabbitMQ (Debian package rabbitmq-server)"
    install_pkg rabbitmq-server
  fi
  if ! rabbit_ready; then
    log "starting RabbitMQ"
    as_root rabbitmq-server -detached || true
  fi
  as_root timeout 120 rabbitmqctl await_startup >/dev/null 2>&1 || { log "RabbitMQ did not start"; exit 1; }
}

ensure_test_tools() {
  if ! command -v promtool >/dev/null 2>&1; then
    log "installing promtool (Debian package prometheus)"
    install_pkg prometheus
  fi
  if [ ! -x /usr/bin/chromium ]; then
    log "installing Chromium (Debian package chromium)"
    install_pkg chromium
  fi
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    log "installing node and npm (Debian packages nodejs, npm)"
    install_pkg nodejs npm
  fi
  if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || ! command -v curl >/dev/null 2>&1; then
    log "installing python3, venv and curl for the OpenAPI check (Debian packages python3-venv, curl)"
    install_pkg python3-venv curl
  fi
  local browser lock stamp
  browser="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/browser"
  lock=$(sha256sum "$browser/package-lock.json" | cut -d' ' -f1)
  stamp="$browser/node_modules/.installed-from-lock"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$lock" ]; then
    log "installing the browser test's npm packages (npm ci --prefix tests/browser)"
    # The test drives Debian's chromium: playwright-core downloads no browser of its own.
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix "$browser" --no-audit --no-fund --loglevel=error >/dev/null
    echo "$lock" >"$stamp"
  fi
}

ensure_postgres
ensure_rabbitmq
if [ "${1:-}" = "--with-test-tools" ]; then ensure_test_tools; fi
log "PostgreSQL on 127.0.0.1:5432 and RabbitMQ on 127.0.0.1:5672 are up"
