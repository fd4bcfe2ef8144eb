#!/usr/bin/env bash
# The local default: an AWS emulator (moto server, with the harness patches)
# and a real PostgreSQL 15 with wal_level=logical, both on 127.0.0.1.
#
#   scripts/localenv.sh up       start both (idempotent), wait until ready
#   scripts/localenv.sh down     stop both
#   scripts/localenv.sh reset    wipe the emulator's state (POST /moto-api/reset)
#   scripts/localenv.sh status   say what runs where
#   scripts/localenv.sh env      print the exports that aim the AWS CLI (or any
#                                AWS SDK) at the emulator: eval "$(make -s env)"
#
# Settings (environment): SMARTSTREAM_RUN_DIR (default /tmp/smartstream-local:
# PostgreSQL refuses to run as root, so its files must be reachable by the
# postgres user, which a checkout under /root is not), SMARTSTREAM_MOTO_PORT
# (5055), SMARTSTREAM_PG_PORT (55432). Logs: $SMARTSTREAM_RUN_DIR/logs/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN_DIR=${SMARTSTREAM_RUN_DIR:-/tmp/smartstream-local}
MOTO_PORT=${SMARTSTREAM_MOTO_PORT:-5055}
PG_PORT=${SMARTSTREAM_PG_PORT:-55432}
PG_BIN=${SMARTSTREAM_PG_BIN:-/usr/lib/postgresql/15/bin}
PYTHON=${SMARTSTREAM_PYTHON:-$ROOT/.venv/bin/python}
LOG_DIR=$RUN_DIR/logs
PG_DATA=$RUN_DIR/postgres/data
PG_SOCK=$RUN_DIR/postgres/sock
MOTO_PID=$RUN_DIR/moto.pid
MOTO_URL=https://127.0.0.1:$MOTO_PORT
TLS_DIR=$RUN_DIR/tls
CA_BUNDLE=$TLS_DIR/cert.pem

log() { printf 'localenv: %s\n' "$*"; }
die() { printf 'localenv: ERROR: %s\n' "$*" >&2; exit 1; }

# Run a PostgreSQL binary as a non-root user (initdb/postgres refuse root).
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

moto_ready() { curl -fsS --cacert "$CA_BUNDLE" -o /dev/null "$MOTO_URL/moto-api/" 2>/dev/null; }

# The emulator speaks HTTPS only: the buckets' policies deny requests without
# TLS (aws:SecureTransport), and moto evaluates them as AWS does. A
# self-signed certificate for 127.0.0.1 is made once; clients trust it
# through AWS_CA_BUNDLE / aws_ca_bundle.
ensure_tls() {
  [ -s "$CA_BUNDLE" ] && [ -s "$TLS_DIR/key.pem" ] && return
  mkdir -p "$TLS_DIR"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=smartstream-local-emulator" \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -addext "basicConstraints=critical,CA:TRUE" \
    -keyout "$TLS_DIR/key.pem" -out "$CA_BUNDLE" >/dev/null 2>&1 || die "openssl could not make the certificate"
  chmod 600 "$TLS_DIR/key.pem"
  log "made a self-signed certificate for the emulator: $CA_BUNDLE"
}

moto_up() {
  if moto_ready; then
    log "emulator already answering on $MOTO_URL"
    return
  fi
  [ -x "$PYTHON" ] || die "$PYTHON missing: run 'make venv' first"
  ensure_tls
  log "starting emulator on $MOTO_URL (log: $LOG_DIR/moto.log)"
  # A simple command in the background (not a list), so $! is the server
  # itself; every stream redirected, so no caller's pipe is held open.
  cd "$ROOT"
  nohup "$PYTHON" -m emulator.server -H 127.0.0.1 -p "$MOTO_PORT" \
    -c "$CA_BUNDLE" -k "$TLS_DIR/key.pem" </dev/null >>"$LOG_DIR/moto.log" 2>&1 &
  echo $! >"$MOTO_PID"
  for _ in $(seq 1 100); do
    moto_ready && { log "emulator ready"; return; }
    kill -0 "$(cat "$MOTO_PID")" 2>/dev/null || die "emulator exited; see $LOG_DIR/moto.log"
    sleep 0.2
  done
  die "emulator not ready after 20 s; see $LOG_DIR/moto.log"
}

moto_down() {
  local pids
  pids=$( { [ -f "$MOTO_PID" ] && cat "$MOTO_PID"; pgrep -f "emulator.server -H 127.0.0.1 -p $MOTO_PORT "; } \
          2>/dev/null | sort -u | xargs -r ps -o pid= -p 2>/dev/null || true)
  if [ -z "$pids" ]; then
    log "emulator not running (by this harness)"
  else
    # shellcheck disable=SC2086
    kill $pids 2>/dev/null || true
    for _ in $(seq 1 50); do
      # shellcheck disable=SC2086
      kill -0 $pids 2>/dev/null || break
      sleep 0.1
    done
    # shellcheck disable=SC2086
    kill -9 $pids 2>/dev/null || true
    log "emulator stopped"
  fi
  rm -f "$MOTO_PID"
}

pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" 2>/dev/null; }

ensure_pg_binaries() {
  [ -x "$PG_BIN/initdb" ] && return
  log "PostgreSQL 15 server binaries missing: installing Debian package postgresql-15"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql-15 >/dev/null
  [ -x "$PG_BIN/initdb" ] || die "initdb still missing at $PG_BIN after install"
}

pg_up() {
  if pg_ready; then
    log "PostgreSQL already answering on 127.0.0.1:$PG_PORT"
    return
  fi
  ensure_pg_binaries
  mkdir -p "$PG_SOCK"
  if [ "$(id -u)" = 0 ]; then chown -R postgres: "$RUN_DIR/postgres"; fi
  if [ ! -f "$PG_DATA/PG_VERSION" ]; then
    log "initialising PostgreSQL data directory $PG_DATA"
    # Local socket: peer auth for the OS user that owns the cluster (admin
    # tasks of the harness). TCP: password auth only, as on RDS.
    as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth-local=peer \
      --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >>"$LOG_DIR/postgres-init.log" 2>&1 \
      || die "initdb failed; see $LOG_DIR/postgres-init.log"
    cat >>"$PG_DATA/postgresql.conf" <<EOF
# smartstream local default: stands in for RDS with rds.logical_replication=1
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCK'
wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
include_if_exists = 'smartstream-local.conf'
EOF
  fi
  pg_configure
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT (log: $LOG_DIR/postgres.log)"
  touch "$LOG_DIR/postgres.log"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$LOG_DIR/postgres.log"; fi
  # The port on the command line: a data directory made for another port still serves this one.
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$LOG_DIR/postgres.log" -o "-p $PG_PORT" -w -t 60 start >/dev/null \
    || die "PostgreSQL did not start; see $LOG_DIR/postgres.log"
  pg_ready || die "PostgreSQL not answering on port $PG_PORT"
  local level
  level=$(as_pg "$PG_BIN/psql" -h "$PG_SOCK" -p "$PG_PORT" -U postgres -Atc 'show wal_level')
  [ "$level" = logical ] || die "wal_level is '$level', expected 'logical'"
  log "PostgreSQL ready (wal_level=$level)"
}

# Written on every start, so an older data directory gets them too.
# TLS as on RDS with rds.force_ssl=1: TCP clients must use TLS and a password
# (the emulator's self-signed certificate serves). The admin socket accepts
# the cluster owner, and root mapped to it, for the harness and the
# rds engine of the emulator (it provisions each DB instance here).
pg_configure() {
  ensure_tls
  local tls=$RUN_DIR/postgres/tls
  mkdir -p "$tls"
  cp "$CA_BUNDLE" "$tls/server.crt"
  cp "$TLS_DIR/key.pem" "$tls/server.key"
  chmod 600 "$tls/server.key"
  cat >"$PG_DATA/smartstream-local.conf" <<EOF
ssl = on
ssl_cert_file = '$tls/server.crt'
ssl_key_file = '$tls/server.key'
ssl_min_protocol_version = 'TLSv1.2'
EOF
  cat >"$PG_DATA/pg_hba.conf" <<EOF
# smartstream local default (scripts/localenv.sh rewrites this file)
local   all   postgres                  peer map=admin
hostssl all   all       127.0.0.1/32    scram-sha-256
EOF
  cat >"$PG_DATA/pg_ident.conf" <<EOF
admin   postgres   postgres
admin   root       postgres
EOF
  if [ "$(id -u)" = 0 ]; then chown -R postgres: "$RUN_DIR/postgres"; fi
}

pg_down() {
  if [ -f "$PG_DATA/postmaster.pid" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null && log "PostgreSQL stopped"
  else
    log "PostgreSQL not running (by this harness)"
  fi
}

cmd=${1:-status}
case "$cmd" in
  up)
    mkdir -p "$LOG_DIR"
    if [ "$(id -u)" = 0 ]; then chmod 755 "$RUN_DIR"; fi
    moto_up
    pg_up
    ;;
  down)
    moto_down
    pg_down
    ;;
  reset)
    moto_ready || die "emulator not running on $MOTO_URL: run 'make up'"
    curl -fsS --cacert "$CA_BUNDLE" -X POST -o /dev/null "$MOTO_URL/moto-api/reset"
    log "emulator state wiped"
    ;;
  status)
    if moto_ready; then log "emulator: up at $MOTO_URL (CA bundle $CA_BUNDLE)"; else log "emulator: down"; fi
    if pg_ready; then log "PostgreSQL: up at 127.0.0.1:$PG_PORT"; else log "PostgreSQL: down"; fi
    log "run dir: $RUN_DIR (logs in $LOG_DIR)"
    if moto_ready && [ -d "$RUN_DIR/engines" ]; then
      "$PYTHON" -m emulator.status "$RUN_DIR"
    fi
    ;;
  env)
    # The AWS CLI (v1 >= 1.29, v2 >= 2.13) and the SDKs read AWS_ENDPOINT_URL.
    # The credentials are the emulator's deploying identity (what the local
    # inventory uses); the region is the local inventory's.
    printf 'export AWS_ENDPOINT_URL=%s\n' "$MOTO_URL"
    printf 'export AWS_CA_BUNDLE=%s\n' "$CA_BUNDLE"
    printf 'export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing\n'
    printf 'export AWS_DEFAULT_REGION=us-east-1\n'
    ;;
  *)
    die "usage: $0 up|down|reset|status|env"
    ;;
esac
